"""Padding images to a model's size multiple (its coarsest stride)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def pad_to_multiple(image: Tensor, multiple: int) -> Tensor:
    """Zero-pad images on the right and bottom to a multiple of ``multiple``.

    Pixel coordinates need no change: the origin stays at the top-left corner.

    Args:
        image: (..., H, W) images.
        multiple: the size multiple (a model's ``size_multiple``).

    Returns:
        The padded images (the input itself when already aligned).
    """
    height, width = image.shape[-2:]
    bottom, right = -height % multiple, -width % multiple
    if bottom == 0 and right == 0:
        return image
    return F.pad(image, (0, right, 0, bottom))
