"""VOC/DOTA-devkit detection matching and average precision.

The protocol is the one of the PASCAL VOC devkit and of the DOTA devkit's
``dota_evaluation_task1.py``:

1. Per class, detections are visited by decreasing score. Each is compared with
   the ground truths of the same image and class and takes the one of maximum
   IoU (already matched and difficult ones included; the first one on ties).
2. If that IoU is strictly greater than the threshold (``ovmax > ovthresh`` in
   both devkits, unlike COCO's ``>=``): a difficult ground truth makes the
   detection *ignored* (neither true nor false positive); an unmatched one
   makes it a true positive and marks the ground truth matched; a matched one
   makes it a false positive (a duplicate). Otherwise it is a false positive.
3. Recall is over the non-difficult ground truths; precision is
   ``tp / max(tp + fp, eps)``; AP is the VOC2007 11-point interpolation
   (``"voc07"``) or the VOC2010+ area under the monotone precision envelope
   (``"area"``).

Because a detection only meets the ground truths of its own image, the
matching of step 1-2 can be done image by image (:func:`match_detections`) and
the precision-recall curve built afterwards from the flags
(:func:`average_precision`): this is what the torchmetrics metric does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from ..errors import InputError
from ..ops.iou import rotated_box_iou

#: AP computation methods: VOC2007 11-point, or VOC2010+ area.
APMethod = Literal['voc07', 'area']

#: Recall levels of the 11-point AP, computed as the devkits' ``np.arange(0, 1.1,
#: 0.1)`` computes them (0.30000000000000004, ...), which matters when a recall
#: lands exactly on a level.
_VOC07_RECALLS = tuple(i * 0.1 for i in range(11))


def check_ap_method(ap_method: str) -> None:
    """Raise :class:`~torchgeo_cstf.errors.InputError` for an unknown AP method.

    Args:
        ap_method: the name to check.

    Raises:
        InputError: unless ``ap_method`` is ``"voc07"`` or ``"area"``.
    """
    if ap_method not in ('voc07', 'area'):
        raise InputError('ap_method', f"must be 'voc07' or 'area', got {ap_method!r}")


def check_iou_thresholds(iou_thresholds: Sequence[float]) -> Tensor:
    """Validate IoU thresholds and return them as a float64 tensor.

    Args:
        iou_thresholds: one or more thresholds in [0, 1).

    Returns:
        (T,) float64 tensor.

    Raises:
        InputError: empty, or a value outside [0, 1).
    """
    values = list(iou_thresholds)
    if not values:
        raise InputError('iou_thresholds', 'must not be empty')
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError('iou_thresholds', f'must be numbers, got {value!r}')
        if not 0.0 <= value < 1.0:
            raise InputError('iou_thresholds', f'must be in [0, 1), got {value}')
    return torch.tensor(values, dtype=torch.float64)


def match_detections(
    pred_boxes: Tensor,
    pred_scores: Tensor,
    pred_labels: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor,
    gt_difficult: Tensor,
    iou_thresholds: Tensor,
) -> tuple[Tensor, Tensor]:
    """True/false-positive flags of one image's detections, devkit rules.

    Inputs are assumed validated (same device; boxes (D, 5) and (G, 5)).

    Args:
        pred_boxes: (D, 5) CXCYWHR detections.
        pred_scores: (D,) scores.
        pred_labels: (D,) integer classes.
        gt_boxes: (G, 5) CXCYWHR ground truths.
        gt_labels: (G,) integer classes.
        gt_difficult: (G,) bool, difficult ground truths.
        iou_thresholds: (T,) float thresholds.

    Returns:
        ``(tp, fp)``, two (D, T) bool tensors aligned with the input order; a
        detection with neither flag set matched a difficult ground truth.
    """
    d, t = pred_boxes.shape[0], iou_thresholds.numel()
    device = pred_boxes.device
    if d == 0 or gt_boxes.shape[0] == 0:
        return (
            torch.zeros((d, t), dtype=torch.bool, device=device),
            torch.ones((d, t), dtype=torch.bool, device=device),
        )
    order = torch.argsort(pred_scores, descending=True, stable=True)
    iou = rotated_box_iou(pred_boxes[order], gt_boxes).to(torch.float64)
    same_class = pred_labels[order, None] == gt_labels[None, :]
    iou = torch.where(same_class, iou, -1.0)
    best_iou, best_gt = iou.max(dim=1)
    above = best_iou[:, None] > iou_thresholds.to(device)[None, :]
    candidate = above & ~gt_difficult[best_gt][:, None]
    # a candidate is a true positive if it is the first (by score) candidate of
    # its ground truth at that threshold
    rank = torch.arange(d, device=device)[:, None].expand(d, t)
    first = torch.full((gt_boxes.shape[0], t), d, dtype=torch.int64, device=device)
    first.scatter_reduce_(
        0, best_gt[:, None].expand(d, t), torch.where(candidate, rank, d), reduce='amin'
    )
    tp_sorted = candidate & (first.gather(0, best_gt[:, None].expand(d, t)) == rank)
    fp_sorted = ~above | (candidate & ~tp_sorted)
    tp = torch.empty_like(tp_sorted)
    fp = torch.empty_like(fp_sorted)
    tp[order] = tp_sorted
    fp[order] = fp_sorted
    return tp, fp


def average_precision(
    scores: Tensor, tp: Tensor, fp: Tensor, num_positives: int, ap_method: APMethod
) -> Tensor:
    """AP of one class from per-detection flags, at each IoU threshold.

    Detections are ranked by decreasing score; ties keep their input order
    (stable sort).

    Args:
        scores: (D,) detection scores.
        tp: (D, T) bool true-positive flags (from :func:`match_detections`).
        fp: (D, T) bool false-positive flags.
        num_positives: number of non-difficult ground truths of the class.
        ap_method: ``"voc07"`` (11-point) or ``"area"`` (VOC2010+).

    Returns:
        (T,) float64 AP; NaN everywhere when ``num_positives`` is 0.
    """
    check_ap_method(ap_method)
    t = tp.shape[1]
    if num_positives <= 0:
        return torch.full((t,), float('nan'), dtype=torch.float64)
    if scores.numel() == 0:
        return torch.zeros(t, dtype=torch.float64)
    order = torch.argsort(scores.cpu(), descending=True, stable=True)
    ctp = tp.cpu()[order].to(torch.float64).cumsum(0)
    cfp = fp.cpu()[order].to(torch.float64).cumsum(0)
    recall = ctp / num_positives
    eps = torch.finfo(torch.float64).eps
    precision = ctp / torch.clamp(ctp + cfp, min=eps)
    if ap_method == 'voc07':
        levels = torch.tensor(_VOC07_RECALLS, dtype=torch.float64)
        reached = recall[:, :, None] >= levels
        best = torch.where(reached, precision[:, :, None], 0.0).amax(dim=0)
        return best.sum(dim=1) / 11.0
    zero = torch.zeros((1, t), dtype=torch.float64)
    mrec = torch.cat((zero, recall, zero + 1.0))
    mpre = torch.cat((zero, precision, zero))
    envelope = mpre.flip(0).cummax(dim=0).values.flip(0)
    return ((mrec[1:] - mrec[:-1]) * envelope[1:]).sum(dim=0)
