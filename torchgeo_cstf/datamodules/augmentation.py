"""Batch augmentation for images with oriented boxes, and detection collation.

Kornia augments the images; the geometric transform it applied (its
``transform_matrix``) is then applied to the corners of every CXCYWHR box, and the
tightest rectangle around the mapped corners becomes the new box. Boxes that end
up mostly outside the image are dropped together with their labels and flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import kornia.augmentation as K
import torch
from torch import Tensor, nn

from ..errors import InputError
from ..ops.boxes import cxcywhr_to_xyxy, transform_cxcywhr
from ..ops.iou import rotated_box_iof

#: per-box keys that follow the boxes when some are dropped
PER_BOX_KEYS: tuple[str, ...] = ('label', 'difficult', 'id')

# kornia puts pixel centres on integers, torchgeo-cstf on +0.5
_TO_KORNIA = torch.tensor([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
_FROM_KORNIA = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])


def visible_share(boxes: Tensor, height: int, width: int) -> Tensor:
    """Share of each box's area inside an image of the given size.

    Args:
        boxes: (N, 5) CXCYWHR boxes.
        height: image rows.
        width: image columns.

    Returns:
        (N,) values in [0, 1] (0 for degenerate boxes).
    """
    if boxes.shape[0] == 0:
        return boxes.new_zeros(0)
    frame = torch.tensor(
        [[width / 2, height / 2, float(width), float(height), 0.0]],
        dtype=boxes.dtype,
        device=boxes.device,
    )
    return rotated_box_iof(boxes, frame)[:, 0]


class RotatedBoxAugmentation(nn.Module):
    """Apply kornia augmentations to ``image`` and carry ``bbox`` along.

    The batch is a dict with ``image`` (B, C, H, W) and ``bbox``, a list of B
    (N_i, 5) CXCYWHR tensors; per-box lists (``label``, ``difficult``, ``id``)
    are filtered with the boxes; ``bbox_xyxy`` (enclosing horizontal boxes) is
    recomputed when present. Any kornia augmentation whose geometry is a 3×3
    matrix works: flips, :class:`~kornia.augmentation.RandomRotation90`,
    :class:`~kornia.augmentation.RandomRotation`,
    :class:`~kornia.augmentation.RandomAffine` (scale, shear), resizing, and
    any intensity augmentation.

    Images listed in ``image_keys`` (default ``image`` and ``reference``, a
    co-registered earlier acquisition) all get the same transform.

    Args:
        *augmentations: kornia augmentation modules, applied in order.
        min_visible: drop a box when less than this share of it stays inside.
        image_keys: batch keys of images to transform together; the first must
            be present, the others are used when present.
    """

    def __init__(
        self,
        *augmentations: K.AugmentationBase2D,
        min_visible: float = 0.5,
        image_keys: Sequence[str] = ('image', 'reference'),
    ) -> None:
        """Initialise the augmentation; see the class docstring."""
        super().__init__()
        if not 0.0 <= min_visible <= 1.0:
            raise InputError('min_visible', f'must be in [0, 1], got {min_visible}')
        if not image_keys:
            raise InputError('image_keys', 'needs at least one key')
        self.sequence = K.AugmentationSequential(*augmentations, data_keys=['input'])
        self.min_visible = min_visible
        self.image_keys = tuple(image_keys)

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Augment a batch (a new dict is returned; the input is not modified).

        Args:
            batch: see the class docstring.

        Returns:
            The augmented batch.
        """
        keys = [k for k in self.image_keys if k in batch]
        image = batch[keys[0]]
        out = dict(batch)
        augmented = self.sequence(
            *(batch[k] for k in keys), data_keys=['input'] * len(keys)
        )
        if len(keys) == 1:
            augmented = [augmented]
        out.update(zip(keys, augmented, strict=True))
        if 'bbox' not in batch:
            return out
        matrices = self.sequence.transform_matrix
        if matrices is None:
            matrices = torch.eye(3, device=image.device).expand(len(image), 3, 3)
        height, width = out[keys[0]].shape[-2:]
        boxes: list[Tensor] = []
        keeps: list[Tensor] = []
        for index, sample_boxes in enumerate(batch['bbox']):
            matrix = (
                _FROM_KORNIA.to(matrices) @ matrices[index] @ _TO_KORNIA.to(matrices)
            )
            moved = transform_cxcywhr(sample_boxes, matrix)
            keep = visible_share(moved, height, width) >= self.min_visible
            boxes.append(moved[keep])
            keeps.append(keep)
        out['bbox'] = boxes
        for key in PER_BOX_KEYS:
            if key in batch:
                out[key] = [v[k] for v, k in zip(batch[key], keeps, strict=True)]
        if 'bbox_xyxy' in batch:
            out['bbox_xyxy'] = [cxcywhr_to_xyxy(b) for b in boxes]
        return out


def detection_augmentation(
    mean: Tensor | float,
    std: Tensor | float,
    *,
    train: bool,
    quarter_turns: bool = True,
) -> RotatedBoxAugmentation:
    """The default batch augmentation of the detection datamodules.

    Evaluation: normalisation only. Training adds flips, 90° rotations (with
    ``quarter_turns``), a random rotation (±180°) with scale jitter (0.8–1.2)
    and brightness/contrast jitter; all work for any band count (no RGB-only
    colour operations).

    Args:
        mean: per-band (or scalar) mean subtracted first.
        std: per-band (or scalar) divisor.
        train: whether to add the random augmentations.
        quarter_turns: add random 90° rotations; only for square images (a
            quarter turn of a non-square image does not fit its frame: kornia
            ≥ 0.9.2 refuses it, older versions cut the image off). The flips
            already give the half turn.

    Returns:
        The augmentation.
    """
    normalize = K.Normalize(mean=torch.as_tensor(mean), std=torch.as_tensor(std))
    if not train:
        return RotatedBoxAugmentation(normalize)
    turns = [K.RandomRotation90(times=(0, 3), p=0.5)] if quarter_turns else []
    return RotatedBoxAugmentation(
        normalize,
        K.RandomHorizontalFlip(),
        K.RandomVerticalFlip(),
        *turns,
        K.RandomAffine(degrees=180.0, scale=(0.8, 1.2), p=0.5),
        K.RandomBrightness((0.85, 1.15), p=0.5),
        K.RandomContrast((0.85, 1.15), p=0.5),
    )


def letterbox(
    sample: dict[str, Any], size: int | tuple[int, int], fill: float = 0.0
) -> dict[str, Any]:
    """Scale an image to fit ``size`` keeping its aspect ratio, then pad.

    The image is placed at the top-left corner and padded at the right and
    bottom with ``fill``; boxes are scaled with it. ``scale`` (the factor) is added
    to the sample so that predictions can be mapped back.

    Args:
        sample: dict with ``image`` (C, H, W) float and optional ``bbox`` (N, 5).
        size: output side, or (rows, columns).
        fill: value of the padding.

    Returns:
        A new sample of exactly ``size``.
    """
    rows, cols = (size, size) if isinstance(size, int) else size
    image: Tensor = sample['image']
    height, width = image.shape[-2:]
    scale = min(rows / height, cols / width)
    new_h, new_w = max(round(height * scale), 1), max(round(width * scale), 1)
    resized = torch.nn.functional.interpolate(
        image[None].float(), size=(new_h, new_w), mode='bilinear', antialias=True
    )[0]
    canvas = resized.new_full((image.shape[0], rows, cols), fill)
    canvas[:, :new_h, :new_w] = resized
    out = dict(sample)
    out['image'] = canvas
    out['scale'] = torch.tensor([new_w / width, new_h / height])
    if 'bbox' in sample:
        boxes = sample['bbox'].clone().float()
        boxes[:, [0, 2]] *= new_w / width
        boxes[:, [1, 3]] *= new_h / height
        out['bbox'] = boxes
    return out


def collate_rotated_detection(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack images and keep per-image box lists.

    ``image`` (and any other tensor of equal shape across samples, such as
    ``scale``) is stacked; ``bbox``, ``label``, ``difficult``, ``id`` become lists;
    ``bbox_xyxy`` (enclosing horizontal boxes, for TorchGeo's ``ObjectDetection``)
    is added from ``bbox``; other values become lists.

    Args:
        batch: samples from a detection dataset.

    Returns:
        The collated batch.
    """
    if not batch:
        raise InputError('batch', 'is empty')
    out: dict[str, Any] = {}
    for key in batch[0]:
        values = [sample[key] for sample in batch]
        if key in ('bbox', *PER_BOX_KEYS):
            out[key] = values
        elif all(isinstance(v, Tensor) for v in values) and all(
            v.shape == values[0].shape for v in values
        ):
            out[key] = torch.stack(values)
        else:
            out[key] = values
    if 'bbox' in out:
        out['bbox_xyxy'] = [cxcywhr_to_xyxy(b.float()) for b in out['bbox']]
    return out
