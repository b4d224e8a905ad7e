import math

import pytest
import torch

from torchgeo_cstf.errors import InputError, InputNotFoundError
from torchgeo_cstf.metrics import OrientedMeanAveragePrecision, evaluate_dota_task1
from torchgeo_cstf.ops import cxcywhr_to_poly, poly_to_cxcywhr

CLASSES = ['plane', 'ship', 'harbor']


def quad(cx, cy, w, h, angle):
    corners = cxcywhr_to_poly(
        torch.tensor([[cx, cy, w, h, angle]], dtype=torch.float64)
    )
    return ' '.join(f'{v:.6f}' for v in corners.flatten().tolist())


PLANE_1 = quad(100, 100, 40, 30, 10)
PLANE_2 = quad(300, 120, 40, 30, -30)
SHIP_1 = quad(200, 250, 60, 12, 45)
SHIP_HARD = quad(400, 400, 50, 10, 0)


@pytest.fixture
def dataset(tmp_path):
    labels = tmp_path / 'labelTxt'
    labels.mkdir()
    (labels / 'P0001.txt').write_text(
        'imagesource:GoogleEarth\ngsd:0.146\n'
        f'{PLANE_1} plane 0\n{SHIP_1} ship 0\n{SHIP_HARD} ship 1\n'
        f'{quad(50, 50, 10, 10, 0)} container-crane 0\n'
    )
    (labels / 'P0002.txt').write_text(f'{PLANE_2} plane\n\n')
    (labels / 'P0003.txt').write_text('')
    results = tmp_path / 'results'
    results.mkdir()
    (results / 'Task1_plane.txt').write_text(
        f'P0001 0.9 {PLANE_1}\n'
        f'P0001 0.8 {PLANE_1}\n'  # duplicate: FP
        f'P0003 0.7 {quad(10, 10, 20, 20, 0)}\n'  # clutter: FP
        f'P0002 0.6 {PLANE_2}\n'
    )
    (results / 'Task1_ship.txt').write_text(
        f'P0001 0.95 {SHIP_HARD}\nP0001 0.5 {SHIP_1}\n'
    )
    return results, labels


def test_hand_computed_scores(dataset):
    results, labels = dataset
    result = evaluate_dota_task1(results, labels, CLASSES)
    # plane: TP, FP, FP, TP -> precision 1, .5, .33, .5 at recall .5, .5, .5, 1
    plane = (6 * 1.0 + 5 * 0.5) / 11
    # ship: the difficult hit is ignored, then TP -> AP 1
    assert result.ap['plane'] == pytest.approx(plane, abs=1e-9)
    assert result.ap['ship'] == pytest.approx(1.0)
    assert math.isnan(result.ap['harbor'])  # no ground truth: not in the mean
    assert result.map == pytest.approx((plane + 1.0) / 2, abs=1e-9)
    assert result.num_ground_truths == {'plane': 2, 'ship': 1, 'harbor': 0}
    assert result.num_detections == {'plane': 4, 'ship': 2, 'harbor': 0}
    area = evaluate_dota_task1(results, labels, CLASSES, ap_method='area')
    assert area.ap['plane'] == pytest.approx(0.5 * 1.0 + 0.5 * 0.5, abs=1e-9)


def test_result_files_as_a_list_and_missing_class_file(dataset):
    results, labels = dataset
    result = evaluate_dota_task1([results / 'Task1_ship.txt'], labels, CLASSES)
    assert result.ap['plane'] == 0.0  # objects but no detection file
    assert result.ap['ship'] == pytest.approx(1.0)
    assert result.map == pytest.approx(0.5)


def test_agrees_with_the_torchmetrics_metric(dataset):
    results, labels = dataset
    expected = evaluate_dota_task1(results, labels, CLASSES, iou_threshold=0.7)
    metric = OrientedMeanAveragePrecision(iou_thresholds=[0.7], num_classes=3)
    index = {name: i for i, name in enumerate(CLASSES)}
    images = ['P0001', 'P0002', 'P0003']
    gts = {image: ([], [], []) for image in images}
    for image in images:
        for line in (labels / f'{image}.txt').read_text().splitlines():
            tokens = line.split()
            if len(tokens) >= 9 and tokens[8] in index:
                gts[image][0].append([float(v) for v in tokens[:8]])
                gts[image][1].append(index[tokens[8]])
                gts[image][2].append(len(tokens) == 10 and tokens[9] == '1')
    dets = {image: ([], [], []) for image in images}
    for name in ('plane', 'ship'):
        for line in (results / f'Task1_{name}.txt').read_text().splitlines():
            tokens = line.split()
            dets[tokens[0]][0].append([float(v) for v in tokens[2:]])
            dets[tokens[0]][1].append(float(tokens[1]))
            dets[tokens[0]][2].append(index[name])

    def boxes(polygons):
        if not polygons:
            return torch.zeros((0, 5), dtype=torch.float64)
        return poly_to_cxcywhr(torch.tensor(polygons, dtype=torch.float64))

    metric.update(
        [
            {
                'boxes': boxes(dets[i][0]),
                'scores': torch.tensor(dets[i][1]),
                'labels': torch.tensor(dets[i][2], dtype=torch.int64),
            }
            for i in images
        ],
        [
            {
                'boxes': boxes(gts[i][0]),
                'labels': torch.tensor(gts[i][1], dtype=torch.int64),
                'difficult': torch.tensor(gts[i][2], dtype=torch.bool),
            }
            for i in images
        ],
    )
    assert float(metric.compute()['map']) == pytest.approx(expected.map, abs=1e-6)


@pytest.mark.parametrize(
    ('line', 'message'),
    [
        ('P0001 0.9 1 2 3', 'got 5 fields'),
        ('P0001 high 1 2 3 4 5 6 7 8', 'expected numbers'),
        ('P0001 0.9 1 2 3 4 5 6 7 nan', 'NaN'),
        ('P9999 0.9 1 2 3 4 5 6 7 8', "image 'P9999' has no label file"),
    ],
)
def test_bad_result_lines_name_file_and_line(dataset, line, message):
    results, labels = dataset
    path = results / 'Task1_harbor.txt'
    path.write_text(f'P0001 0.3 {PLANE_1}\n{line}\n')
    with pytest.raises(InputError, match=f'Task1_harbor.txt:2: .*({message})'):
        evaluate_dota_task1(results, labels, CLASSES)


@pytest.mark.parametrize(
    ('line', 'message'),
    [
        ('1 2 3 4 5 6 7 8', 'got 8 fields'),
        ('1 2 3 4 5 6 7 8 plane 2', 'difficult must be 0 or 1'),
        ('1 2 3 4 5 6 7 x plane 0', 'expected numbers'),
        ('1 2 3 4 5 6 7 8 plane 0 extra', 'got 11 fields'),
    ],
)
def test_bad_label_lines_name_file_and_line(dataset, line, message):
    results, labels = dataset
    (labels / 'P0004.txt').write_text(f'gsd:0.5\n{line}\n')
    with pytest.raises(InputError, match=f'P0004.txt:2: .*{message}'):
        evaluate_dota_task1(results, labels, CLASSES)


def test_bad_arguments(dataset, tmp_path):
    results, labels = dataset
    with pytest.raises(InputNotFoundError):
        evaluate_dota_task1(results, tmp_path / 'missing', CLASSES)
    with pytest.raises(InputNotFoundError):
        evaluate_dota_task1(tmp_path / 'missing', labels, CLASSES)
    with pytest.raises(InputNotFoundError):
        evaluate_dota_task1([results / 'Task1_helicopter.txt'], labels, CLASSES)
    (results / 'Task1_helicopter.txt').write_text('')
    with pytest.raises(InputError, match='not in class_names'):
        evaluate_dota_task1(results, labels, CLASSES)
    (results / 'Task1_helicopter.txt').unlink()
    (results / 'other.txt').write_text('')
    with pytest.raises(InputError, match=r'Task1_<class>\.txt'):
        evaluate_dota_task1([results / 'other.txt'], labels, CLASSES)
    with pytest.raises(InputError, match='distinct'):
        evaluate_dota_task1(results, labels, ['plane', 'plane'])
    with pytest.raises(InputError, match='iou_thresholds'):
        evaluate_dota_task1(results, labels, CLASSES, iou_threshold=1.5)
    with pytest.raises(InputError, match='ap_method'):
        evaluate_dota_task1(results, labels, CLASSES, ap_method='coco')
    (labels / 'P0005.txt').write_bytes(b'\xff\xfe\x00')
    with pytest.raises(InputError, match='UTF-8'):
        evaluate_dota_task1(results, labels, CLASSES)
