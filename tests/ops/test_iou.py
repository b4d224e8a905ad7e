import pytest
import shapely
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.ops import (
    cxcywhr_to_poly,
    rotated_box_iof,
    rotated_box_iou,
    rotated_box_iou_pairs,
)

angles = st.one_of(
    st.floats(-360, 360, allow_nan=False),
    st.sampled_from([-180.0, -90.0, -45.0, 0.0, 30.0, 45.0, 90.0, 135.0, 180.0]),
)
sizes = st.one_of(
    st.floats(0.05, 40, allow_nan=False), st.sampled_from([0.0, 1.0, 10.0])
)


@st.composite
def box_pairs(draw):
    """A box, a second box near it, and whether they are the same rectangle."""
    cx, cy = draw(st.floats(-1e3, 1e3)), draw(st.floats(-1e3, 1e3))
    first = [cx, cy, draw(sizes), draw(sizes), draw(angles)]
    kind = draw(st.sampled_from(['near', 'same', 'quarter-turn', 'shared-centre']))
    if kind == 'same':
        return first, list(first), True
    if kind == 'quarter-turn':  # the same rectangle written differently
        turns = draw(st.integers(-3, 3))
        w, h = (first[3], first[2]) if turns % 2 else (first[2], first[3])
        return first, [cx, cy, w, h, first[4] + 90.0 * turns], True
    dx, dy = draw(st.floats(-30, 30)), draw(st.floats(-30, 30))
    if kind == 'shared-centre':
        dx = dy = 0.0
    return first, [cx + dx, cy + dy, draw(sizes), draw(sizes), draw(angles)], False


def polygon(box):
    corners = cxcywhr_to_poly(torch.tensor([box], dtype=torch.float64))[0]
    return shapely.Polygon(corners.numpy())


def shapely_iou(a, b, same=False):
    """Shapely's IoU; for the same rectangle written twice, the exact answer.

    GEOS can return an empty intersection for two copies of a thin rectangle
    whose corners differ by rounding, so those cases use the known value.
    """
    if same:
        return 1.0 if a[2] * a[3] > 0 else 0.0
    pa, pb = polygon(a), polygon(b)
    union = pa.union(pb).area
    return pa.intersection(pb).area / union if union > 0 else 0.0


def shapely_iof(a, b, same=False):
    if same:
        return 1.0 if a[2] * a[3] > 0 else 0.0
    pa, pb = polygon(a), polygon(b)
    return pa.intersection(pb).area / pa.area if pa.area > 0 else 0.0


@settings(max_examples=400, deadline=None)
@given(st.lists(box_pairs(), min_size=1, max_size=6))
def test_pairwise_iou_matches_shapely(pairs):
    first = torch.tensor([p[0] for p in pairs], dtype=torch.float64)
    second = torch.tensor([p[1] for p in pairs], dtype=torch.float64)
    expected = torch.tensor([shapely_iou(*p) for p in pairs], dtype=torch.float64)
    torch.testing.assert_close(
        rotated_box_iou_pairs(first, second), expected, atol=1e-4, rtol=0
    )
    # float32 keeps that accuracy up to its rounding of the coordinates
    # relative to the box size (a 1/16-px box 128 px from the origin loses ~1e-4)
    got32 = rotated_box_iou_pairs(first.float(), second.float()).double()
    reach = first[:, :2].abs().amax(1) + second[:, :2].abs().amax(1) + 1
    side = torch.minimum(first[:, 2:4].amin(1), second[:, 2:4].amin(1))
    rounding = 8 * torch.finfo(torch.float32).eps * reach / side.clamp_min(1e-9)
    assert ((got32 - expected).abs() <= 1e-4 + rounding).all(), (got32, expected)
    # the matrix form computes the same values
    torch.testing.assert_close(
        rotated_box_iou(first, second).diagonal(), expected, atol=1e-4, rtol=0
    )


def test_case_where_torchvision_box_iou_fails():
    # a corner of the first box lies 8e-6 px inside the second one; torchvision
    # 0.29.1's compiled op returns 0.1739 one way round and 0.3488 the other
    first = [
        73.82596588134766,
        83.1111831665039,
        17.248458862304688,
        9.416845321655273,
        83.19078063964844,
    ]
    second = [
        69.56646728515625,
        81.49901580810547,
        14.908238410949707,
        10.471635818481445,
        77.0312728881836,
    ]
    expected = shapely_iou(first, second)
    assert expected == pytest.approx(0.348790, abs=1e-6)
    boxes = torch.tensor([first, second])
    matrix = rotated_box_iou(boxes, boxes)
    assert float(matrix[0, 1]) == pytest.approx(expected, abs=1e-6)
    assert float(matrix[1, 0]) == pytest.approx(expected, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(st.lists(box_pairs(), min_size=1, max_size=5))
def test_iof_matches_shapely(pairs):
    first = torch.tensor([p[0] for p in pairs], dtype=torch.float64)
    second = torch.tensor([p[1] for p in pairs], dtype=torch.float64)
    expected = torch.tensor(
        [
            [shapely_iof(a, b, same and i == j) for j, (_, b, _) in enumerate(pairs)]
            for i, (a, _, same) in enumerate(pairs)
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(
        rotated_box_iof(first, second), expected, atol=1e-4, rtol=0
    )


def test_known_values():
    boxes = torch.tensor(
        [
            [0.0, 0.0, 4.0, 2.0, 0.0],  # 0
            [0.0, 0.0, 2.0, 4.0, 90.0],  # 1: box 0 written another way
            [4.0, 0.0, 4.0, 2.0, 0.0],  # 2: touches box 0 along an edge
            [1.0, 0.0, 2.0, 2.0, 0.0],  # 3: right half of box 0
            [0.0, 0.0, 2.0, 2.0, 45.0],  # 4: rotated square inside... partly
            [50.0, 50.0, 4.0, 2.0, 10.0],  # 5: far away
            [0.0, 0.0, 4.0, 2.0, 180.0],  # 6: box 0 turned half a turn
        ]
    )
    first = boxes[[0, 0, 0, 0, 0, 0]]
    second = boxes[[1, 2, 3, 5, 6, 0]]
    expected = torch.tensor([1.0, 0.0, 0.5, 0.0, 1.0, 1.0])
    torch.testing.assert_close(rotated_box_iou_pairs(first, second), expected)
    # the square turned by 45 degrees: shapely reference
    value = rotated_box_iou_pairs(boxes[[0]], boxes[[4]])
    assert float(value) == pytest.approx(
        shapely_iou(boxes[0].tolist(), boxes[4].tolist())
    )
    assert float(rotated_box_iof(boxes[[3]], boxes[[0]])) == 1.0
    assert float(rotated_box_iof(boxes[[0]], boxes[[3]])) == 0.5


def test_nearly_parallel_edges_are_stable():
    base = torch.tensor([[100.0, 100.0, 40.0, 10.0, 30.1]], dtype=torch.float64)
    for delta in (1e-12, 1e-9, 1e-6, 90.0 + 1e-12, -180.0 + 1e-9):
        other = base.clone()
        other[0, 4] += delta
        if abs(delta) > 45:
            other[0, 2:4] = other[0, 2:4].flip(0) if abs(delta) < 135 else other[0, 2:4]
        assert float(rotated_box_iou_pairs(base, other)) == pytest.approx(1.0, abs=1e-6)
        shifted = other.clone()
        shifted[0, 0] += 1e-7
        assert float(rotated_box_iou_pairs(base, shifted)) == pytest.approx(
            1.0, abs=1e-6
        )


def test_zero_size_boxes_give_zero_not_nan():
    boxes = torch.tensor(
        [[0.0, 0.0, 0.0, 5.0, 10.0], [0.0, 0.0, 0.0, 0.0, 0.0], [0, 0, 4, 4, 0.0]]
    )
    for result in (
        rotated_box_iou(boxes, boxes),
        rotated_box_iof(boxes, boxes),
        rotated_box_iou_pairs(boxes, boxes.flip(0)),
    ):
        assert not bool(result.isnan().any())
    assert rotated_box_iou(boxes, boxes)[:2].abs().sum() == 0
    assert rotated_box_iou_pairs(boxes, boxes)[:2].abs().sum() == 0
    assert rotated_box_iof(boxes, boxes)[:2].abs().sum() == 0


def test_empty_inputs_dtype_and_shapes():
    boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0, 0.0]])
    empty = torch.zeros((0, 5))
    assert rotated_box_iou(empty, boxes).shape == (0, 1)
    assert rotated_box_iou(boxes, empty).shape == (1, 0)
    assert rotated_box_iof(empty, boxes).shape == (0, 1)
    assert rotated_box_iou_pairs(empty, empty).shape == (0,)
    assert rotated_box_iou(boxes.double(), boxes).dtype == torch.float64
    assert rotated_box_iou(boxes, boxes).dtype == torch.float32
    assert rotated_box_iou_pairs(boxes.double(), boxes).dtype == torch.float64
    assert rotated_box_iof(boxes.long(), boxes.long()).dtype == torch.float32
    assert float(rotated_box_iou(boxes.long(), boxes.long())) == 1.0


def test_large_matrix_matches_pairs():
    generator = torch.Generator().manual_seed(0)
    boxes = torch.cat(
        [
            torch.rand(300, 2, generator=generator) * 100,
            torch.rand(300, 2, generator=generator) * 30 + 1,
            torch.rand(300, 1, generator=generator) * 360 - 180,
        ],
        dim=1,
    )
    matrix = rotated_box_iou(boxes, boxes)
    i, j = torch.meshgrid(torch.arange(300), torch.arange(300), indexing='ij')
    pairs = rotated_box_iou_pairs(boxes[i.flatten()], boxes[j.flatten()]).reshape(
        300, 300
    )
    torch.testing.assert_close(pairs, matrix, atol=2e-5, rtol=0)
    assert float(matrix.gt(0.05).float().mean()) > 0.02  # the test sees overlaps


@pytest.mark.parametrize(
    ('first', 'second', 'message'),
    [
        (torch.zeros(2, 4), torch.zeros(2, 5), 'boxes1: must have shape'),
        (torch.zeros(2, 5), [[0, 0, 1, 1, 0]], 'boxes2: must be a torch.Tensor'),
        (torch.tensor([[0, 0, -1.0, 1, 0]]), torch.zeros(1, 5), 'negative'),
        (torch.tensor([[0, 0, float('nan'), 1, 0]]), torch.zeros(1, 5), 'NaN'),
        (torch.zeros(2, 5, dtype=torch.bool), torch.zeros(1, 5), 'real numbers'),
    ],
)
def test_bad_inputs(first, second, message):
    for function in (rotated_box_iou, rotated_box_iof, rotated_box_iou_pairs):
        with pytest.raises(InputError, match=message):
            function(first, second)


def test_pairs_need_equal_lengths():
    with pytest.raises(InputError, match='as many boxes'):
        rotated_box_iou_pairs(torch.zeros(2, 5), torch.zeros(3, 5))


@pytest.mark.gpu
def test_cuda_matches_cpu():
    generator = torch.Generator().manual_seed(1)
    boxes = torch.cat(
        [
            torch.rand(200, 2, generator=generator) * 50,
            torch.rand(200, 2, generator=generator) * 20 + 1,
            torch.rand(200, 1, generator=generator) * 180 - 90,
        ],
        dim=1,
    )
    cuda = boxes.cuda()
    torch.testing.assert_close(
        rotated_box_iou(cuda, cuda).cpu(), rotated_box_iou(boxes, boxes)
    )
    torch.testing.assert_close(
        rotated_box_iou_pairs(cuda, cuda.flip(0)).cpu(),
        rotated_box_iou_pairs(boxes, boxes.flip(0)),
        atol=1e-5,
        rtol=0,
    )
    torch.testing.assert_close(
        rotated_box_iof(cuda, cuda).cpu(),
        rotated_box_iof(boxes, boxes),
        atol=1e-5,
        rtol=0,
    )
    with pytest.raises(InputError, match='is on'):
        rotated_box_iou(boxes, cuda)
