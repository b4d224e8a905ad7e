import time

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torchvision.ops import box_convert, nms

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.ops import (
    batched_rotated_nms,
    merge_boxes,
    rotated_box_iou,
    rotated_box_iou_pairs,
    rotated_nms,
)
from torchgeo_cstf.ops.nms import BLOCK_SIZE


def naive_nms(boxes, scores, threshold, labels=None, iou=None):
    """O(n²) greedy NMS on the full IoU matrix, torchvision's tie order."""
    if iou is None:
        iou = rotated_box_iou(boxes, boxes)
    if labels is not None:
        iou = torch.where(labels[:, None] == labels[None, :], iou, 0.0)
    order = torch.argsort(scores, descending=True, stable=True)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if not suppressed[i]:
            keep.append(i)
            suppressed |= iou[i] > threshold
    return torch.tensor(keep, dtype=torch.int64), iou


def clustered_boxes(n, seed, image=1024.0, per_object=15, ties=False):
    """Detector-like output: jittered copies of boxes around random objects."""
    g = torch.Generator().manual_seed(seed)
    objects = max(1, n // per_object)
    centre = torch.rand(objects, 2, generator=g) * image
    size = torch.rand(objects, 2, generator=g) * 60 + 8
    angle = torch.rand(objects, 1, generator=g) * 180 - 90
    pick = torch.randint(0, objects, (n,), generator=g)
    boxes = torch.cat(
        [
            centre[pick] + torch.randn(n, 2, generator=g) * 5,
            size[pick] * (1 + 0.15 * torch.randn(n, 2, generator=g)).abs(),
            angle[pick] + torch.randn(n, 1, generator=g) * 8,
        ],
        dim=1,
    )
    if ties:
        scores = torch.randint(0, 4, (n,), generator=g).float() / 4
    else:
        scores = torch.rand(n, generator=g)
    labels = torch.randint(0, 3, (n,), generator=g)
    return boxes, scores, labels


def margin_to_threshold(iou, threshold):
    """Distance to the threshold of the closest positive IoU: NMS computes the
    IoU of each pair on its own, which may round differently from the matrix by
    ~1e-7, so only clear decisions are compared (an IoU of exactly 0, boxes
    apart, is always clear)."""
    positive = iou[iou > 0]
    return float((positive - threshold).abs().min()) if positive.numel() else 1.0


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 300),
    seed=st.integers(0, 2**16),
    threshold=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 0.95]),
    ties=st.booleans(),
)
def test_matches_naive_greedy(n, seed, threshold, ties):
    boxes, scores, labels = clustered_boxes(n, seed, image=200.0, ties=ties)
    expected, iou = naive_nms(boxes, scores, threshold)
    assume(n == 0 or margin_to_threshold(iou, threshold) > 1e-5)
    assert torch.equal(rotated_nms(boxes, scores, threshold), expected)
    expected, iou = naive_nms(boxes, scores, threshold, labels)
    assert torch.equal(batched_rotated_nms(boxes, scores, labels, threshold), expected)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_more_boxes_than_a_block(seed):
    boxes, scores, labels = clustered_boxes(
        3 * BLOCK_SIZE + 17, seed, image=800.0, per_object=2, ties=True
    )
    iou = rotated_box_iou(boxes, boxes)
    for threshold in (0.2, 0.6):
        assert margin_to_threshold(iou, threshold) > 1e-7
        expected, _ = naive_nms(boxes, scores, threshold, iou=iou)
        kept = rotated_nms(boxes, scores, threshold)
        assert torch.equal(kept, expected)
        assert BLOCK_SIZE < kept.numel() < boxes.shape[0]  # several blocks kept some
        expected, _ = naive_nms(boxes, scores, threshold, labels, iou=iou)
        assert torch.equal(
            batched_rotated_nms(boxes, scores, labels, threshold), expected
        )


def test_axis_aligned_boxes_match_torchvision_nms_including_ties():
    g = torch.Generator().manual_seed(3)
    n = 2000
    xy = torch.rand(n, 2, generator=g) * 200
    wh = torch.rand(n, 2, generator=g) * 36 + 4
    scores = torch.randint(0, 5, (n,), generator=g).float()  # many equal scores
    boxes = torch.cat([xy, wh, torch.zeros(n, 1)], dim=1)
    xyxy = box_convert(boxes[:, :4], 'cxcywh', 'xyxy')
    for threshold in (0.3, 0.5):
        expected = nms(xyxy, scores, threshold)
        assert torch.equal(rotated_nms(boxes, scores, threshold), expected)
        # the same boxes turned by a quarter turn are the same rectangles
        turned = torch.cat([xy, wh.flip(1), torch.full((n, 1), 90.0)], dim=1)
        assert torch.equal(rotated_nms(turned, scores, threshold), expected)


def test_equal_scores_keep_the_lower_index():
    box = torch.tensor([[10.0, 10.0, 8.0, 4.0, 30.0]])
    boxes = box.repeat(5, 1)
    scores = torch.tensor([0.5, 0.9, 0.9, 0.9, 0.1])
    assert rotated_nms(boxes, scores, 0.5).tolist() == [1]
    scores = torch.ones(5)
    assert rotated_nms(boxes, scores, 0.5).tolist() == [0]
    assert rotated_nms(boxes, scores, 1.0).tolist() == [0, 1, 2, 3, 4]


def test_labels_separate_classes():
    boxes = torch.tensor([[10.0, 10.0, 8.0, 4.0, 30.0]]).repeat(4, 1)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    labels = torch.tensor([0, 1, 0, 1])
    assert batched_rotated_nms(boxes, scores, labels, 0.5).tolist() == [0, 1]
    assert rotated_nms(boxes, scores, 0.5).tolist() == [0]


def test_empty_zero_size_and_single():
    empty = rotated_nms(torch.zeros((0, 5)), torch.zeros(0), 0.5)
    assert empty.dtype == torch.int64
    assert empty.shape == (0,)
    labels = torch.zeros(0, dtype=torch.int64)
    assert batched_rotated_nms(
        torch.zeros((0, 5)), torch.zeros(0), labels, 0.5
    ).shape == (0,)
    zero = torch.tensor(
        [[5.0, 5.0, 0.0, 0.0, 0.0], [5.0, 5.0, 0.0, 3.0, 0.0], [5, 5, 2, 2, 0.0]]
    )
    # zero-area boxes have IoU 0 with everything: nothing is suppressed, even at 0
    assert rotated_nms(zero, torch.tensor([0.1, 0.2, 0.3]), 0.0).tolist() == [2, 1, 0]
    one = rotated_nms(
        torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]]), torch.tensor([0.3]), 0.5
    )
    assert one.tolist() == [0]


def test_threshold_is_strict():
    # IoU of these two is exactly 0.5 (a half-size box inside the other)
    boxes = torch.tensor([[5.0, 5.0, 10.0, 10.0, 0.0], [5.0, 5.0, 10.0, 5.0, 0.0]])
    scores = torch.tensor([0.9, 0.8])
    assert rotated_nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert rotated_nms(boxes, scores, 0.49).tolist() == [0]


def check_greedy(boxes, scores, kept, threshold):
    """kept is exactly greedy NMS: a box is kept iff no kept box ranked before it
    overlaps it by more than the threshold. Only pairs whose centres are closer
    than the sum of their half diagonals can overlap; those are all checked."""
    order = torch.argsort(scores, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order))
    assert bool((rank[kept].diff() > 0).all())
    half_diagonal = boxes[:, 2:4].norm(dim=1) / 2
    reach = half_diagonal[:, None] + half_diagonal[kept][None, :]
    near = torch.cdist(boxes[:, :2], boxes[kept, :2]) < reach  # (N, K)
    near &= rank[kept][None, :] < rank[:, None]
    i, k = near.nonzero().unbind(1)
    iou = rotated_box_iou_pairs(boxes[kept[k]], boxes[i])
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    suppressed[i[iou > threshold]] = True
    is_kept = torch.zeros(len(boxes), dtype=torch.bool)
    is_kept[kept] = True
    assert torch.equal(is_kept, ~suppressed)


def test_twenty_thousand_boxes():
    boxes, scores, _ = clustered_boxes(20_000, 7, image=4096.0, per_object=20)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rotated_nms(boxes[:100], scores[:100], 0.1)  # warm-up
        start = time.perf_counter()
        kept = rotated_nms(boxes, scores, 0.1)
        elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    # the goal is < 1 s on one core; leave room for slow shared machines
    assert elapsed < 3.0
    check_greedy(boxes, scores, kept, 0.1)


@pytest.mark.parametrize(
    ('boxes', 'scores', 'threshold', 'message'),
    [
        (torch.zeros(3, 4), torch.zeros(3), 0.5, 'boxes: must have shape'),
        (torch.zeros(3, 5), torch.zeros(2), 0.5, 'scores: must be a tensor of shape'),
        (torch.zeros(2, 5), torch.tensor([0.1, float('nan')]), 0.5, 'without NaN'),
        (torch.zeros(2, 5), torch.zeros(2), 1.5, r'iou_threshold: must be in \[0, 1\]'),
        (torch.zeros(2, 5), torch.zeros(2), '0.5', 'iou_threshold: must be a number'),
    ],
)
def test_bad_inputs(boxes, scores, threshold, message):
    with pytest.raises(InputError, match=message):
        rotated_nms(boxes, scores, threshold)


def test_bad_labels():
    boxes, scores = torch.zeros(2, 5), torch.zeros(2)
    with pytest.raises(InputError, match='labels: must be integers'):
        batched_rotated_nms(boxes, scores, torch.zeros(2), 0.5)
    with pytest.raises(InputError, match='labels: must be a tensor of shape'):
        batched_rotated_nms(boxes, scores, torch.zeros(3, dtype=torch.int64), 0.5)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    boxes, scores, labels = clustered_boxes(3000, 11, image=500.0)
    for threshold in (0.1, 0.5):
        cpu = rotated_nms(boxes, scores, threshold)
        cuda = rotated_nms(boxes.cuda(), scores.cuda(), threshold)
        assert cuda.device.type == 'cuda'
        assert torch.equal(cuda.cpu(), cpu)
        cpu = batched_rotated_nms(boxes, scores, labels, threshold)
        cuda = batched_rotated_nms(
            boxes.cuda(), scores.cuda(), labels.cuda(), threshold
        )
        assert torch.equal(cuda.cpu(), cpu)


def test_merge_boxes_is_nms_over_all_parts() -> None:
    first = (
        torch.tensor(
            [[50.0, 50, 40, 10, 0], [200, 200, 30, 30, 45]], dtype=torch.float64
        ),
        torch.tensor([0.9, 0.5], dtype=torch.float64),
        torch.tensor([0, 1]),
    )
    # the same ship seen again by a neighbouring tile, a little weaker and shifted
    second = (
        torch.tensor(
            [[52.0, 50, 40, 10, 2], [400, 80, 20, 8, 10]], dtype=torch.float64
        ),
        torch.tensor([0.8, 0.7], dtype=torch.float64),
        torch.tensor([0, 0]),
    )
    boxes, scores, labels = merge_boxes([first, second], 0.5)
    assert scores.tolist() == [0.9, 0.7, 0.5]  # the weaker duplicate is gone
    assert labels.tolist() == [0, 0, 1] and labels.dtype == torch.long
    torch.testing.assert_close(boxes[1], second[0][1])
    # class-wise: the same box in another class survives
    other = (first[0][:1], torch.tensor([0.6], dtype=torch.float64), torch.tensor([2]))
    assert len(merge_boxes([first, other], 0.5)[0]) == 3
    empty = merge_boxes([], 0.5)
    assert [t.shape for t in empty] == [(0, 5), (0,), (0,)]
