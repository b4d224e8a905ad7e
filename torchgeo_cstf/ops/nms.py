"""Greedy non-maximum suppression of rotated boxes, as ``torchvision.ops.nms``.

Semantics (identical to torchvision's CPU ``nms``): boxes are visited by
decreasing score, ties in score in increasing index order (a stable sort); a
box is kept unless its IoU with an already kept box is strictly greater than
``iou_threshold``. The kept indices come back in that visiting order.

The IoU matrix of all boxes is never formed. Boxes are processed in blocks of
:data:`BLOCK_SIZE` ranks: first each block is checked against the boxes kept
so far, then the survivors against each other. Candidate pairs come from a
sweep over the axis-aligned enclosing boxes (sorted interval starts and
``searchsorted``), are narrowed by the other axis, by the labels and by an IoU
upper bound (the enclosing boxes' overlap), and only the rest go through the
exact rotated IoU (:func:`~torchgeo_cstf.ops.iou.rotated_box_iou_pairs`). A
block's remaining greedy pass, a scan over its sparse overlap graph, runs with
NumPy on the CPU; everything else stays on the boxes' device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from .boxes import check_boxes
from .iou import enclosing_boxes, iou_pairs_unchecked, overlapping_pairs, working_dtype

#: Boxes ranked together in one step of the blocked greedy pass.
BLOCK_SIZE = 512


def rotated_nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS of rotated boxes, with the semantics of ``torchvision.ops.nms``.

    Args:
        boxes: (N, 5) CXCYWHR boxes.
        scores: (N,) scores, on the same device.
        iou_threshold: boxes whose IoU with a kept, higher-ranked box is strictly
            greater than this are discarded; in [0, 1].

    Returns:
        int64 indices of the kept boxes, by decreasing score (ties: lower index
        first), on the boxes' device.

    Raises:
        InputError: bad shapes, values, devices or threshold.
    """
    _check_inputs(boxes, scores, iou_threshold)
    return _greedy_nms(boxes, scores, None, float(iou_threshold))


def batched_rotated_nms(
    boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float
) -> Tensor:
    """Class-wise greedy NMS: boxes with different labels never suppress each other.

    Args:
        boxes: (N, 5) CXCYWHR boxes.
        scores: (N,) scores, on the same device.
        labels: (N,) integer class labels, on the same device.
        iou_threshold: as for :func:`rotated_nms`.

    Returns:
        int64 indices of the kept boxes, by decreasing score (ties: lower index
        first), on the boxes' device.

    Raises:
        InputError: bad shapes, values, devices or threshold.
    """
    _check_inputs(boxes, scores, iou_threshold)
    if not isinstance(labels, Tensor) or labels.shape != scores.shape:
        raise InputError('labels', f'must be a tensor of shape {tuple(scores.shape)}')
    if labels.is_floating_point() or labels.is_complex():
        raise InputError('labels', f'must be integers, got {labels.dtype}')
    if labels.device != boxes.device:
        raise InputError(
            'labels', f'is on {labels.device} but boxes is on {boxes.device}'
        )
    return _greedy_nms(boxes, scores, labels, float(iou_threshold))


def _check_inputs(boxes: Tensor, scores: Tensor, iou_threshold: float) -> None:
    check_boxes(boxes, 'boxes')
    if not isinstance(scores, Tensor) or scores.shape != (boxes.shape[0],):
        raise InputError('scores', f'must be a tensor of shape ({boxes.shape[0]},)')
    if scores.device != boxes.device:
        raise InputError(
            'scores', f'is on {scores.device} but boxes is on {boxes.device}'
        )
    if scores.is_complex() or bool(torch.isnan(scores).any()):
        raise InputError('scores', 'must be real numbers without NaN')
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, int | float):
        raise InputError('iou_threshold', f'must be a number, got {iou_threshold!r}')
    if not 0.0 <= iou_threshold <= 1.0:
        raise InputError('iou_threshold', f'must be in [0, 1], got {iou_threshold}')


class _Geometry:
    """Score-ordered boxes with their enclosing boxes, areas and labels."""

    def __init__(self, boxes: Tensor, labels: Tensor | None) -> None:
        self.boxes = boxes
        self.labels = labels
        self.outer = enclosing_boxes(boxes)
        self.area = boxes[:, 2] * boxes[:, 3]

    def suppressing(self, i: Tensor, j: Tensor, threshold: float) -> Tensor:
        """Mask of the candidate pairs ``(i, j)`` whose IoU exceeds ``threshold``."""
        a, b = self.outer[i], self.outer[j]
        sides = torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])
        area_i, area_j = self.area[i], self.area[j]
        # IoU <= U / (area_i + area_j - U) where U bounds the intersection
        bound = torch.minimum(sides.prod(dim=1), torch.minimum(area_i, area_j))
        maybe = bound > threshold * (area_i + area_j - bound)
        if self.labels is not None:
            maybe &= self.labels[i] == self.labels[j]
        out = torch.zeros_like(maybe)
        idx = maybe.nonzero().squeeze(1)
        if idx.numel():
            iou = iou_pairs_unchecked(self.boxes[i[idx]], self.boxes[j[idx]])
            out[idx] = iou > threshold
        return out


def _suppressed_by_kept(
    geo: _Geometry, block: Tensor, kept: Tensor, thr: float
) -> Tensor:
    """Mask over ``block`` of the boxes suppressed by a box of ``kept``."""
    hit = torch.zeros(block.numel(), dtype=torch.bool, device=block.device)
    for q, k in overlapping_pairs(geo.outer[block], geo.outer[kept]):
        hit[q[geo.suppressing(kept[k], block[q], thr)]] = True
    return hit


def _survivors_of_block(geo: _Geometry, block: Tensor, thr: float) -> Tensor:
    """Mask over ``block`` (ascending ranks) of the boxes greedy NMS keeps."""
    m = block.numel()
    outer = geo.outer[block]
    firsts, seconds = [], []
    for a, b in overlapping_pairs(outer, outer):
        # each pair comes in both orders: keep the one with a before b
        forward = a < b
        i, j = a[forward], b[forward]
        edge = geo.suppressing(block[i], block[j], thr)
        firsts.append(i[edge])
        seconds.append(j[edge])
    if not firsts:
        return torch.ones(m, dtype=torch.bool, device=block.device)
    i_np = torch.cat(firsts).cpu().numpy()
    j_np = torch.cat(seconds).cpu().numpy()
    by_first = np.argsort(i_np, kind='stable')
    i_np, j_np = i_np[by_first], j_np[by_first]
    bounds = np.searchsorted(i_np, np.arange(m + 1))
    suppressed = np.zeros(m, dtype=bool)
    for node in np.unique(i_np).tolist():
        if not suppressed[node]:
            suppressed[j_np[bounds[node] : bounds[node + 1]]] = True
    return torch.from_numpy(~suppressed).to(block.device)


def _greedy_nms(
    boxes: Tensor, scores: Tensor, labels: Tensor | None, thr: float
) -> Tensor:
    n = boxes.shape[0]
    device = boxes.device
    if n == 0:
        return torch.zeros(0, dtype=torch.int64, device=device)
    order = torch.argsort(scores, descending=True, stable=True)
    geo = _Geometry(
        boxes[order].to(working_dtype(boxes)), None if labels is None else labels[order]
    )
    kept = torch.zeros(0, dtype=torch.int64, device=device)
    for start in range(0, n, BLOCK_SIZE):
        block = torch.arange(start, min(n, start + BLOCK_SIZE), device=device)
        if kept.numel():
            block = block[~_suppressed_by_kept(geo, block, kept, thr)]
        if block.numel() > 1:
            block = block[_survivors_of_block(geo, block, thr)]
        kept = torch.cat((kept, block))
    return order[kept]


def concatenate_boxes(
    parts: Sequence[tuple[Tensor, Tensor, Tensor]],
) -> tuple[Tensor, Tensor, Tensor]:
    """Concatenate (boxes, scores, labels) triples; empty float64/long tensors if none.

    Args:
        parts: ``(boxes (N, 5), scores (N,), labels (N,))`` triples.

    Returns:
        The concatenated boxes, scores and labels (labels as ``long``).
    """
    if not parts:
        return (
            torch.zeros(0, 5, dtype=torch.float64),
            torch.zeros(0, dtype=torch.float64),
            torch.zeros(0, dtype=torch.long),
        )
    return (
        torch.cat([part[0] for part in parts]),
        torch.cat([part[1] for part in parts]),
        torch.cat([part[2] for part in parts]).long(),
    )


def merge_boxes(
    parts: Sequence[tuple[Tensor, Tensor, Tensor]], iou_threshold: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Merge the detections of parts of one image (tiles, chunks, patches).

    The one merge of tiled detections: the parts' boxes, already in the
    image's pixel frame, are concatenated and go through class-wise rotated
    NMS. Scene inference, the job workers' chunk merge and the DOTA patch
    merge all call it.

    Args:
        parts: ``(boxes (N, 5) CXCYWHR, scores (N,), labels (N,))`` per part.
        iou_threshold: the NMS threshold.

    Returns:
        The kept boxes, scores and labels, by decreasing score.
    """
    boxes, scores, labels = concatenate_boxes(parts)
    keep = batched_rotated_nms(boxes, scores, labels, iou_threshold)
    return boxes[keep], scores[keep], labels[keep]
