"""Differentiable losses between oriented boxes, via their Gaussian distributions.

A CXCYWHR box is read as a 2-D Gaussian with mean at its centre and covariance
``R diag(w², h²)/12 R^T`` (the covariance of a uniform distribution over the
rectangle). Two boxes are compared through their Gaussians:

- **ProbIoU** (Llerena et al., 2021): ``1 - exp(-B)`` is the Hellinger distance
  derived from the Bhattacharyya distance ``B``; ``probiou = 1 - Hellinger``
  behaves like IoU (1 for identical boxes, → 0 when far apart), is smooth in the
  angle, and has no discontinuity at the w/h swap or at ±90°, which is what makes
  regressing angles with an IoU-like loss stable;
- **KLD** (Yang et al., 2021): the Kullback–Leibler divergence, mapped to [0, 1)
  by ``1 - 1 / (tau + log1p(kld))``.

Squares are the one shape whose angle a Gaussian cannot see; for them any angle
gives the same loss, as it should (the box is the same).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import InputError
from ..ops.boxes import check_boxes


def box_gaussians(boxes: Tensor) -> tuple[Tensor, Tensor]:
    """Means (N, 2) and covariances (N, 2, 2) of CXCYWHR boxes.

    Args:
        boxes: (N, 5) boxes (angle in degrees, counter-clockwise on screen).

    Returns:
        The Gaussians' means and covariances.
    """
    check_boxes(boxes, values=False)  # on the training path: no device sync
    rad = torch.deg2rad(boxes[:, 4])
    cos, sin = torch.cos(rad), torch.sin(rad)
    # the w axis is (cos, -sin), the h axis (sin, cos) in pixel coordinates
    rotation = torch.stack(
        (torch.stack((cos, sin), -1), torch.stack((-sin, cos), -1)), -2
    )
    variances = torch.stack((boxes[:, 2], boxes[:, 3]), -1).clamp_min(1e-6) ** 2 / 12
    covariance = rotation @ torch.diag_embed(variances) @ rotation.transpose(-1, -2)
    return boxes[:, :2], covariance


def probiou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Pairwise ProbIoU of aligned box lists: 1 for identical boxes, → 0 apart.

    Args:
        boxes1: (N, 5) CXCYWHR boxes.
        boxes2: (N, 5) CXCYWHR boxes.
        eps: numerical floor.

    Returns:
        (N,) values in [0, 1].
    """
    if boxes1.shape != boxes2.shape:
        raise InputError(
            'boxes2', f'shape {tuple(boxes2.shape)} differs from {tuple(boxes1.shape)}'
        )
    mean1, cov1 = box_gaussians(boxes1)
    mean2, cov2 = box_gaussians(boxes2)
    cov = (cov1 + cov2) / 2
    delta = (mean1 - mean2)[..., None]
    mahalanobis = (delta.transpose(-1, -2) @ torch.linalg.solve(cov, delta))[
        ..., 0, 0
    ] / 8
    det = torch.linalg.det(cov).clamp_min(eps)
    det1 = torch.linalg.det(cov1).clamp_min(eps)
    det2 = torch.linalg.det(cov2).clamp_min(eps)
    bhattacharyya = mahalanobis + 0.5 * torch.log(det / torch.sqrt(det1 * det2))
    hellinger = torch.sqrt((1 - torch.exp(-bhattacharyya.clamp(0, 100))).clamp_min(eps))
    return 1 - hellinger


def probiou_loss(predicted: Tensor, target: Tensor) -> Tensor:
    """``1 - probiou``, per box pair (N,)."""
    return 1 - probiou(predicted, target)


def kld_loss(predicted: Tensor, target: Tensor, tau: float = 1.0) -> Tensor:
    """KL divergence of the target Gaussian from the predicted one, in [0, 1).

    Args:
        predicted: (N, 5) CXCYWHR boxes.
        target: (N, 5) CXCYWHR boxes.
        tau: the mapping's offset (``1 - 1 / (tau + log1p(kld))``).

    Returns:
        (N,) losses, 0 for identical boxes.
    """
    mean_p, cov_p = box_gaussians(predicted)
    mean_t, cov_t = box_gaussians(target)
    inverse_p = torch.linalg.inv(cov_p)
    delta = (mean_p - mean_t)[..., None]
    term_mean = (delta.transpose(-1, -2) @ inverse_p @ delta)[..., 0, 0]
    term_trace = torch.diagonal(inverse_p @ cov_t, dim1=-2, dim2=-1).sum(-1)
    term_log = torch.log(
        torch.linalg.det(cov_p) / torch.linalg.det(cov_t).clamp_min(1e-12)
    )
    kld = (0.5 * (term_mean + term_trace + term_log) - 1).clamp_min(0)
    return 1 - 1 / (tau + torch.log1p(kld))
