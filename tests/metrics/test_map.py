import math

import numpy as np
import pytest
import torch

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.metrics import OrientedMeanAveragePrecision, average_precision
from torchgeo_cstf.ops import rotated_box_iou


def pred(boxes, scores, labels):
    return {
        'boxes': torch.tensor(boxes, dtype=torch.float32).reshape(-1, 5),
        'scores': torch.tensor(scores, dtype=torch.float32),
        'labels': torch.tensor(labels, dtype=torch.int64),
    }


def target(boxes, labels, difficult=None):
    out = {
        'boxes': torch.tensor(boxes, dtype=torch.float32).reshape(-1, 5),
        'labels': torch.tensor(labels, dtype=torch.int64),
    }
    if difficult is not None:
        out['difficult'] = torch.tensor(difficult, dtype=torch.bool)
    return out


A = [10.0, 10.0, 8.0, 4.0, 30.0]
B = [50.0, 50.0, 10.0, 6.0, -20.0]
C = [90.0, 20.0, 12.0, 5.0, 75.0]
FAR = [300.0, 300.0, 8.0, 4.0, 0.0]


def compute(preds, targets, **kwargs):
    metric = OrientedMeanAveragePrecision(**kwargs)
    metric.update(preds, targets)
    return metric.compute()


@pytest.mark.parametrize('ap_method', ['voc07', 'area'])
def test_perfect_detector_scores_one(ap_method):
    preds = [pred([A, B], [0.9, 0.8], [0, 1]), pred([C], [0.7], [0])]
    targets = [target([A, B], [0, 1]), target([C], [0])]
    result = compute(preds, targets, ap_method=ap_method, iou_thresholds=[0.5, 0.75])
    assert float(result['map']) == 1.0
    assert float(result['map_50']) == 1.0
    assert float(result['map_75']) == 1.0
    assert result['map_per_class'].tolist() == [1.0, 1.0]


def test_duplicate_detection_hand_computed():
    # scores 0.9 TP, 0.8 duplicate of the same object (FP), 0.7 TP
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    preds = [pred([A, A, B], [0.9, 0.8, 0.7], [0, 0, 0])]
    targets = [target([A, B], [0, 0])]
    voc07 = compute(preds, targets, ap_method='voc07')
    # recall levels 0..0.5 (6 of them) reach precision 1, 0.6..1.0 (5) reach 2/3
    assert float(voc07['map']) == pytest.approx((6 * 1.0 + 5 * 2 / 3) / 11, abs=1e-6)
    area = compute(preds, targets, ap_method='area')
    assert float(area['map']) == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3, abs=1e-6)


def test_difficult_ground_truth_is_ignored():
    # the 0.95 detection hits a difficult object: neither TP nor FP, and the
    # difficult object is not counted in the recall denominator
    preds = [pred([C, A, FAR], [0.95, 0.9, 0.8], [0, 0, 0])]
    targets = [target([A, C], [0, 0], difficult=[False, True])]
    result = compute(preds, targets, ap_method='area')
    # A: precision 1 at recall 1; FAR comes after and changes nothing
    assert float(result['map']) == pytest.approx(1.0)
    # without the difficult flag, the C detection is a TP and recall needs both
    plain = compute(preds, [target([A, C], [0, 0])], ap_method='area')
    assert float(plain['map']) == pytest.approx(1.0)
    # a class with only difficult objects is not evaluated
    only_difficult = compute(
        [pred([A], [0.9], [1])], [target([A], [1], difficult=[True])], num_classes=2
    )
    assert math.isnan(float(only_difficult['map']))


def test_missed_difficult_object_does_not_lower_recall():
    preds = [pred([A], [0.9], [0])]
    targets = [target([A, C], [0, 0], difficult=[False, True])]
    assert float(compute(preds, targets)['map']) == pytest.approx(1.0)
    targets = [target([A, C], [0, 0])]
    # recall reaches only 1/2: 6 of the 11 points have precision 1
    assert float(compute(preds, targets)['map']) == pytest.approx(6 / 11, abs=1e-6)


def test_class_without_predictions_and_class_without_targets():
    preds = [pred([A, FAR], [0.9, 0.5], [0, 2])]
    targets = [target([A, B], [0, 1])]
    result = compute(preds, targets, num_classes=3)
    per_class = result['map_per_class']
    assert per_class[0] == 1.0
    assert per_class[1] == 0.0  # ground truth but no prediction: AP 0
    assert math.isnan(float(per_class[2]))  # no ground truth: left out of map
    assert float(result['map']) == pytest.approx(0.5)
    assert result['classes'].tolist() == [0, 1, 2]


def test_classes_default_to_the_labels_seen():
    result = compute([pred([A], [0.9], [4])], [target([B], [7])])
    assert result['classes'].tolist() == [4, 7]
    assert torch.isnan(result['map_per_class'][0])
    assert float(result['map_per_class'][1]) == 0.0
    assert float(result['map']) == 0.0


def test_iou_threshold_is_strict():
    gt = [5.0, 5.0, 10.0, 10.0, 0.0]
    half = [5.0, 5.0, 10.0, 5.0, 0.0]  # IoU exactly 0.5
    result = compute(
        [pred([half], [0.9], [0])], [target([gt], [0])], iou_thresholds=[0.5]
    )
    assert float(result['map']) == 0.0
    result = compute(
        [pred([half], [0.9], [0])], [target([gt], [0])], iou_thresholds=[0.4999]
    )
    assert float(result['map']) == 1.0


def test_match_takes_the_best_overlap_even_if_already_matched():
    # devkit rule: the second detection's best gt is the already matched one, so
    # it is a false positive although it also overlaps the other gt above 0.5
    big = [20.0, 20.0, 20.0, 10.0, 0.0]
    left = [18.0, 20.0, 20.0, 10.0, 0.0]
    right = [23.0, 20.0, 20.0, 10.0, 0.0]
    detection = [19.4, 20.0, 20.0, 10.0, 0.0]  # IoU 0.942 with big, 0.869 with left
    preds = [pred([big, detection], [0.9, 0.8], [0, 0])]
    targets = [target([big, left, right], [0, 0, 0])]
    result = compute(preds, targets, ap_method='area')
    # one TP of three objects (a "best unmatched" rule would give 2/3)
    assert float(result['map']) == pytest.approx(1 / 3)


def test_several_updates_equal_one_and_merge_state():
    generator = torch.Generator().manual_seed(5)
    preds, targets = random_dataset(generator, images=12, classes=3)
    whole = compute(preds, targets, iou_thresholds=[0.5, 0.75])
    metric = OrientedMeanAveragePrecision(iou_thresholds=[0.5, 0.75])
    for i in range(0, 12, 5):
        metric.update(preds[i : i + 5], targets[i : i + 5])
    stepwise = metric.compute()
    first = OrientedMeanAveragePrecision(iou_thresholds=[0.5, 0.75])
    second = OrientedMeanAveragePrecision(iou_thresholds=[0.5, 0.75])
    first.update(preds[:7], targets[:7])
    second.update(preds[7:], targets[7:])
    first.merge_state(second)  # what a cross-process sync does: concatenation
    merged = first.compute()
    for result in (stepwise, merged):
        assert float(result['map']) == pytest.approx(float(whole['map']), abs=1e-7)
        torch.testing.assert_close(
            result['map_per_class'], whole['map_per_class'], equal_nan=True
        )
    assert 0.05 < float(whole['map']) < 0.95  # a case that can tell them apart


def random_dataset(generator, images, classes):
    preds, targets = [], []
    for _ in range(images):
        g = int(torch.randint(0, 6, (1,), generator=generator))
        gt = torch.cat(
            [
                torch.rand(g, 2, generator=generator) * 200,
                torch.rand(g, 2, generator=generator) * 30 + 8,
                torch.rand(g, 1, generator=generator) * 180 - 90,
            ],
            dim=1,
        )
        gt_labels = torch.randint(0, classes, (g,), generator=generator)
        difficult = torch.rand(g, generator=generator) < 0.2
        # detections: noisy copies of the ground truth, duplicates and clutter
        copies = gt.repeat(2, 1)
        copies[:, :2] += torch.randn(2 * g, 2, generator=generator) * 3
        copies[:, 4] += torch.randn(2 * g, generator=generator) * 10
        clutter = torch.cat(
            [
                torch.rand(3, 2, generator=generator) * 200,
                torch.rand(3, 2, generator=generator) * 30 + 8,
                torch.rand(3, 1, generator=generator) * 180 - 90,
            ],
            dim=1,
        )
        boxes = torch.cat([copies, clutter])
        labels = torch.cat(
            [gt_labels.repeat(2), torch.randint(0, classes, (3,), generator=generator)]
        )
        flip = torch.rand(labels.shape, generator=generator) < 0.1
        labels = torch.where(flip, (labels + 1) % classes, labels)
        scores = torch.rand(boxes.shape[0], generator=generator)
        preds.append({'boxes': boxes, 'scores': scores, 'labels': labels})
        targets.append({'boxes': gt, 'labels': gt_labels, 'difficult': difficult})
    return preds, targets


def reference_map(preds, targets, threshold, use_07):
    """The devkit loop, written from its definition with NumPy."""
    classes = sorted({int(x) for t in targets for x in t['labels']})
    aps = []
    for c in classes:
        records = []
        npos = 0
        for t in targets:
            mask = (t['labels'] == c).numpy()
            npos += int((~t['difficult'].numpy()[mask]).sum())
            records.append(
                {
                    'boxes': t['boxes'][mask],
                    'difficult': t['difficult'].numpy()[mask],
                    'seen': np.zeros(int(mask.sum()), dtype=bool),
                }
            )
        if npos == 0:
            continue
        detections = [
            (float(p['scores'][k]), image, p['boxes'][k])
            for image, p in enumerate(preds)
            for k in range(len(p['scores']))
            if int(p['labels'][k]) == c
        ]
        detections.sort(key=lambda item: -item[0])
        tp = np.zeros(len(detections))
        fp = np.zeros(len(detections))
        for d, (_, image, box) in enumerate(detections):
            record = records[image]
            best = -np.inf
            if len(record['boxes']):
                overlaps = rotated_box_iou(box[None], record['boxes'])[0].numpy()
                best, j = overlaps.max(), int(overlaps.argmax())
            if best > threshold:
                if not record['difficult'][j]:
                    if not record['seen'][j]:
                        tp[d] = 1
                        record['seen'][j] = True
                    else:
                        fp[d] = 1
            else:
                fp[d] = 1
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        rec = tp / npos
        prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        if use_07:
            ap = 0.0
            for level in np.arange(0.0, 1.1, 0.1):
                p = 0.0 if np.sum(rec >= level) == 0 else np.max(prec[rec >= level])
                ap += p / 11.0
        else:
            mrec = np.concatenate(([0.0], rec, [1.0]))
            mpre = np.concatenate(([0.0], prec, [0.0]))
            for i in range(mpre.size - 1, 0, -1):
                mpre[i - 1] = max(mpre[i - 1], mpre[i])
            i = np.where(mrec[1:] != mrec[:-1])[0]
            ap = float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))
        aps.append(ap)
    return float(np.mean(aps))


@pytest.mark.parametrize('ap_method', ['voc07', 'area'])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_independent_devkit_computation(ap_method, seed):
    generator = torch.Generator().manual_seed(seed)
    preds, targets = random_dataset(generator, images=15, classes=4)
    thresholds = [0.5, 0.7]
    result = compute(preds, targets, iou_thresholds=thresholds, ap_method=ap_method)
    expected = [
        reference_map(preds, targets, t, use_07=ap_method == 'voc07')
        for t in thresholds
    ]
    assert float(result['map_50']) == pytest.approx(expected[0], abs=1e-6)
    assert float(result['map']) == pytest.approx(np.mean(expected), abs=1e-6)
    assert 0.05 < expected[0] < 0.95


def test_average_precision_edge_cases():
    none = torch.zeros((0, 1), dtype=torch.bool)
    empty = average_precision(torch.zeros(0), none, none, 3, 'voc07')
    assert empty.tolist() == [0.0]
    assert torch.isnan(average_precision(torch.zeros(0), none, none, 0, 'area')).all()
    # a first detection on a difficult object: precision 0/eps, not NaN
    tp = torch.tensor([[False], [True]])
    fp = torch.tensor([[False], [False]])
    value = average_precision(torch.tensor([0.9, 0.8]), tp, fp, 1, 'area')
    assert value.tolist() == [1.0]


def test_class_names_give_named_entries():
    result = compute(
        [pred([A], [0.9], [1])], [target([A], [1])], class_names=['plane', 'ship']
    )
    assert float(result['map_ship']) == 1.0
    assert math.isnan(float(result['map_plane']))


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'iou_thresholds': []}, 'iou_thresholds: must not be empty'),
        ({'iou_thresholds': [1.0]}, r'iou_thresholds: must be in \[0, 1\)'),
        ({'ap_method': 'coco'}, 'ap_method'),
        ({'num_classes': 0}, 'num_classes'),
        ({'num_classes': 3, 'class_names': ['a', 'b']}, 'class_names'),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        OrientedMeanAveragePrecision(**kwargs)


@pytest.mark.parametrize(
    ('preds', 'targets', 'message'),
    [
        ([pred([A], [0.9], [0])], [], 'targets: has 0 images'),
        (
            [{'boxes': torch.zeros(1, 5), 'labels': torch.zeros(1, dtype=torch.int64)}],
            [target([A], [0])],
            "needs a tensor under 'scores'",
        ),
        ([pred([A], [0.9], [0])], [target([A], [5])], 'below num_classes'),
        ([pred([A], [0.9], [-1])], [target([A], [0])], 'must not be negative'),
        (
            [pred([A], [0.9], [0])],
            [{'boxes': torch.zeros(1, 4), 'labels': torch.zeros(1, dtype=torch.int64)}],
            r"targets\[0\]\['boxes'\]: must have shape",
        ),
        (
            [{**pred([A], [0.9], [0]), 'labels': torch.zeros(1)}],
            [target([A], [0])],
            'must be integers',
        ),
        (
            [pred([A], [0.9], [0])],
            [{**target([A], [0]), 'difficult': torch.zeros(2, dtype=torch.bool)}],
            'must have shape',
        ),
    ],
)
def test_bad_updates(preds, targets, message):
    metric = OrientedMeanAveragePrecision(num_classes=2)
    with pytest.raises(InputError, match=message):
        metric.update(preds, targets)


def test_empty_images():
    result = compute(
        [pred([], [], []), pred([A], [0.9], [0])], [target([A], [0]), target([], [])]
    )
    # the one object was missed, the one detection is a false positive
    assert float(result['map']) == 0.0


def test_nothing_to_evaluate_gives_nan():
    metric = OrientedMeanAveragePrecision()
    metric.update([], [])
    result = metric.compute()
    assert math.isnan(float(result['map']))
    assert result['map_per_class'].numel() == 0


def test_nan_scores_are_rejected():
    metric = OrientedMeanAveragePrecision()
    with pytest.raises(InputError, match=r"preds\[0\]\['scores'\]: must be real"):
        metric.update([pred([A], [float('nan')], [0])], [target([A], [0])])
