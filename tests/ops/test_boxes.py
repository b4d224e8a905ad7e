import math

import pytest
import shapely
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import box_convert

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.ops import (
    canonicalize_cxcywhr,
    cxcywhr_to_poly,
    cxcywhr_to_xyxy,
    hrsc_mbox_to_cxcywhr,
    poly_to_cxcywhr,
    wrap_angle,
    xyxy_to_cxcywhr,
)

coords = st.floats(-500, 500, allow_nan=False)
sizes = st.floats(0.5, 200, allow_nan=False)
angles = st.floats(-720, 720, allow_nan=False)
box_rows = st.tuples(coords, coords, sizes, sizes, angles)


def boxes_of(rows):
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 5)


def same_corners(a, b, tol=1e-6):
    """Whether two (N, 4, 2) corner sets describe the same point sets."""
    distance = torch.cdist(a, b)  # (N, 4, 4)
    return bool(
        (distance.amin(dim=-1) < tol).all() and (distance.amin(dim=-2) < tol).all()
    )


def test_wrap_angle_values():
    angles = torch.tensor([-270.0, -90.0, 0.0, 89.5, 90.0, 180.0, 270.0, 450.0])
    expected = torch.tensor([-90.0, -90.0, 0.0, 89.5, -90.0, 0.0, -90.0, -90.0])
    assert torch.equal(wrap_angle(angles), expected)


def test_corners_match_torchvision_box_convert():
    boxes = torch.tensor([[0, 0, 4, 2, 30.0], [10, 5, 3, 7, -45.0], [1, 2, 5, 5, 0.0]])
    ours = cxcywhr_to_poly(boxes).reshape(-1, 8)
    theirs = box_convert(boxes, in_fmt='cxcywhr', out_fmt='xyxyxyxy')
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_corner_convention_counter_clockwise_on_screen():
    # w axis along (cos a, -sin a): a 4x2 box at 90 degrees stands upright, and its
    # first corner (top-left at angle 0) moves to the bottom-left on screen
    corners = cxcywhr_to_poly(torch.tensor([[0.0, 0.0, 4.0, 2.0, 90.0]]))[0]
    expected = torch.tensor([[-1.0, 2.0], [-1.0, -2.0], [1.0, -2.0], [1.0, 2.0]])
    torch.testing.assert_close(corners, expected, atol=1e-6, rtol=0)


@settings(max_examples=60, deadline=None)
@given(st.lists(box_rows, min_size=1, max_size=8))
def test_poly_round_trip_gives_canonical_box(rows):
    boxes = boxes_of(rows)
    back = poly_to_cxcywhr(cxcywhr_to_poly(boxes))
    canonical = canonicalize_cxcywhr(boxes)
    torch.testing.assert_close(back[:, :4], canonical[:, :4], atol=1e-6, rtol=1e-9)
    assert same_corners(cxcywhr_to_poly(back), cxcywhr_to_poly(boxes), tol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.lists(box_rows, min_size=1, max_size=8))
def test_canonical_form(rows):
    boxes = boxes_of(rows)
    canonical = canonicalize_cxcywhr(boxes)
    assert bool((canonical[:, 2] >= canonical[:, 3]).all())
    assert bool((canonical[:, 4] >= -90).all() and (canonical[:, 4] < 90).all())
    assert same_corners(cxcywhr_to_poly(canonical), cxcywhr_to_poly(boxes), tol=1e-6)
    torch.testing.assert_close(canonicalize_cxcywhr(canonical), canonical)


def test_canonical_form_examples():
    boxes = torch.tensor([[0, 0, 2, 4, 0.0], [0, 0, 4, 2, 90.0], [0, 0, 4, 2, -100.0]])
    expected = torch.tensor(
        [[0, 0, 4, 2, -90.0], [0, 0, 4, 2, -90.0], [0, 0, 4, 2, 80.0]]
    )
    torch.testing.assert_close(canonicalize_cxcywhr(boxes), expected)


def test_hrsc_mbox_matches_mmrotate_corner_formula():
    mbox = torch.tensor(
        [
            [100.0, 50.0, 80.0, 20.0, 0.3],
            [10.0, 20.0, 30.0, 60.0, -1.2],
            [0, 0, 5, 5, 0.0],
        ],
        dtype=torch.float64,
    )
    expected = []
    for cx, cy, w, h, a in mbox.tolist():
        # MMRotate: centre ± (w/2)(cos a, sin a) ± (h/2)(-sin a, cos a), y down
        wx, wy = w / 2 * math.cos(a), w / 2 * math.sin(a)
        hx, hy = -h / 2 * math.sin(a), h / 2 * math.cos(a)
        expected.append(
            [
                [cx + sw * wx + sh * hx, cy + sw * wy + sh * hy]
                for sw, sh in ((-1, -1), (1, -1), (1, 1), (-1, 1))
            ]
        )
    boxes = hrsc_mbox_to_cxcywhr(mbox)
    expected_corners = torch.tensor(expected, dtype=torch.float64)
    assert same_corners(cxcywhr_to_poly(boxes), expected_corners, tol=1e-9)
    assert bool((boxes[:, 2] >= boxes[:, 3]).all())


def test_poly_to_cxcywhr_is_the_minimum_area_rectangle():
    quads = torch.tensor(
        [
            [0, 0, 10, 1, 9, 6, -1, 4],
            [0, 0, 4, 0, 4, 3, 0, 3],
            [5, 5, 8, 9, 4, 12, 1, 8],
        ],
        dtype=torch.float64,
    )
    boxes = poly_to_cxcywhr(quads)
    for quad, box in zip(quads.reshape(-1, 4, 2), boxes, strict=True):
        reference = shapely.minimum_rotated_rectangle(shapely.Polygon(quad.numpy()))
        assert float(box[2] * box[3]) == pytest.approx(reference.area, rel=1e-9)
        rectangle = shapely.Polygon(cxcywhr_to_poly(box[None])[0].numpy())
        assert rectangle.buffer(1e-6).contains(shapely.Polygon(quad.numpy()))
    torch.testing.assert_close(
        boxes[1], torch.tensor([2.0, 1.5, 4.0, 3.0, 0.0], dtype=torch.float64)
    )


def test_poly_to_cxcywhr_accepts_flat_and_point_layouts():
    quad = torch.tensor([[0.0, 0, 4, 0, 4, 2, 0, 2]])
    torch.testing.assert_close(
        poly_to_cxcywhr(quad), poly_to_cxcywhr(quad.reshape(1, 4, 2))
    )
    assert poly_to_cxcywhr(torch.zeros((0, 4, 2))).shape == (0, 5)
    assert poly_to_cxcywhr(quad.to(torch.int64)).dtype == torch.float32


def test_poly_to_cxcywhr_empty_flat_input():
    assert poly_to_cxcywhr(torch.zeros((0, 8))).shape == (0, 5)


@pytest.mark.parametrize(
    ('function', 'bad'),
    [
        (cxcywhr_to_poly, torch.zeros(3, 4)),
        (canonicalize_cxcywhr, torch.zeros(5)),
        (hrsc_mbox_to_cxcywhr, torch.zeros(2, 6)),
        (poly_to_cxcywhr, torch.zeros(2, 7)),
        (poly_to_cxcywhr, torch.zeros(2, 1, 2)),
    ],
)
def test_bad_shapes_raise_input_error(function, bad):
    with pytest.raises(InputError, match='shape'):
        function(bad)


def test_xyxy_to_cxcywhr_inverts_the_enclosing_rectangle() -> None:
    xyxy = torch.tensor([[10.0, 20.0, 50.0, 30.0], [0.0, 0.0, 4.0, 12.0]])
    boxes = xyxy_to_cxcywhr(xyxy)
    # canonical: the tall box turns its long side into w at -90 degrees
    assert boxes.flatten().tolist() == pytest.approx(
        [30.0, 25.0, 40.0, 10.0, 0.0, 2.0, 6.0, 12.0, 4.0, -90.0]
    )
    assert torch.allclose(cxcywhr_to_xyxy(boxes), xyxy, atol=1e-5)
