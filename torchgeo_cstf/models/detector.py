"""CSTFDetector: anchor-free oriented object detection with CSTF fusion.

Architecture:

- a timm trunk (any band count) gives strides 8, 16 and 32; a feature pyramid
  (lateral 1×1 convolutions, top-down sum, 3×3 smoothing) maps them to
  ``channels``;
- **cross-scale fusion**: every level but the coarsest is fused by a
  :class:`CSTFBlock` with its coarser neighbour;
- **temporal fusion** (when a co-registered ``reference`` acquisition is given):
  each level is fused with the reference's features at the same level (same
  trunk and pyramid, a separate CSTF block per level);
- a head shared across levels (rotated-FCOS style): class logits, centerness,
  the box centre's offset from the location and its log-size (both in units of
  the level's stride: sizes stay positive, and a thin object's centre may lie
  off the location) and the angle;
- training: a location is positive for an object when it lies inside the
  object's rotated box and the object's size suits the level; the smallest such
  object wins. Focal loss on classes, BCE on centerness, and ProbIoU
  (:func:`~torchgeo_cstf.models.losses.probiou_loss`) between the decoded box
  and the object's box, weighted by centerness;
- inference: score = sqrt(class probability × centerness), threshold, top-k per
  image, exact class-wise rotated NMS
  (:func:`~torchgeo_cstf.ops.batched_rotated_nms`).
"""

from __future__ import annotations

import math
from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import sigmoid_focal_loss

from ..deprecation import moved_names
from ..errors import InputError
from ..ops.boxes import canonicalize_cxcywhr
from ..ops.nms import batched_rotated_nms
from .cstf import CSTFBlock, Fusion
from .losses import probiou_loss

Targets = list[dict[str, Tensor]]
#: a detector's output: one dict per image (``boxes`` (N, 5) CXCYWHR,
#: ``scores``, ``labels``)
type BatchPredictions = list[dict[str, Tensor]]

#: object size ranges (max side, pixels) assigned to strides 8, 16 and 32
SIZE_RANGES: tuple[tuple[float, float], ...] = (
    (0.0, 64.0),
    (64.0, 160.0),
    (160.0, 1e8),
)


class Head(nn.Module):
    """Rotated-FCOS head shared across pyramid levels."""

    def __init__(self, channels: int, num_classes: int, depth: int = 2) -> None:
        """Initialise the head.

        Args:
            channels: input channels.
            num_classes: object classes.
            depth: 3×3 conv + GroupNorm + ReLU layers per branch.
        """
        super().__init__()

        def tower() -> nn.Sequential:
            layers: list[nn.Module] = []
            for _ in range(depth):
                layers += [
                    nn.Conv2d(channels, channels, 3, padding=1),
                    nn.GroupNorm(8, channels),
                    nn.ReLU(inplace=True),
                ]
            return nn.Sequential(*layers)

        self.cls_tower = tower()
        self.box_tower = tower()
        self.cls = nn.Conv2d(channels, num_classes, 3, padding=1)
        self.box = nn.Conv2d(channels, 4, 3, padding=1)
        nn.init.zeros_(self.box.weight)  # start as a one-cell box on the location
        self.angle = nn.Conv2d(channels, 1, 3, padding=1)
        self.centerness = nn.Conv2d(channels, 1, 3, padding=1)
        if self.cls.bias is not None:  # prior probability 0.01
            nn.init.constant_(self.cls.bias, -math.log(99))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Raw outputs of one level."""
        c = self.cls_tower(x)
        b = self.box_tower(x)
        return {
            'logits': self.cls(c),
            'box': self.box(b),
            'angle': self.angle(b),
            'centerness': self.centerness(b),
        }


class CSTFDetector(nn.Module):
    """Oriented detector with cross-scale and temporal CSTF fusion.

    Args:
        backbone: timm model with ``features_only`` (``resnet18``, ``resnet50``).
        in_channels: image bands.
        num_classes: object classes.
        fusion: CSTF fusion mode (``concat``, ``sum``, ``ca``, ``sca``, ``none``).
        channels: pyramid channels.
        score_threshold: minimum score of a detection.
        nms_threshold: IoU above which a lower-scoring box of the same class is
            suppressed.
        max_detections: detections kept per image.
        pretrained: start the trunk from timm's ImageNet weights (downloaded
            once into the hub cache; with ``in_channels`` other than 3 timm
            adapts the first convolution).

    Example:
        >>> import torch
        >>> from torchgeo_cstf.models import CSTFDetector
        >>> model = CSTFDetector(backbone='regnetx_002', num_classes=3).eval()
        >>> (found,) = model.predict(torch.rand(1, 3, 128, 128))
        >>> sorted(found), found['boxes'].shape[1]
        (['boxes', 'labels', 'scores'], 5)
    """

    def __init__(
        self,
        backbone: str = 'resnet18',
        in_channels: int = 3,
        num_classes: int = 3,
        fusion: Fusion = 'concat',
        channels: int = 128,
        score_threshold: float = 0.05,
        nms_threshold: float = 0.1,
        max_detections: int = 300,
        pretrained: bool = False,
    ) -> None:
        """Initialise the detector; see the class docstring for arguments."""
        super().__init__()
        if num_classes < 1:
            raise InputError('num_classes', f'must be at least 1, got {num_classes}')
        self.trunk = timm.create_model(
            backbone,
            features_only=True,
            out_indices=(2, 3, 4),
            in_chans=in_channels,
            pretrained=pretrained,
        )
        info: Any = self.trunk.feature_info
        self.strides: tuple[int, ...] = tuple(info.reduction())
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in info.channels())
        self.smooth = nn.ModuleList(
            nn.Conv2d(channels, channels, 3, padding=1) for _ in self.strides
        )
        self.cross_scale = nn.ModuleList(
            CSTFBlock(channels, fusion) for _ in self.strides[:-1]
        )
        self.temporal = nn.ModuleList(CSTFBlock(channels, fusion) for _ in self.strides)
        self.head = Head(channels, num_classes)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_detections = max_detections

    @property
    def size_multiple(self) -> int:
        """The coarsest stride: input heights and widths must be multiples of it."""
        return max(self.strides)

    def pyramid(self, image: Tensor) -> list[Tensor]:
        """Feature pyramid (strides 8, 16, 32) of an image."""
        features = self.trunk(image)
        levels = [lateral(f) for lateral, f in zip(self.lateral, features, strict=True)]
        for index in range(len(levels) - 2, -1, -1):
            levels[index] = levels[index] + F.interpolate(
                levels[index + 1], size=levels[index].shape[-2:], mode='nearest'
            )
        return [
            smooth(level) for smooth, level in zip(self.smooth, levels, strict=True)
        ]

    def forward(
        self, image: Tensor, reference: Tensor | None = None
    ) -> list[dict[str, Tensor]]:
        """Raw head outputs per level.

        Args:
            image: (B, C, H, W) normalised images (H, W multiples of
                :attr:`size_multiple`).
            reference: optional (B, C, H, W) co-registered earlier acquisitions.

        Returns:
            One dict per level: ``logits`` (B, K, h, w), ``box`` (B, 4, h, w)
            (centre offset and log-size in strides), ``angle`` (B, 1, h, w) in
            radians, ``centerness`` (B, 1, h, w).
        """
        multiple = self.size_multiple
        if image.shape[-2] % multiple or image.shape[-1] % multiple:
            raise InputError(
                'image',
                f'height and width must be multiples of {multiple}, got '
                f'{tuple(image.shape[-2:])}',
            )
        levels = self.pyramid(image)
        fused = [
            block(level, levels[i + 1])
            for i, (block, level) in enumerate(
                zip(self.cross_scale, levels, strict=False)
            )
        ] + [levels[-1]]
        if reference is not None:
            past = self.pyramid(reference)
            fused = [
                block(f, p)
                for block, f, p in zip(self.temporal, fused, past, strict=True)
            ]
        return [self.head(level) for level in fused]

    def _locations(self, outputs: list[dict[str, Tensor]]) -> tuple[Tensor, Tensor]:
        """Centres of all feature cells (L, 2) and their level index (L,)."""
        points, level_ids = [], []
        for index, (out, stride) in enumerate(zip(outputs, self.strides, strict=True)):
            h, w = out['logits'].shape[-2:]
            ys = (torch.arange(h, device=out['logits'].device) + 0.5) * stride
            xs = (torch.arange(w, device=out['logits'].device) + 0.5) * stride
            grid = torch.stack(torch.meshgrid(xs, ys, indexing='xy'), -1).reshape(-1, 2)
            points.append(grid)
            level_ids.append(torch.full((len(grid),), index, device=grid.device))
        return torch.cat(points), torch.cat(level_ids)

    @staticmethod
    def _flatten(outputs: list[dict[str, Tensor]], key: str) -> Tensor:
        """(B, L, C) float32 concatenation of one output over levels.

        Float32 also under mixed precision: the losses and the box decoding
        need it (a bfloat16 log-size is off by up to 0.4 %).
        """
        return torch.cat(
            [o[key].float().flatten(2).transpose(1, 2) for o in outputs], dim=1
        )

    @staticmethod
    def decode(points: Tensor, box: Tensor, angle: Tensor, stride: Tensor) -> Tensor:
        """CXCYWHR boxes from locations and raw box outputs.

        Args:
            points: (..., 2) locations.
            box: (..., 4) centre offset (x, y) and log width/height, in strides.
            angle: (...,) angles in radians (counter-clockwise on screen).
            stride: (...,) stride of each location's level.

        Returns:
            (..., 5) boxes (angle in degrees).
        """
        scale = stride[..., None]
        centre = points + box[..., :2] * scale
        size = torch.exp(box[..., 2:].clamp(-6.0, 8.0)) * scale
        return torch.cat((centre, size, torch.rad2deg(angle)[..., None]), dim=-1)

    def _strides(self, level_ids: Tensor, like: Tensor) -> Tensor:
        """(L,) stride of each location."""
        values = torch.tensor(self.strides, device=like.device, dtype=like.dtype)
        return values[level_ids]

    def assign(
        self, points: Tensor, level_ids: Tensor, targets: Targets
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Positive locations and their objects.

        A location is positive for an object when the object's longest side
        suits the location's level and the location lies inside the object's
        box *widened to at least one cell* (half a stride on each side of its
        axis), so that thin objects (a 4-px-wide ship at stride 8) still get
        locations; the smallest such object wins.

        Args:
            points: (L, 2) locations.
            level_ids: (L,) level of each location.
            targets: per image, ``boxes`` (N, 5) CXCYWHR and ``labels`` (N,).

        Returns:
            (B, L) object index per location (-1 = background); (B, L, 4) signed
            distances from the location to the object's left, top, right and
            bottom sides in the object's frame (negative just outside a thin
            object); (B, L) centerness targets in (0, 1] (measured in the
            widened box).
        """
        device = points.device
        size_low = torch.tensor([r[0] for r in SIZE_RANGES], device=device)[level_ids]
        size_high = torch.tensor([r[1] for r in SIZE_RANGES], device=device)[level_ids]
        strides = torch.tensor(self.strides, device=device, dtype=points.dtype)
        half_cell = strides[level_ids][:, None] / 2
        assigned, distances, centres = [], [], []
        for target in targets:
            boxes = canonicalize_cxcywhr(
                target['boxes'].to(points.dtype).reshape(-1, 5)
            )
            if len(boxes) == 0:
                assigned.append(torch.full((len(points),), -1, device=device))
                distances.append(points.new_zeros(len(points), 4))
                centres.append(points.new_zeros(len(points)))
                continue
            rad = torch.deg2rad(boxes[:, 4])
            offset = points[:, None] - boxes[None, :, :2]  # (L, N, 2)
            u = offset[..., 0] * torch.cos(rad) - offset[..., 1] * torch.sin(rad)
            v = offset[..., 0] * torch.sin(rad) + offset[..., 1] * torch.cos(rad)
            half_w, half_h = boxes[None, :, 2] / 2, boxes[None, :, 3] / 2
            sides = torch.stack((half_w + u, half_h + v, half_w - u, half_h - v), -1)
            wide_w = torch.maximum(half_w, half_cell)
            wide_h = torch.maximum(half_h, half_cell)
            wide = torch.stack((wide_w + u, wide_h + v, wide_w - u, wide_h - v), -1)
            inside = wide.amin(-1) > 0
            longest = boxes[:, 2].clamp_min(boxes[:, 3])
            suits = (longest[None] > size_low[:, None]) & (
                longest[None] <= size_high[:, None]
            )
            area = (boxes[:, 2] * boxes[:, 3])[None].expand(len(points), -1)
            area = torch.where(
                inside & suits, area, torch.full_like(area, float('inf'))
            )
            best_area, best = area.min(dim=1)
            index = torch.where(
                torch.isfinite(best_area), best, torch.full_like(best, -1)
            )
            rows = torch.arange(len(points), device=device)
            chosen = wide[rows, best].clamp_min(1e-6)
            centre = torch.sqrt(
                (chosen[:, [0, 2]].amin(-1) / chosen[:, [0, 2]].amax(-1))
                * (chosen[:, [1, 3]].amin(-1) / chosen[:, [1, 3]].amax(-1))
            )
            assigned.append(index)
            distances.append(sides[rows, best])
            centres.append(centre)
        return torch.stack(assigned), torch.stack(distances), torch.stack(centres)

    def loss(
        self, image: Tensor, targets: Targets, reference: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Training losses.

        Args:
            image: (B, C, H, W) normalised images.
            targets: per image ``boxes`` (N, 5) CXCYWHR and ``labels`` (N,) (0-based).
            reference: optional co-registered earlier acquisitions.

        Returns:
            ``loss`` and its parts ``classification``, ``box``, ``centerness``.
        """
        return self.loss_from_outputs(self(image, reference), targets)

    def loss_from_outputs(
        self, outputs: list[dict[str, Tensor]], targets: Targets
    ) -> dict[str, Tensor]:
        """Training losses of raw head outputs (see :meth:`loss`).

        Args:
            outputs: the result of :meth:`forward`.
            targets: per image ``boxes`` (N, 5) CXCYWHR and ``labels`` (N,).

        Returns:
            ``loss`` and its parts ``classification``, ``box``, ``centerness``.
        """
        points, level_ids = self._locations(outputs)
        assigned, _, centres = self.assign(points, level_ids, targets)
        logits = self._flatten(outputs, 'logits')
        positive = assigned >= 0
        classes = torch.zeros_like(logits)
        for b, target in enumerate(targets):
            if positive[b].any():
                labels = (
                    target['labels'].to(logits.device).long()[assigned[b][positive[b]]]
                )
                classes[b, positive[b].nonzero()[:, 0], labels] = 1.0
        count = positive.sum().clamp_min(1).float()
        classification = sigmoid_focal_loss(logits, classes, reduction='sum') / count
        if not positive.any():
            zero = logits.sum() * 0.0
            return {
                'loss': classification + zero,
                'classification': classification,
                'box': zero,
                'centerness': zero,
            }
        centerness_target = centres[positive]
        centerness = self._flatten(outputs, 'centerness')[..., 0][positive]
        centerness_loss = F.binary_cross_entropy_with_logits(
            centerness, centerness_target
        )
        stride = self._strides(level_ids, points)
        predicted = self.decode(
            points[None].expand(len(targets), -1, -1)[positive],
            self._flatten(outputs, 'box')[positive],
            self._flatten(outputs, 'angle')[..., 0][positive],
            stride[None].expand(len(targets), -1)[positive],
        )
        truth = torch.cat(
            [
                t['boxes'].to(predicted)[a[p]]
                for t, a, p in zip(targets, assigned, positive, strict=True)
            ]
        )
        box = (
            probiou_loss(predicted.double(), truth.double()).float() * centerness_target
        ).sum() / centerness_target.sum().clamp_min(1e-6)
        return {
            'loss': classification + box + centerness_loss,
            'classification': classification,
            'box': box,
            'centerness': centerness_loss,
        }

    @torch.no_grad()
    def predict(
        self,
        image: Tensor,
        reference: Tensor | None = None,
        score_threshold: float | None = None,
    ) -> BatchPredictions:
        """Detections per image: ``boxes`` (N, 5) CXCYWHR, ``scores``, ``labels``.

        Args:
            image: (B, C, H, W) normalised images.
            reference: optional co-registered earlier acquisitions.
            score_threshold: minimum score (default :attr:`score_threshold`).

        Returns:
            One dict per image, by decreasing score.
        """
        return self.detections_from_outputs(self(image, reference), score_threshold)

    @torch.no_grad()
    def detections_from_outputs(
        self, outputs: list[dict[str, Tensor]], score_threshold: float | None = None
    ) -> BatchPredictions:
        """Detections of raw head outputs (see :meth:`predict`).

        Args:
            outputs: the result of :meth:`forward`.
            score_threshold: minimum score (default :attr:`score_threshold`).

        Returns:
            One dict per image, by decreasing score.
        """
        threshold = self.score_threshold if score_threshold is None else score_threshold
        points, level_ids = self._locations(outputs)
        probabilities = torch.sigmoid(self._flatten(outputs, 'logits'))
        centerness = torch.sigmoid(self._flatten(outputs, 'centerness'))
        scores_all = torch.sqrt(probabilities * centerness)
        raw_boxes = self._flatten(outputs, 'box')
        stride = self._strides(level_ids, points)
        angles = self._flatten(outputs, 'angle')[..., 0]
        results = []
        for b in range(scores_all.shape[0]):
            flat = scores_all[b].flatten()
            keep = flat > threshold
            candidates = keep.nonzero()[:, 0]
            if len(candidates) > 4 * self.max_detections:
                candidates = candidates[
                    flat[candidates].topk(4 * self.max_detections).indices
                ]
            location = candidates // self.num_classes
            labels = candidates % self.num_classes
            boxes = canonicalize_cxcywhr(
                self.decode(
                    points[location],
                    raw_boxes[b, location],
                    angles[b, location],
                    stride[location],
                )
            )
            scores = flat[candidates]
            kept = batched_rotated_nms(boxes, scores, labels, self.nms_threshold)[
                : self.max_detections
            ]
            results.append(
                {'boxes': boxes[kept], 'scores': scores[kept], 'labels': labels[kept]}
            )
        return results


__getattr__ = moved_names(
    __name__, {'Detections': 'torchgeo_cstf.models.detector:BatchPredictions'}
)
