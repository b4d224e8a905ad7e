"""Oriented-box conversions in torchvision's ``CXCYWHR`` convention.

A box is ``(cx, cy, w, h, angle)`` in pixel coordinates (x right, y down), the
angle in degrees, positive counter-clockwise *on screen*: the box's ``w`` side
points along ``(cos a, -sin a)`` and its ``h`` side along ``(sin a, cos a)``.
This is the format of ``torchvision.tv_tensors.BoundingBoxes`` with
``BoundingBoxFormat.CXCYWHR`` and of ``torchvision.ops.box_iou(..., fmt="cxcywhr")``.

The *canonical* form, returned by every conversion here, has ``w >= h`` (``w`` is
the long side) and ``-90 <= angle < 90``. Every box has exactly one canonical
form, except squares, whose angle is only defined modulo 90°.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import InputError


def check_boxes(boxes: Tensor, name: str = 'boxes', *, values: bool = True) -> None:
    """Raise :class:`~torchgeo_cstf.errors.InputError` unless ``boxes`` are usable.

    The one box validator of the package.

    Args:
        boxes: candidate ``(N, 5)`` CXCYWHR tensor.
        name: the argument's name, used in the error message.
        values: also check the values (finite, no negative size): what IoU,
            NMS and the metrics need; the conversions check the shape only
            (no device synchronisation on model outputs).

    Raises:
        InputError: wrong type or shape, non-finite values or negative sizes.
    """
    if not isinstance(boxes, Tensor):
        raise InputError(name, f'must be a torch.Tensor, got {type(boxes).__name__}')
    if boxes.ndim != 2 or boxes.shape[-1] != 5:
        raise InputError(name, f'must have shape (N, 5), got {tuple(boxes.shape)}')
    if not values:
        return
    if boxes.is_complex() or boxes.dtype == torch.bool:
        raise InputError(name, f'must hold real numbers, got {boxes.dtype}')
    if boxes.numel() == 0:
        return
    if not bool(torch.isfinite(boxes).all()):
        raise InputError(name, 'contains NaN or infinite values')
    if bool((boxes[:, 2:4] < 0).any()):
        raise InputError(name, 'contains a negative width or height')


def wrap_angle(angle: Tensor) -> Tensor:
    """Wrap angles in degrees into [-90, 90) (a box is symmetric under 180°).

    Args:
        angle: angles in degrees, any shape.

    Returns:
        Wrapped angles, same shape and dtype.
    """
    return torch.remainder(angle + 90.0, 180.0) - 90.0


def canonicalize_cxcywhr(boxes: Tensor) -> Tensor:
    """Rewrite boxes in the canonical form (``w >= h``, angle in [-90, 90)).

    Args:
        boxes: (N, 5) CXCYWHR boxes.

    Returns:
        (N, 5) boxes describing the same rectangles.
    """
    check_boxes(boxes, values=False)
    cx, cy, w, h, a = boxes.unbind(-1)
    swap = h > w
    long_side = torch.where(swap, h, w)
    short_side = torch.where(swap, w, h)
    angle = wrap_angle(torch.where(swap, a + 90.0, a))
    return torch.stack((cx, cy, long_side, short_side, angle), dim=-1)


def cxcywhr_to_poly(boxes: Tensor) -> Tensor:
    """Corners of CXCYWHR boxes.

    The order is torchvision's ``XYXYXYXY`` order: for angle 0 the corners are
    top-left, top-right, bottom-right, bottom-left (clockwise on screen); with an
    angle they turn with the box. The first corner is
    ``c - (w/2)·(cos a, -sin a) - (h/2)·(sin a, cos a)``.

    Args:
        boxes: (N, 5) CXCYWHR boxes.

    Returns:
        (N, 4, 2) corner coordinates (x, y).
    """
    check_boxes(boxes, values=False)
    cx, cy, w, h, a = boxes.unbind(-1)
    rad = torch.deg2rad(a)
    cos, sin = torch.cos(rad), torch.sin(rad)
    # half extents along the w axis (cos, -sin) and the h axis (sin, cos)
    wx, wy = 0.5 * w * cos, -0.5 * w * sin
    hx, hy = 0.5 * h * sin, 0.5 * h * cos
    xs = torch.stack((cx - wx - hx, cx + wx - hx, cx + wx + hx, cx - wx + hx), -1)
    ys = torch.stack((cy - wy - hy, cy + wy - hy, cy + wy + hy, cy - wy + hy), -1)
    return torch.stack((xs, ys), dim=-1)


def poly_to_cxcywhr(polygons: Tensor) -> Tensor:
    """Minimum-area rotated rectangles around polygons (e.g. DOTA's 8 numbers).

    Exact for any point set: the smallest enclosing rectangle has a side along
    the direction joining two of the points, so every such direction is tried.
    The vertex order of the input does not matter and is not kept (DOTA's first
    vertex, which some annotators used for the object's head, is lost); a
    rectangle given as a polygon comes back as itself in canonical form.

    Args:
        polygons: (N, K, 2) points or (N, 2K) flat ``x1 y1 x2 y2 …``; K >= 2.

    Returns:
        (N, 5) canonical CXCYWHR boxes, same dtype as the input (computed in
        float64).
    """
    points = polygons
    if points.ndim == 2 and points.shape[-1] % 2 == 0:
        points = points.reshape(points.shape[0], points.shape[1] // 2, 2)
    if points.ndim != 3 or points.shape[-1] != 2 or points.shape[1] < 2:
        raise InputError(
            'polygons',
            f'must have shape (N, K, 2) or (N, 2K) with K >= 2, '
            f'got {tuple(polygons.shape)}',
        )
    dtype = polygons.dtype if polygons.is_floating_point() else torch.float32
    pts = points.to(torch.float64)
    n, k, _ = pts.shape
    if n == 0:
        return torch.zeros((0, 5), dtype=dtype, device=polygons.device)
    i, j = torch.triu_indices(k, k, offset=1, device=pts.device)
    edges = pts[:, j] - pts[:, i]  # (N, P, 2) candidate side directions
    length = torch.linalg.vector_norm(edges, dim=-1, keepdim=True)
    fallback = torch.tensor([1.0, 0.0], dtype=pts.dtype, device=pts.device)
    u = torch.where(length > 0, edges / length.clamp_min(1e-300), fallback)
    v = torch.stack((-u[..., 1], u[..., 0]), dim=-1)
    # project every point on every candidate axis pair: (N, P, K)
    pu = torch.einsum('npc,nkc->npk', u, pts)
    pv = torch.einsum('npc,nkc->npk', v, pts)
    umin, umax = pu.amin(-1), pu.amax(-1)
    vmin, vmax = pv.amin(-1), pv.amax(-1)
    area = (umax - umin) * (vmax - vmin)
    best = area.argmin(dim=-1, keepdim=True)  # (N, 1)

    def pick(t: Tensor) -> Tensor:
        return t.gather(1, best).squeeze(1)

    ub = u.gather(1, best[..., None].expand(-1, -1, 2)).squeeze(1)
    su, sv = (pick(umin) + pick(umax)) / 2, (pick(vmin) + pick(vmax)) / 2
    perp = torch.stack((-ub[:, 1], ub[:, 0]), dim=-1)
    centre = su[:, None] * ub + sv[:, None] * perp
    w = pick(umax) - pick(umin)
    h = pick(vmax) - pick(vmin)
    angle = torch.rad2deg(torch.atan2(-ub[:, 1], ub[:, 0]))
    boxes = torch.stack((centre[:, 0], centre[:, 1], w, h, angle), dim=-1)
    return canonicalize_cxcywhr(boxes).to(dtype)


def hrsc_mbox_to_cxcywhr(mbox: Tensor) -> Tensor:
    """Convert HRSC2016 ``mbox``/``robndbox`` parameters to canonical CXCYWHR.

    HRSC2016 gives ``(mbox_cx, mbox_cy, mbox_w, mbox_h, mbox_ang)`` with the angle
    in radians and, as MMRotate reads it, corners at
    ``c ± (w/2)(cos a, sin a) ± (h/2)(-sin a, cos a)`` in pixel coordinates: the
    opposite turning sense of torchvision's angle, hence ``angle = -degrees(a)``.

    Args:
        mbox: (N, 5) HRSC parameters.

    Returns:
        (N, 5) canonical CXCYWHR boxes.
    """
    check_boxes(mbox, 'mbox', values=False)
    cx, cy, w, h, a = mbox.unbind(-1)
    return canonicalize_cxcywhr(
        torch.stack((cx, cy, w, h, -a * (180.0 / math.pi)), dim=-1)
    )


def cxcywhr_to_xyxy(boxes: Tensor) -> Tensor:
    """Axis-aligned boxes that enclose CXCYWHR boxes.

    Args:
        boxes: (N, 5) CXCYWHR boxes.

    Returns:
        (N, 4) ``x1, y1, x2, y2`` boxes (the horizontal boxes TorchGeo's
        ``ObjectDetection`` and torchmetrics' mAP take).
    """
    corners = cxcywhr_to_poly(boxes)
    return torch.cat((corners.amin(dim=1), corners.amax(dim=1)), dim=-1)


def xyxy_to_cxcywhr(boxes: Tensor) -> Tensor:
    """Axis-aligned ``x1, y1, x2, y2`` boxes as canonical CXCYWHR.

    Args:
        boxes: (N, 4) horizontal boxes.

    Returns:
        (N, 5) CXCYWHR boxes, in canonical form (long side first).
    """
    x1, y1, x2, y2 = boxes.reshape(-1, 4).unbind(-1)
    return canonicalize_cxcywhr(
        torch.stack(
            ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, torch.zeros_like(x1)),
            dim=-1,
        )
    )


def transform_cxcywhr(boxes: Tensor, matrix: Tensor) -> Tensor:
    """Map boxes through a 3×3 pixel-coordinate transform.

    The four corners are mapped and the tightest rectangle around them is
    returned: exact for rotations, flips, translations and isotropic scaling; for
    anisotropic or projective maps, the minimum-area rectangle of the image of
    the box.

    Args:
        boxes: (N, 5) CXCYWHR boxes.
        matrix: (3, 3) transform acting on homogeneous (x, y, 1) columns.

    Returns:
        (N, 5) canonical CXCYWHR boxes in the transformed image.
    """
    check_boxes(boxes, values=False)
    if matrix.shape != (3, 3):
        raise InputError('matrix', f'must have shape (3, 3), got {tuple(matrix.shape)}')
    if boxes.shape[0] == 0:
        return boxes.new_zeros((0, 5))
    corners = cxcywhr_to_poly(boxes.to(torch.float64))
    m = matrix.to(device=boxes.device, dtype=torch.float64)
    mapped = corners @ m[:2, :2].T + m[:2, 2]
    denominator = corners @ m[2, :2] + m[2, 2]
    mapped = mapped / denominator[..., None]
    return poly_to_cxcywhr(mapped).to(boxes.dtype)
