"""CSTFMatcher: cross-modal matching as classification over correspondence maps.

For a reference image and a query image (any band counts):

1. DoG keypoints are detected independently in both images
   (:class:`~torchgeo_cstf.models.keypoints.DoGKeypoints`);
2. each image goes through its own *band adapter* (a small per-modality stem
   mapping its bands to 3 channels) and a shared timm trunk (both images in one
   batch, so that its batch norms see the same mix in training and evaluation),
   giving coarse (stride 16) and fine (stride 4) features;
3. the coarse maps are fused both ways with one :class:`CSTFBlock`
   (reference ← query and query ← reference, shared weights), and the fused
   maps are added, upsampled, to the fine ones (a top-down path: the fine
   features that refine positions then carry the fused context too);
4. for every reference keypoint, its descriptor is compared with every query
   position of the coarse grid: a *correspondence map*;
5. a small fully convolutional network reads each map together with the density
   of query keypoints, so that a decision uses many regions at once, and outputs
   one logit per query cell; a learned *dustbin* logit stands for "no match";
   SoftMax over cells + dustbin makes matching a classification, trained with
   cross-entropy against the cell holding the keypoint's true position (from the
   known warp), or the dustbin when it falls outside the query or on nodata;
6. around the chosen cell, the fine features are correlated over a window of
   positions a fine stride apart, with a temperature of their own; this too is
   a classification, trained with cross-entropy against the bilinear weights
   of the true position on the window's grid, and the sub-pixel position is
   the soft-argmax around the most probable position (plus a smooth-L1 loss
   on it).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError
from .cstf import CSTFBlock, Fusion
from .keypoints import DoGKeypoints
from .structure import DEFAULT_BINS, oriented_gradients


@dataclass(frozen=True)
class Matches:
    """Correspondences between one reference and one query image.

    Attributes:
        ref_xy: (N, 2) reference positions, continuous pixel coordinates.
        query_xy: (N, 2) query positions.
        confidence: (N,) probability of each match in [0, 1].
    """

    ref_xy: Tensor
    query_xy: Tensor
    confidence: Tensor

    @classmethod
    def empty(cls) -> Matches:
        """No matches (float64 positions, as the fitted ones are)."""
        return cls(
            torch.zeros(0, 2, dtype=torch.float64),
            torch.zeros(0, 2, dtype=torch.float64),
            torch.zeros(0),
        )

    def __len__(self) -> int:
        """Number of matches."""
        return int(self.ref_xy.shape[0])

    def cpu(self) -> Matches:
        """A copy on the CPU."""
        return Matches(self.ref_xy.cpu(), self.query_xy.cpu(), self.confidence.cpu())

    def top(self, count: int) -> Matches:
        """The ``count`` most confident matches."""
        order = self.confidence.argsort(descending=True)[:count]
        return Matches(self.ref_xy[order], self.query_xy[order], self.confidence[order])


class BandAdapter(nn.Module):
    """Per-modality stem: any number of bands → the trunk's 3 input channels."""

    def __init__(self, in_channels: int, width: int = 16) -> None:
        """Initialise the stem.

        Args:
            in_channels: bands of this modality.
            width: hidden channels.
        """
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 3, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Map the bands."""
        out: Tensor = self.layers(x)
        return out


def sample_points(features: Tensor, xy: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinearly sample a feature map at image positions.

    Args:
        features: (B, D, h, w) map covering an image of ``size``.
        xy: (B, N, 2) positions in continuous pixel coordinates of that image.
        size: (H, W) of the image.

    Returns:
        (B, N, D) features.
    """
    height, width = size
    grid = torch.stack((2 * xy[..., 0] / width - 1, 2 * xy[..., 1] / height - 1), -1)
    sampled = F.grid_sample(
        features, grid[:, :, None].to(features.dtype), align_corners=False
    )
    return sampled[..., 0].transpose(1, 2)


def warp_points(warp: Tensor, xy: Tensor) -> Tensor:
    """Apply (B, 3, 3) homographies to (B, N, 2) points.

    In the points' precision, also under mixed precision (where a matrix
    product would otherwise round pixel positions to bfloat16).
    """
    with torch.autocast(xy.device.type, enabled=False):
        warp = warp.to(xy.dtype)
        homogeneous = torch.cat((xy, torch.ones_like(xy[..., :1])), -1) @ warp.mT
        return homogeneous[..., :2] / homogeneous[..., 2:].clamp_min(1e-12)


@dataclass(frozen=True)
class Correspondences:
    """What the matcher's forward pass gives its matching and training steps.

    Attributes:
        ref_xy: (B, K, 2) reference keypoints (pixels).
        ref_valid: (B, K) whether each keypoint is a real detection (an image
            with fewer than K blobs pads with zero-response ones, left out of
            the loss and of the matches).
        logits: (B, K, h·w + 1) correspondence logits over the query's coarse
            cells, the last one the dustbin ("no match").
        centres: (h·w, 2) query cell centres (pixels).
        ref_fine: (B, fine_dim, H/4, W/4) reference fine features.
        query_fine: (B, fine_dim, H'/4, W'/4) query fine features.
    """

    ref_xy: Tensor
    ref_valid: Tensor
    logits: Tensor
    centres: Tensor
    ref_fine: Tensor
    query_fine: Tensor


class CSTFMatcher(nn.Module):
    """Cross-modal matcher (see the module docstring).

    Args:
        backbone: a timm model name with ``features_only`` support (resnet18 …).
        reference_channels: bands of the reference images.
        query_channels: bands of the query images.
        fusion: CSTF fusion (``concat``, ``sum``, ``ca``, ``sca``, ``none``).
        dim: channels of the coarse descriptors.
        fine_dim: channels of the fine features.
        num_keypoints: reference (and query) keypoints per image.
        window: side of the refinement window, in fine cells.
        temperature: initial scale of the cosine similarities of the
            correspondence maps and of the refinement (each then learned).
        structure: feed each band adapter the image's dense oriented-gradient
            channels (:func:`~torchgeo_cstf.models.structure.oriented_gradients`)
            beside its bands: a modality-invariant view of its structure.

    Example:
        >>> from torchgeo_cstf.models import get_model
        >>> matcher = get_model(
        ...     'cstf_matcher_regnetx_004',
        ...     'CSTFMatcherRegNetX004_Weights.REAL_AND_SYNTHETIC',
        ... )
        >>> matcher.keypoints.num_keypoints, matcher.training
        (256, False)
    """

    def __init__(
        self,
        backbone: str = 'resnet18',
        reference_channels: int = 3,
        query_channels: int = 1,
        fusion: Fusion = 'concat',
        dim: int = 128,
        fine_dim: int = 64,
        num_keypoints: int = 256,
        window: int = 7,
        temperature: float = 0.1,
        structure: bool = False,
    ) -> None:
        """Initialise the matcher; see the class docstring for arguments."""
        super().__init__()
        if window < 3 or window % 2 == 0:
            raise InputError('window', f'must be an odd number >= 3, got {window}')
        extra = DEFAULT_BINS if structure else 0
        self.structure = structure
        self.adapters = nn.ModuleDict(
            {
                'reference': BandAdapter(reference_channels + extra),
                'query': BandAdapter(query_channels + extra),
            }
        )
        self.trunk = timm.create_model(
            backbone, features_only=True, out_indices=(1, 3), pretrained=False
        )
        info: Any = self.trunk.feature_info
        fine_channels, coarse_channels = info.channels()
        self.fine_stride, self.coarse_stride = info.reduction()
        self.coarse = nn.Conv2d(coarse_channels, dim, 1)
        self.fine = nn.Conv2d(fine_channels, fine_dim, 1)
        self.lift = nn.Conv2d(dim, fine_dim, 1)
        self.fuse = CSTFBlock(dim, fusion)
        self.keypoints = DoGKeypoints(num_keypoints)
        self.maps = nn.Sequential(
            nn.Conv2d(2, 16, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 16, 3, padding=2, dilation=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 1, 3, padding=1),
        )
        self.dustbin = nn.Parameter(torch.tensor(1.0))
        self.log_scale = nn.Parameter(torch.tensor(-math.log(temperature)))
        self.fine_log_scale = nn.Parameter(torch.tensor(-math.log(temperature)))
        self.window = window

    def _adapter_bands(self, which: str) -> int:
        extra = DEFAULT_BINS if self.structure else 0
        return int(next(self.adapters[which].parameters()).shape[1]) - extra

    @property
    def reference_channels(self) -> int:
        """Bands of the reference images (without the structure channels)."""
        return self._adapter_bands('reference')

    @property
    def query_channels(self) -> int:
        """Bands of the query images (without the structure channels)."""
        return self._adapter_bands('query')

    @property
    def size_multiple(self) -> int:
        """The coarsest stride: pad inputs to multiples of it (whole coarse cells)."""
        return int(self.coarse_stride)

    @property
    def bands(self) -> dict[str, int]:
        """Deprecated: :attr:`reference_channels` and :attr:`query_channels`."""
        warnings.warn(
            'CSTFMatcher.bands is deprecated: use reference_channels and '
            'query_channels; it goes in the next release',
            DeprecationWarning,
            stacklevel=2,
        )
        return {'reference': self.reference_channels, 'query': self.query_channels}

    def stem(self, image: Tensor, which: str) -> Tensor:
        """The band adapter of ``which`` image, after the structure channels."""
        if self.structure:
            image = torch.cat((image, oriented_gradients(image)), dim=1)
        out: Tensor = self.adapters[which](image)
        return out

    def encode(self, image: Tensor, which: str) -> tuple[Tensor, Tensor]:
        """Coarse (B, dim, H/16, W/16) and fine (B, fine_dim, H/4, W/4) features."""
        fine, coarse = self.trunk(self.stem(image, which))
        return self.coarse(coarse), self.fine(fine)

    def encode_pair(
        self, reference: Tensor, query: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Coarse and fine features of both images, from one trunk pass if possible.

        The trunk's batch norms then see reference and query together, in training
        as in evaluation: with separate passes they would normalise each modality
        by its own batch statistics in training but by running statistics mixing
        both modalities in evaluation, and the features would shift between the
        two (measured: +0.3 to +0.7 nats of validation cross-entropy).

        Args:
            reference: (B, C_ref, H, W).
            query: (B, C_query, H', W').

        Returns:
            Reference coarse and fine, query coarse and fine features.
        """
        if reference.shape[-2:] != query.shape[-2:]:
            return (*self.encode(reference, 'reference'), *self.encode(query, 'query'))
        stems = torch.cat(
            (self.stem(reference, 'reference'), self.stem(query, 'query'))
        )
        fine, coarse = self.trunk(stems)
        b = reference.shape[0]
        coarse, fine = self.coarse(coarse), self.fine(fine)
        return coarse[:b], fine[:b], coarse[b:], fine[b:]

    def _top_down(self, fused: Tensor, fine: Tensor) -> Tensor:
        """Fused coarse features projected and upsampled to the fine grid."""
        return F.interpolate(
            self.lift(fused), size=fine.shape[-2:], mode='bilinear', align_corners=False
        )

    def _density(
        self, xy: Tensor, weight: Tensor, grid: tuple[int, int], size: tuple[int, int]
    ) -> Tensor:
        """Keypoint response per coarse cell, normalised to a maximum of 1."""
        h, w = grid
        col = (xy[..., 0] * w / size[1]).long().clamp(0, w - 1)
        row = (xy[..., 1] * h / size[0]).long().clamp(0, h - 1)
        density = torch.zeros(xy.shape[0], h * w, device=xy.device, dtype=weight.dtype)
        density.scatter_add_(1, row * w + col, weight)
        density = density / density.amax(dim=1, keepdim=True).clamp_min(1e-12)
        return density.reshape(-1, 1, h, w)

    def _cell_centres(
        self, grid: tuple[int, int], size: tuple[int, int], like: Tensor
    ) -> Tensor:
        h, w = grid
        ys = (torch.arange(h, device=like.device, dtype=like.dtype) + 0.5) * size[0] / h
        xs = (torch.arange(w, device=like.device, dtype=like.dtype) + 0.5) * size[1] / w
        return torch.stack(torch.meshgrid(xs, ys, indexing='xy'), -1).reshape(-1, 2)

    def forward(self, reference: Tensor, query: Tensor) -> Correspondences:
        """Correspondence logits and what refinement needs.

        Args:
            reference: (B, C_ref, H, W) in [0, 1].
            query: (B, C_query, H', W') in [0, 1].

        Returns:
            The keypoints, their correspondence logits and the fine features
            (see :class:`Correspondences`); :meth:`match` turns them into
            matches.
        """
        ref_size = (reference.shape[-2], reference.shape[-1])
        query_size = (query.shape[-2], query.shape[-1])
        ref_xy, ref_response, query_xy, query_response = self.keypoints.detect_pair(
            reference, query
        )
        ref_coarse, ref_fine, query_coarse, query_fine = self.encode_pair(
            reference, query
        )
        ref_fused = self.fuse(ref_coarse, query_coarse)
        query_fused = self.fuse(query_coarse, ref_coarse)
        ref_fine = ref_fine + self._top_down(ref_fused, ref_fine)
        query_fine = query_fine + self._top_down(query_fused, query_fine)
        b, _, h, w = query_fused.shape
        descriptors = F.normalize(sample_points(ref_fused, ref_xy, ref_size), dim=-1)
        candidates = F.normalize(query_fused.flatten(2), dim=1)
        similarity = torch.einsum('bkd,bdn->bkn', descriptors, candidates)
        k = similarity.shape[1]
        density = self._density(query_xy, query_response, (h, w), query_size)
        maps = torch.cat(
            (similarity.reshape(b * k, 1, h, w), density.repeat_interleave(k, dim=0)),
            dim=1,
        )
        scale = self.log_scale.exp()
        cells = (self.maps(maps).reshape(b, k, h * w) + similarity) * scale
        logits = torch.cat((cells, self.dustbin.expand(b, k, 1) * scale), dim=-1)
        return Correspondences(
            ref_xy=ref_xy,
            ref_valid=ref_response > 0,
            logits=logits,
            centres=self._cell_centres((h, w), query_size, ref_xy),
            ref_fine=ref_fine,
            query_fine=query_fine,
        )

    def window_logits(
        self,
        out: Correspondences,
        centres: Tensor,
        ref_size: tuple[int, int],
        query_size: tuple[int, int],
    ) -> tuple[Tensor, Tensor]:
        """Correlation logits of each keypoint over its refinement window.

        Args:
            out: output of :meth:`forward`.
            centres: (B, K, 2) query positions to refine around.
            ref_size: (H, W) of the reference.
            query_size: (H, W) of the query.

        Returns:
            (B, K, S², 2) window positions (S = ``window``, row-major, a fine
            stride apart) and (B, K, S²) logits.
        """
        b, k, _ = centres.shape
        ref_desc = F.normalize(
            sample_points(out.ref_fine, out.ref_xy, ref_size), dim=-1
        )
        steps = (
            torch.arange(self.window, device=centres.device, dtype=centres.dtype)
            - (self.window - 1) / 2
        ) * self.fine_stride
        offsets = torch.stack(torch.meshgrid(steps, steps, indexing='xy'), -1).reshape(
            -1, 2
        )
        positions = centres[:, :, None] + offsets[None, None]  # (B, K, S², 2)
        window = sample_points(out.query_fine, positions.reshape(b, -1, 2), query_size)
        window = F.normalize(window.reshape(b, k, -1, window.shape[-1]), dim=-1)
        logits = (window * ref_desc[:, :, None]).sum(-1) * self.fine_log_scale.exp()
        return positions, logits

    def refine(
        self,
        out: Correspondences,
        centres: Tensor,
        ref_size: tuple[int, int],
        query_size: tuple[int, int],
    ) -> Tensor:
        """Sub-pixel query positions: a soft-argmax around the window's peak.

        The expectation is taken over the 3×3 window positions around the most
        probable one, so a second mode elsewhere in the window cannot pull the
        position towards the window's centre.

        Args:
            out: output of :meth:`forward`.
            centres: (B, K, 2) query positions to refine around.
            ref_size: (H, W) of the reference.
            query_size: (H, W) of the query.

        Returns:
            (B, K, 2) refined query positions.
        """
        positions, logits = self.window_logits(out, centres, ref_size, query_size)
        side = self.window
        peak = logits.argmax(dim=-1)
        index = torch.arange(side * side, device=logits.device)
        rows, cols = index // side, index % side
        near = ((rows - (peak // side)[..., None]).abs() <= 1) & (
            (cols - (peak % side)[..., None]).abs() <= 1
        )
        weights = torch.softmax(logits.masked_fill(~near, float('-inf')), dim=-1)
        return (weights[..., None] * positions).sum(dim=2)

    def window_targets(self, centres: Tensor, truth: Tensor) -> Tensor:
        """Soft classes over the window: bilinear weights of the true position.

        Args:
            centres: (B, K, 2) window centres.
            truth: (B, K, 2) true query positions.

        Returns:
            (B, K, S²) weights of the four window positions around the truth
            (clamped into the window), summing to 1.
        """
        side = self.window
        grid = (truth - centres) / self.fine_stride + (side - 1) / 2
        grid = grid.clamp(0, side - 1)
        low = grid.floor().clamp_max(side - 2)
        frac = grid - low
        targets = torch.zeros(*centres.shape[:2], side * side, dtype=truth.dtype)
        targets = targets.to(truth.device)
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            wx = frac[..., 0] if dx else 1 - frac[..., 0]
            wy = frac[..., 1] if dy else 1 - frac[..., 1]
            cell = (low[..., 1] + dy) * side + (low[..., 0] + dx)
            targets.scatter_add_(2, cell.long()[..., None], (wx * wy)[..., None])
        return targets

    def targets(
        self, out: Correspondences, warp: Tensor, query_valid: Tensor
    ) -> tuple[Tensor, Tensor]:
        """True query positions and classes (cell index, or the dustbin).

        Args:
            out: output of :meth:`forward`.
            warp: (B, 3, 3) reference → query pixel warps.
            query_valid: (B, H', W') query pixels holding data.

        Returns:
            (B, K, 2) true query positions and (B, K) int64 classes.
        """
        truth = warp_points(warp, out.ref_xy)
        height, width = query_valid.shape[-2:]
        h_cells = -(-height // self.coarse_stride)
        w_cells = (out.logits.shape[-1] - 1) // h_cells
        x, y = truth[..., 0], truth[..., 1]
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        col = x.clamp(0, width - 1e-3).long()
        row = y.clamp(0, height - 1e-3).long()
        on_data = query_valid.flatten(1).gather(1, row * width + col)
        keep = inside & on_data
        cell = (row * h_cells // height) * w_cells + (col * w_cells // width)
        classes = torch.where(keep, cell, torch.full_like(cell, h_cells * w_cells))
        return truth, classes

    def loss(
        self,
        reference: Tensor,
        query: Tensor,
        warp: Tensor,
        query_valid: Tensor,
        refine_weight: float = 1.0,
    ) -> dict[str, Tensor]:
        """Training losses for a batch of pairs with known warps.

        Args:
            reference: (B, C_ref, H, W).
            query: (B, C_query, H', W').
            warp: (B, 3, 3) reference → query warps.
            query_valid: (B, H', W') query validity.
            refine_weight: weight of the refinement loss.

        Returns:
            ``loss`` (total), ``classification``, ``refinement`` and
            ``accuracy`` (share of keypoints whose argmax class is right), all
            over real detections only (``ref_valid``).
        """
        ref_size = (reference.shape[-2], reference.shape[-1])
        query_size = (query.shape[-2], query.shape[-1])
        out = self(reference, query)
        truth, classes = self.targets(out, warp, query_valid)
        logits = out.logits
        valid = out.ref_valid
        dustbin = logits.shape[-1] - 1
        entropy = F.cross_entropy(logits.transpose(1, 2), classes, reduction='none')
        weight = valid.to(entropy.dtype)
        classification = (entropy * weight).sum() / weight.sum().clamp_min(1.0)
        matched = (classes != dustbin) & valid
        if matched.any():
            centres = out.centres[classes.clamp_max(dustbin - 1)]
            _, window = self.window_logits(out, centres, ref_size, query_size)
            soft = self.window_targets(centres, truth).to(window.dtype)
            refinement = -(soft * F.log_softmax(window, dim=-1)).sum(-1)[
                matched
            ].mean() + F.smooth_l1_loss(
                self.refine(out, centres, ref_size, query_size)[matched]
                / self.fine_stride,
                truth[matched] / self.fine_stride,
            )
        else:
            refinement = logits.sum() * 0.0
        correct = (logits.argmax(-1) == classes).to(weight.dtype)
        accuracy = (correct * weight).sum() / weight.sum().clamp_min(1.0)
        return {
            'loss': classification + refine_weight * refinement,
            'classification': classification,
            'refinement': refinement,
            'accuracy': accuracy,
        }

    @torch.no_grad()
    def match(
        self, reference: Tensor, query: Tensor, min_confidence: float = 0.2
    ) -> list[Matches]:
        """Match a batch of pairs.

        Args:
            reference: (B, C_ref, H, W) in [0, 1].
            query: (B, C_query, H', W') in [0, 1].
            min_confidence: drop matches less probable than this.

        Returns:
            One :class:`Matches` per pair.
        """
        ref_size = (reference.shape[-2], reference.shape[-1])
        query_size = (query.shape[-2], query.shape[-1])
        out = self(reference, query)
        probabilities = torch.softmax(out.logits.float(), dim=-1)
        confidence, cell = probabilities.max(dim=-1)
        dustbin = probabilities.shape[-1] - 1
        refined = self.refine(
            out, out.centres[cell.clamp_max(dustbin - 1)], ref_size, query_size
        )
        keep = (cell != dustbin) & (confidence >= min_confidence) & out.ref_valid
        return [
            Matches(out.ref_xy[i][keep[i]], refined[i][keep[i]], confidence[i][keep[i]])
            for i in range(reference.shape[0])
        ]
