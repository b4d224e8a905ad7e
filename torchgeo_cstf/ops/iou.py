"""Exact rotated-box overlaps: IoU matrices, element-wise IoU and IoF.

Boxes are ``(N, 5)`` CXCYWHR tensors (see :mod:`torchgeo_cstf.ops.boxes`).
:func:`rotated_box_iou` gives the ``(N, M)`` IoU matrix,
:func:`rotated_box_iou_pairs` the IoU of ``N`` box pairs (what NMS needs) and
:func:`rotated_box_iof` the intersection over the first box's area.

All three use one intersection kernel written with plain tensor operations, so
it runs on any device. It works in the frame of the first box, where that box
is the axis-aligned rectangle ``[-W, W] x [-H, H]``, and sums the boundary
integral ``1/2 ∮ (x dy - y dx)`` over the boundary of the intersection: the
parts of the second box's edges inside the first box (Liang–Barsky clipping)
and the parts of the first box's sides inside the second box (the chord that
each side line cuts out of the second box). Both use the same crossing points,
so the sum does not depend on how a crossing is rounded, and a relative angle
that is a multiple of 90° is handled exactly. Edges lying on each other are
counted once, as if the second box were shrunk by an infinitesimal amount.
The result agrees with shapely to ~1e-15 in float64 and ~1e-7 in float32.

torchvision's compiled ``box_iou(..., fmt="cxcywhr")`` is about as fast on CPU,
but its vertex tolerances make it wrong in rare near-touching configurations
(for example 0.174 instead of 0.349 for a corner 8e-6 px inside the other box,
and a different value with the arguments swapped), so it is not used here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from ..errors import InputError
from .boxes import check_boxes

#: Box pairs handled at once by the intersection kernel (bounds temporaries).
_PAIRS_PER_BLOCK = 1 << 14

#: Most candidate pairs generated at once by the overlap sweep (bounds memory).
_MAX_PAIRS = 1 << 20

#: Offset that moves a masked-out chord point beyond any real coordinate.
_FAR = 1e30

#: Relative margin added to enclosing boxes so that rounding cannot drop a pair.
_MARGIN = 1e-6


def working_dtype(*tensors: Tensor) -> torch.dtype:
    """Float dtype used for box arithmetic: float64 if any input is, else float32.

    Args:
        *tensors: the input tensors.

    Returns:
        ``torch.float64`` or ``torch.float32``.
    """
    if any(t.dtype == torch.float64 for t in tensors):
        return torch.float64
    return torch.float32


def _check_pair(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    """Validate two box sets and convert them to their working dtype."""
    check_boxes(boxes1, 'boxes1')
    check_boxes(boxes2, 'boxes2')
    if boxes1.device != boxes2.device:
        raise InputError(
            'boxes2', f'is on {boxes2.device} but boxes1 is on {boxes1.device}'
        )
    dtype = working_dtype(boxes1, boxes2)
    return boxes1.to(dtype), boxes2.to(dtype)


def _corners_in_frame_of_first(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    """Corners of ``boxes2`` in the frame of ``boxes1``, each of shape (4, P)."""
    # centre of box 2 in the frame of box 1 (whose w axis is (cos a, -sin a))
    ddx, ddy = boxes2[:, 0] - boxes1[:, 0], boxes2[:, 1] - boxes1[:, 1]
    a1 = torch.deg2rad(boxes1[:, 4])
    cos1, sin1 = torch.cos(a1), torch.sin(a1)
    cx, cy = cos1 * ddx - sin1 * ddy, sin1 * ddx + cos1 * ddy
    # relative angle reduced to [-45, 45]: a quarter turn swaps w and h exactly
    rel = boxes2[:, 4] - boxes1[:, 4]
    quarter = torch.round(rel / 90.0)
    r = torch.deg2rad(rel - 90.0 * quarter)
    odd = torch.remainder(quarter, 2) == 1
    half_w = torch.where(odd, boxes2[:, 3], boxes2[:, 2]) / 2
    half_h = torch.where(odd, boxes2[:, 2], boxes2[:, 3]) / 2
    cos_r, sin_r = torch.cos(r), torch.sin(r)
    # half axes of box 2: u along its w side, v along its h side
    ux, uy = half_w * cos_r, -half_w * sin_r
    vx, vy = half_h * sin_r, half_h * cos_r
    # corners in the order (-u-v, +u-v, +u+v, -u+v), turning the same way as
    # the corners of box 1 in its own frame
    qx = torch.stack((cx - ux - vx, cx + ux - vx, cx + ux + vx, cx - ux + vx))
    qy = torch.stack((cy - uy - vy, cy + uy - vy, cy + uy + vy, cy - uy + vy))
    return qx, qy


def _next(x: Tensor) -> Tensor:
    """Rows of a (4, P) tensor shifted by one: row k becomes row k + 1."""
    return torch.cat((x[1:], x[:1]))


def intersection_area_pairs(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Exact intersection areas of box pairs ``(boxes1[i], boxes2[i])``.

    Inputs are not validated (see :func:`check_boxes`); they must have the same
    shape ``(P, 5)``, float dtype and device. Long inputs are processed in
    blocks, which keeps the temporaries small (and in cache).

    Args:
        boxes1: (P, 5) CXCYWHR boxes.
        boxes2: (P, 5) CXCYWHR boxes.

    Returns:
        (P,) intersection areas, in the dtype of the inputs.
    """
    if boxes1.shape[0] <= _PAIRS_PER_BLOCK:
        return _intersection_block(boxes1, boxes2)
    return torch.cat(
        [
            _intersection_block(
                boxes1[start : start + _PAIRS_PER_BLOCK],
                boxes2[start : start + _PAIRS_PER_BLOCK],
            )
            for start in range(0, boxes1.shape[0], _PAIRS_PER_BLOCK)
        ]
    )


def _intersection_block(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection areas of one block of pairs (see the module docstring)."""
    half_w, half_h = boxes1[:, 2] / 2, boxes1[:, 3] / 2
    qx, qy = _corners_in_frame_of_first(boxes1, boxes2)
    dx, dy = _next(qx) - qx, _next(qy) - qy
    # Liang-Barsky parameter range of each edge of box 2 inside box 1
    t_start = torch.zeros_like(qx)
    t_end = torch.ones_like(qx)
    edge_ok = torch.ones_like(qx, dtype=torch.bool)
    sides = torch.zeros_like(half_w)
    # side lines of box 1 as (coordinate across, its sign, coordinate along,
    # its step, half extent across, half extent along, the way box 1's own side
    # runs); the side lines are x = W, x = -W, y = H, y = -H
    lines = (
        (qx, 1.0, qy, dy, half_w, half_h, dy > 0),
        (qx, -1.0, qy, dy, half_w, half_h, dy < 0),
        (qy, 1.0, qx, dx, half_h, half_w, dx < 0),
        (qy, -1.0, qx, dx, half_h, half_w, dx > 0),
    )
    for across, sign, along, step, dist, extent, same_way in lines:
        s_a = sign * across - dist  # signed distance, positive outside
        s_b = _next(s_a)
        out_a = s_a > 0
        out_b = _next(out_a)
        enter, leave = out_a & ~out_b, ~out_a & out_b
        crossing = enter | leave
        # exact crossing parameter where the edge crosses the line; elsewhere
        # any finite value, which the masks below discard
        denom = s_a - s_b
        t = (s_a / (denom + (denom == 0))).clamp_(0.0, 1.0)
        t_start = torch.maximum(t_start, t * enter)
        t_end = torch.minimum(t_end, 1.0 - (1.0 - t) * leave)
        # an edge lying on the line is inside only if it runs the way box 1's
        # side does; box 1's side then adds nothing of its own
        zero = s_a == 0
        on_line = zero & _next(zero)
        edge_ok &= ~(out_a & out_b) & ~(on_line & ~same_way)
        # chord of box 2 on the line, from the same crossing points
        point = along + t * step
        away = _FAR * ~crossing
        low = (point + away).amin(dim=0)
        high = (point - away).amax(dim=0)
        length = torch.minimum(high, extent) - torch.maximum(low, -extent)
        sides += length.clamp_min_(0.0) * ~on_line.any(dim=0) * dist
    inside = (t_end - t_start).clamp_min_(0.0) * edge_ok
    edges = (inside * (qx * dy - qy * dx)).sum(dim=0)
    area = 0.5 * (sides + edges)
    area1 = boxes1[:, 2] * boxes1[:, 3]
    area2 = boxes2[:, 2] * boxes2[:, 3]
    return area.clamp_min(0.0).minimum(torch.minimum(area1, area2))


def _iou_from_areas(inter: Tensor, area1: Tensor, area2: Tensor) -> Tensor:
    union = area1 + area2 - inter
    positive = union > 0
    ratio = inter / torch.where(positive, union, torch.ones_like(union))
    return torch.where(positive, ratio, torch.zeros_like(ratio)).clamp_max(1.0)


def _iof_from_areas(inter: Tensor, area1: Tensor, area2: Tensor) -> Tensor:
    positive = area1 > 0
    ratio = inter / torch.where(positive, area1, torch.ones_like(area1))
    return torch.where(positive, ratio, torch.zeros_like(ratio)).clamp_max(1.0)


def _ratio_pairs(
    boxes1: Tensor, boxes2: Tensor, ratio: Callable[[Tensor, Tensor, Tensor], Tensor]
) -> Tensor:
    inter = intersection_area_pairs(boxes1, boxes2)
    return ratio(inter, boxes1[:, 2] * boxes1[:, 3], boxes2[:, 2] * boxes2[:, 3])


def enclosing_boxes(boxes: Tensor) -> Tensor:
    """Axis-aligned boxes around rotated boxes, slightly enlarged.

    The margin (a relative 1e-6 of the coordinates) makes sure rounding never
    excludes a pair of boxes that overlap.

    Args:
        boxes: (N, 5) float CXCYWHR boxes.

    Returns:
        (N, 4) ``x_lo, y_lo, x_hi, y_hi``.
    """
    cx, cy, w, h, a = boxes.unbind(-1)
    rad = torch.deg2rad(a)
    cos, sin = torch.cos(rad).abs(), torch.sin(rad).abs()
    margin = _MARGIN * (cx.abs() + cy.abs() + w + h)
    half_x = (w * cos + h * sin) / 2 + margin
    half_y = (w * sin + h * cos) / 2 + margin
    return torch.stack((cx - half_x, cy - half_y, cx + half_x, cy + half_y), dim=-1)


def _expand(
    rows: Tensor, start: Tensor, count: Tensor
) -> Iterator[tuple[Tensor, Tensor]]:
    """Pairs ``(rows[k], start[k] + o)`` for ``0 <= o < count[k]``, in batches."""
    total = count.cumsum(0)
    first = 0
    while first < rows.numel():
        base = int(total[first - 1]) if first else 0
        last = int(torch.searchsorted(total, base + _MAX_PAIRS, right=True))
        last = max(last, first + 1)
        c = count[first:last]
        n = int(c.sum())
        if n:
            offset = torch.arange(n, device=rows.device) - torch.repeat_interleave(
                c.cumsum(0) - c, c
            )
            yield (
                torch.repeat_interleave(rows[first:last], c),
                torch.repeat_interleave(start[first:last], c) + offset,
            )
        first = last


def overlapping_pairs(
    outer1: Tensor, outer2: Tensor
) -> Iterator[tuple[Tensor, Tensor]]:
    """Index pairs whose axis-aligned boxes overlap with positive area.

    A sweep: along the axis where the boxes are spread most, ``(i, j)`` overlap
    when ``j`` starts inside ``i``'s interval or ``i`` starts strictly inside
    ``j``'s; both are ranges of the sorted interval starts (``searchsorted``).
    The candidates are then checked on both axes. The cost is proportional to
    the pairs that overlap along the sweep axis, not to ``N * M``.

    Args:
        outer1: (N, 4) ``x_lo, y_lo, x_hi, y_hi`` (see :func:`enclosing_boxes`).
        outer2: (M, 4) boxes in the same layout.

    Yields:
        ``(i, j)`` index tensors, in batches of bounded size; each overlapping
        pair comes exactly once.
    """
    if outer1.shape[0] == 0 or outer2.shape[0] == 0:
        return
    both = torch.cat((outer1, outer2))
    size = (both[:, 2:] - both[:, :2]).mean(dim=0).clamp_min(1e-30)
    spread = (both[:, :2].amax(dim=0) - both[:, :2].amin(dim=0)) / size
    axis = int(spread.argmax())
    other = 1 - axis
    # interval ends along the sweep axis and the other axis, as vectors
    lo1, hi1 = outer1[:, axis].contiguous(), outer1[:, axis + 2].contiguous()
    lo2, hi2 = outer2[:, axis].contiguous(), outer2[:, axis + 2].contiguous()
    low1, high1 = outer1[:, other].contiguous(), outer1[:, other + 2].contiguous()
    low2, high2 = outer2[:, other].contiguous(), outer2[:, other + 2].contiguous()
    order1, order2 = torch.argsort(lo1), torch.argsort(lo2)
    sorted1, sorted2 = lo1[order1].contiguous(), lo2[order2].contiguous()
    # j starting inside [lo1_i, hi1_i): the pair overlaps along the sweep axis
    # if j's interval is not empty, i.e. hi2_j > lo1_i
    rows = torch.arange(outer1.shape[0], device=outer1.device)
    start = torch.searchsorted(sorted2, lo1)
    count = torch.searchsorted(sorted2, hi1) - start
    for i, position in _expand(rows, start, count):
        j = order2[position]
        keep = (hi2[j] > lo1[i]) & (
            torch.minimum(high1[i], high2[j]) > torch.maximum(low1[i], low2[j])
        )
        yield i[keep], j[keep]
    # i starting inside (lo2_j, hi2_j): always an overlap along the sweep axis
    rows = torch.arange(outer2.shape[0], device=outer2.device)
    start = torch.searchsorted(sorted1, lo2, right=True)
    count = (torch.searchsorted(sorted1, hi2) - start).clamp_min(0)
    for j, position in _expand(rows, start, count):
        i = order1[position]
        keep = torch.minimum(high1[i], high2[j]) > torch.maximum(low1[i], low2[j])
        yield i[keep], j[keep]


def _ratio_matrix(
    boxes1: Tensor, boxes2: Tensor, ratio: Callable[[Tensor, Tensor, Tensor], Tensor]
) -> Tensor:
    """Ratio matrix; pairs whose enclosing boxes are apart get 0 without the kernel."""
    out = torch.zeros(
        (boxes1.shape[0], boxes2.shape[0]), dtype=boxes1.dtype, device=boxes1.device
    )
    for i, j in overlapping_pairs(enclosing_boxes(boxes1), enclosing_boxes(boxes2)):
        if i.numel():
            out[i, j] = _ratio_pairs(boxes1[i], boxes2[j], ratio)
    return out


def iou_pairs_unchecked(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Element-wise IoU without input checks (inputs as for the area kernel).

    Args:
        boxes1: (P, 5) float CXCYWHR boxes.
        boxes2: (P, 5) boxes of the same dtype and device.

    Returns:
        (P,) IoU values.
    """
    return _ratio_pairs(boxes1, boxes2, _iou_from_areas)


def rotated_box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU matrix of two sets of rotated boxes.

    Args:
        boxes1: (N, 5) CXCYWHR boxes.
        boxes2: (M, 5) CXCYWHR boxes, on the same device.

    Returns:
        (N, M) IoU in float32 (float64 if an input is float64). A box of zero
        area has IoU 0 with every box, itself included.

    Raises:
        InputError: bad shapes, values or devices.
    """
    first, second = _check_pair(boxes1, boxes2)
    return _ratio_matrix(first, second, _iou_from_areas)


def rotated_box_iou_pairs(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Element-wise IoU of box pairs ``(boxes1[i], boxes2[i])``.

    Args:
        boxes1: (P, 5) CXCYWHR boxes.
        boxes2: (P, 5) CXCYWHR boxes, on the same device.

    Returns:
        (P,) IoU in float32 (float64 if an input is float64); 0 when a box has
        zero area.

    Raises:
        InputError: bad shapes, values or devices, or different lengths.
    """
    first, second = _check_pair(boxes1, boxes2)
    if first.shape[0] != second.shape[0]:
        raise InputError(
            'boxes2',
            f'must have as many boxes as boxes1 ({first.shape[0]}), '
            f'got {second.shape[0]}',
        )
    return _ratio_pairs(first, second, _iou_from_areas)


def rotated_box_iof(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection over the area of the first box ("IoF"), as a matrix.

    ``iof[i, j] = area(boxes1[i] ∩ boxes2[j]) / area(boxes1[i])``: the share of
    box ``i`` that lies inside box ``j``, e.g. of an object inside an image patch
    (DOTA splitting keeps an object in a patch when this is at least 0.7).

    Args:
        boxes1: (N, 5) CXCYWHR boxes (the objects).
        boxes2: (M, 5) CXCYWHR boxes (the windows), on the same device.

    Returns:
        (N, M) IoF in float32 (float64 if an input is float64); 0 for rows whose
        box has zero area.

    Raises:
        InputError: bad shapes, values or devices.
    """
    first, second = _check_pair(boxes1, boxes2)
    return _ratio_matrix(first, second, _iof_from_areas)
