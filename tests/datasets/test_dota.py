import itertools
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
import torch
import torchgeo.datasets
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from PIL import Image
from torchgeo.datasets import DOTA as TorchGeoDOTA

from torchgeo_cstf.cli import main
from torchgeo_cstf.datasets.dota import (
    DOTA,
    ImageDetections,
    PatchOrigin,
    PatchPrediction,
    SplitSummary,
    merge_patch_predictions,
    split_dota,
    window_starts,
    write_task1,
)
from torchgeo_cstf.errors import InputError, InputNotFoundError
from torchgeo_cstf.metrics import evaluate_dota_task1
from torchgeo_cstf.ops import cxcywhr_to_poly, rotated_box_iou

ROOT = Path(__file__).parents[1] / 'data' / 'dota'
LARGE = ROOT / 'large'
STARTS = [0, 824, 1648, 1976]


def _label_polygons(path: Path) -> list[tuple[list[float], str, int]]:
    objects = []
    for line in path.read_text().splitlines():
        tokens = line.split()
        if len(tokens) == 10:
            objects.append(([float(t) for t in tokens[:8]], tokens[8], int(tokens[9])))
    return objects


def _patch_objects(out: Path, x: int, y: int, rate: str = '1.0') -> list[str]:
    path = (
        out / 'train' / 'annotations' / 'version1.0' / f'P1000__{rate}__{x}___{y}.txt'
    )
    return [name for _, name, _ in _label_polygons(path)]


@pytest.fixture(scope='module')
def split_1x(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SplitSummary]:
    out = tmp_path_factory.mktemp('split_1x')
    return out, split_dota(LARGE, out, progress=False)


@pytest.fixture(scope='module')
def split_multi(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SplitSummary]:
    out = tmp_path_factory.mktemp('split_multi')
    return out, split_dota(LARGE, out, rates=(0.5, 1.5), progress=False)


@pytest.fixture
def copy_root(tmp_path: Path) -> Path:
    return Path(
        shutil.copytree(
            ROOT, tmp_path / 'dota', ignore=shutil.ignore_patterns('*.py', 'large')
        )
    )


# --- loading ---------------------------------------------------------------


@pytest.mark.parametrize(
    ('version', 'count', 'last'),
    [('1.0', 15, 'swimming-pool'), ('1.5', 16, 'container-crane')],
)
def test_classes_per_version(version: str, count: int, last: str) -> None:
    dataset = DOTA(ROOT, 'train', version)
    assert len(dataset.classes) == count and dataset.classes[-1] == last
    assert dataset.classes == TorchGeoDOTA.classes[:count]
    assert dataset.classes[0] == 'plane'


def test_sample_keys_types_and_image() -> None:
    dataset = DOTA(ROOT, 'train', '1.0')
    assert len(dataset) == 2
    sample = dataset[0]
    assert set(sample) == {'image', 'bbox', 'label', 'difficult'}
    image = sample['image']
    assert image.shape == (3, 48, 64) and image.dtype == torch.float32
    # painted objects are (230, 228, 215) on (96, 112, 88) ground
    assert image[:, 16, 20].tolist() == [230.0, 228.0, 215.0]
    assert image[:, 2, 62].tolist() == [96.0, 112.0, 88.0]
    assert sample['bbox'].shape == (3, 5) and sample['bbox'].dtype == torch.float32
    assert sample['label'].dtype == torch.int64
    assert sample['difficult'].dtype == torch.bool


@pytest.mark.parametrize(
    ('split', 'version', 'names'),
    [
        (
            'train',
            '1.0',
            [['plane', 'small-vehicle', 'harbor'], ['ship', 'storage-tank']],
        ),
        (
            'train',
            '1.5',
            [
                ['plane', 'small-vehicle', 'harbor'],
                ['ship', 'storage-tank', 'container-crane'],
            ],
        ),
        ('val', '1.0', [['tennis-court', 'bridge', 'swimming-pool'], []]),
    ],
)
def test_labels_are_zero_based_class_indices(
    split: str, version: str, names: list[list[str]]
) -> None:
    dataset = DOTA(ROOT, split, version)
    labels = [sample['label'].tolist() for sample in dataset]
    assert [[dataset.classes[i] for i in row] for row in labels] == names
    # TorchGeo's own labels (under 'labels') are the same 0-based indices
    theirs = TorchGeoDOTA(ROOT, split, version, bbox_orientation='oriented')
    assert [s['labels'].tolist() for s in theirs] == labels
    if split == 'train':
        assert labels[0] == [0, 10, 7]


def test_difficult_flags() -> None:
    flags = [
        s['difficult'].tolist()
        for split in ('train', 'val')
        for s in DOTA(ROOT, split, '1.5')
    ]
    assert flags == [
        [False, True, False],
        [False, False, False],
        [False, True, False],
        [],
    ]


def test_image_without_objects() -> None:
    sample = DOTA(ROOT, 'val')[1]
    assert sample['image'].shape == (3, 40, 48)
    assert sample['bbox'].shape == (0, 5)
    assert sample['label'].shape == sample['difficult'].shape == (0,)


def _corner_distance(a: np.ndarray, b: np.ndarray) -> float:
    distance = np.linalg.norm(a[:, None] - b[None], axis=-1)
    return float(max(distance.min(axis=0).max(), distance.min(axis=1).max()))


def test_boxes_are_minimum_area_rectangles_of_the_polygons() -> None:
    checked = 0
    for split, version in itertools.product(('train', 'val'), ('1.0', '1.5')):
        dataset = DOTA(ROOT, split, version)
        for index, sample in enumerate(dataset):
            path = ROOT / dataset.sample_df.iloc[index]['annotation_path']
            boxes = sample['bbox']
            assert (boxes[:, 2] >= boxes[:, 3]).all()
            assert ((boxes[:, 4] >= -90) & (boxes[:, 4] < 90)).all()
            corners = cxcywhr_to_poly(boxes.double()).numpy()
            for (polygon, _, _), got in zip(
                _label_polygons(path), corners, strict=True
            ):
                want = shapely.Polygon(np.reshape(polygon, (4, 2)))
                rectangle = want.minimum_rotated_rectangle
                expected = np.array(rectangle.exterior.coords)[:4]
                assert _corner_distance(expected, got) < 1e-3
                assert shapely.Polygon(got).area == pytest.approx(rectangle.area, 1e-5)
                checked += 1
    assert checked == 17


def test_not_rectangular_polygon() -> None:
    # harbor 10 36, 30 34, 34 44, 6 46: its rectangle is larger than it
    box = DOTA(ROOT, 'train')[0]['bbox'][2]
    area = shapely.Polygon([(10, 36), (30, 34), (34, 44), (6, 46)]).area
    assert area == 240.0
    assert (box[2] * box[3]).item() == pytest.approx(288.0, abs=1e-3)


def test_transforms_are_applied() -> None:
    dataset = DOTA(ROOT, 'val', transforms=lambda s: {**s, 'image': s['image'] / 255})
    assert dataset[0]['image'].max() <= 1.0


def test_origins_of_unsplit_images() -> None:
    assert DOTA(ROOT, 'val').origins == [PatchOrigin('P0002'), PatchOrigin('P0003')]


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError) as info:
        DOTA(tmp_path / 'nowhere')
    # what code written for TorchGeo's datasets catches
    assert isinstance(info.value, torchgeo.datasets.DatasetNotFoundError)
    assert info.value.code == 'INPUT_NOT_FOUND'
    message = str(info.value)
    assert info.value.subject == str(tmp_path / 'nowhere')
    for part in (
        'cannot download',
        'https://captain-whu.github.io/DOTA/',
        'root/samples.csv',
        'root/{split}/annotations/version{version}/<id>.txt',
    ):
        assert part in message


def test_missing_version_folder() -> None:
    with pytest.raises(InputNotFoundError, match=r'version2\.0: not found'):
        DOTA(ROOT, 'train', '2.0')


def test_index_without_rows(copy_root: Path) -> None:
    (copy_root / 'train' / 'annotations' / 'version2.0').mkdir()
    with pytest.raises(InputNotFoundError, match='lists no train image of version 2.0'):
        DOTA(copy_root, 'train', '2.0')


def test_missing_listed_image(copy_root: Path) -> None:
    image = copy_root / 'val' / 'images' / 'P0003.png'
    image.unlink()
    with pytest.raises(InputNotFoundError) as info:
        DOTA(copy_root, 'val')
    assert info.value.subject == str(image)
    assert '1 of the files samples.csv lists for val v1.0' in str(info.value)


def test_unknown_class(copy_root: Path) -> None:
    path = copy_root / 'train' / 'annotations' / 'version1.0' / 'P0001.txt'
    path.write_text(path.read_text().replace('ship', 'airport'))
    dataset = DOTA(copy_root)
    with pytest.raises(InputError, match="class 'airport' is not a DOTA-v1.0 class"):
        dataset[1]


def test_malformed_label_line(copy_root: Path) -> None:
    path = copy_root / 'train' / 'annotations' / 'version1.0' / 'P0001.txt'
    path.write_text('1 2 3 4 5 6 7 8 ship 2\n')
    with pytest.raises(InputError, match='P0001.txt:1: difficult must be 0 or 1'):
        DOTA(copy_root)[1]


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'split': 'test'}, r"split: must be one of \('train', 'val'\), got 'test'"),
        ({'version': '3.0'}, r"version: must be one of \('1.0', '1.5', '2.0'\)"),
    ],
)
def test_bad_arguments(kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(InputError, match=match):
        DOTA(ROOT, **kwargs)


def test_plot() -> None:
    dataset = DOTA(ROOT, 'train', '1.5')
    figure = dataset.plot(dataset[0], suptitle='P0000')
    assert isinstance(figure, Figure)
    polygons = [p for p in figure.axes[0].patches if isinstance(p, Polygon)]
    assert [p.get_linestyle() for p in polygons] == ['-', '--', '-']
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts == ['plane', 'small-vehicle', 'harbor']
    assert figure.get_suptitle() == 'P0000'


# --- splitting --------------------------------------------------------------


@pytest.mark.parametrize(
    ('length', 'expected'),
    [
        (3000, STARTS),
        (1024, [0]),
        (500, [0]),
        (1848, [0, 824]),
        (1849, [0, 824, 825]),
        (4500, [0, 824, 1648, 2472, 3296, 3476]),
    ],
)
def test_window_starts(length: int, expected: list[int]) -> None:
    starts = window_starts(length, 1024, 200)
    assert starts == expected
    # the standard rule: stride size - gap, last window flush with the edge
    assert starts[-1] + 1024 == max(length, 1024)
    assert all(b - a <= 824 for a, b in itertools.pairwise(starts))


def test_patch_names() -> None:
    origin = PatchOrigin('P0000', 824, 1648, 1.0)
    assert origin.name == 'P0000__1.0__824___1648'
    assert PatchOrigin.from_name(origin.name) == origin
    assert PatchOrigin.from_name('P0007__0.5__0___476') == PatchOrigin(
        'P0007', 0, 476, 0.5
    )
    assert PatchOrigin.from_name('P0007') == PatchOrigin('P0007', 0, 0, 1.0)


def test_split_grid_and_padding_rule(split_1x: tuple[Path, SplitSummary]) -> None:
    out, summary = split_1x
    # 4 × 4 windows; (1976, 1976) is 61 % black no-data and holds no object
    assert summary == SplitSummary(images=1, patches=15, skipped=1, objects=13, lost=0)
    dataset = DOTA(out, 'train')
    grid = {(o.x, o.y) for o in dataset.origins}
    assert grid == set(itertools.product(STARTS, STARTS)) - {(1976, 1976)}
    assert {(o.image_id, o.rate) for o in dataset.origins} == {('P1000', 1.0)}
    index = pd.read_csv(out / 'samples.csv')
    assert list(index.columns) == [
        'image_path',
        'annotation_path',
        'split',
        'version',
        'image_id',
        'x',
        'y',
        'rate',
    ]
    assert sorted(zip(index['x'], index['y'], strict=True)) == sorted(grid)


def test_split_keeps_padding_when_asked(tmp_path: Path) -> None:
    summary = split_dota(LARGE, tmp_path, min_image_share=0.0, progress=False)
    assert (summary.patches, summary.skipped) == (16, 0)
    image = np.array(Image.open(tmp_path / 'train/images/P1000__1.0__1976___1976.png'))
    # rows/columns from 2200 - 1976 = 224 on are the source's no-data
    assert image[224:, 224:].max() == 0 and image[:224].min() > 0


def test_patch_pixels_are_source_crops(split_1x: tuple[Path, SplitSummary]) -> None:
    out, _ = split_1x
    source = np.array(Image.open(LARGE / 'train/images/P1000.png'))
    dataset = DOTA(out, 'train')
    for index in (0, 7, 14):
        origin = dataset.origins[index]
        image = dataset[index]['image'].permute(1, 2, 0).numpy()
        assert image.shape == (1024, 1024, 3)
        crop = source[origin.y : origin.y + 1024, origin.x : origin.x + 1024]
        assert np.array_equal(image, crop)


def test_iof_filtering_at_patch_borders(split_1x: tuple[Path, SplitSummary]) -> None:
    out, _ = split_1x
    # small-vehicle x 944–1044 is 80 % inside patch (0, 0): kept; large-vehicle
    # x 984–1084 is 40 % inside: dropped; both are whole in patch (824, 0)
    assert _patch_objects(out, 0, 0) == ['plane', 'small-vehicle']
    assert _patch_objects(out, 824, 0) == ['small-vehicle', 'large-vehicle']
    # the 45° ship centred on y = 1024 is half inside the patches of row 0
    for x in (1648, 1976):
        assert 'ship' not in _patch_objects(out, x, 0)
        assert 'ship' in _patch_objects(out, x, 824)
    # the plane at 1800–1860 is 64 % inside (824, 824) and 80 % inside its
    # neighbours (824, 1648) and (1648, 824)
    assert 'plane' not in _patch_objects(out, 824, 824)
    for x, y in ((824, 1648), (1648, 824), (1648, 1648)):
        assert 'plane' in _patch_objects(out, x, y)


def test_partly_inside_objects_keep_whole_polygon(
    split_1x: tuple[Path, SplitSummary],
) -> None:
    out, _ = split_1x
    path = out / 'train/annotations/version1.0/P1000__1.0__0___0.txt'
    [(polygon, name, difficult)] = [o for o in _label_polygons(path) if o[1] != 'plane']
    assert (name, difficult) == ('small-vehicle', 0)
    assert polygon == [944.0, 300.0, 1044.0, 300.0, 1044.0, 340.0, 944.0, 340.0]
    shifted = out / 'train/annotations/version1.0/P1000__1.0__824___1648.txt'
    [(polygon, name, difficult)] = [
        o for o in _label_polygons(shifted) if o[1] != 'plane'
    ]
    assert (name, difficult) == ('storage-tank', 1)
    assert polygon[:2] == pytest.approx([1465.2 - 824, 1975.7 - 1648])


def _as_predictions(out: Path) -> list[PatchPrediction]:
    dataset = DOTA(out, 'train')
    return [
        PatchPrediction(
            origin, sample['bbox'], torch.ones(len(sample['label'])), sample['label']
        )
        for origin, sample in zip(dataset.origins, dataset, strict=True)
    ]


def _assert_recovers_source(merged: dict[str, ImageDetections]) -> None:
    truth = DOTA(LARGE, 'train')[0]
    assert list(merged) == ['P1000']
    boxes, scores, labels = merged['P1000']
    assert len(boxes) == len(truth['bbox']) == 8  # no duplicates left
    iou = rotated_box_iou(truth['bbox'].double(), boxes.double())
    best = iou.argmax(dim=1)
    assert iou.max(dim=1).values.min() > 0.99
    assert sorted(best.tolist()) == list(range(8))
    assert torch.equal(labels[best], truth['label'])
    assert torch.equal(scores, torch.ones(8))


def test_split_merge_round_trip(split_1x: tuple[Path, SplitSummary]) -> None:
    predictions = _as_predictions(split_1x[0])
    assert sum(len(p.boxes) for p in predictions) == 13
    _assert_recovers_source(merge_patch_predictions(predictions))


def test_multi_scale_split_round_trip(split_multi: tuple[Path, SplitSummary]) -> None:
    out, summary = split_multi
    # 0.5: 1500 px, 2 × 2 windows; 1.5: 4500 px, 6 × 6 windows of which the 4
    # in the no-data corner (x, y >= 3296) are skipped
    assert (summary.patches, summary.skipped, summary.lost) == (36, 4, 0)
    origins = DOTA(out, 'train').origins
    half = {(o.x, o.y) for o in origins if o.rate == 0.5}
    assert half == set(itertools.product([0, 476], [0, 476]))
    assert sum(o.rate == 1.5 for o in origins) == 32
    _assert_recovers_source(merge_patch_predictions(_as_predictions(out)))


def test_task1_perfect_predictions_score_one(
    split_1x: tuple[Path, SplitSummary], tmp_path: Path
) -> None:
    merged = merge_patch_predictions(_as_predictions(split_1x[0]))
    classes = DOTA(LARGE).classes
    paths = write_task1(merged, tmp_path / 'task1', classes)
    assert [p.name for p in paths] == [f'Task1_{name}.txt' for name in classes]
    assert (tmp_path / 'task1' / 'Task1_helicopter.txt').read_text() == ''
    assert len((tmp_path / 'task1' / 'Task1_plane.txt').read_text().splitlines()) == 2
    result = evaluate_dota_task1(
        tmp_path / 'task1', LARGE / 'train/annotations/version1.0', classes
    )
    assert result.map == 1.0
    assert result.num_ground_truths['storage-tank'] == 0  # the difficult one
    assert result.num_detections['plane'] == 2


def test_split_index_merges_splits_and_versions(tmp_path: Path) -> None:
    first = split_dota(ROOT, tmp_path, 'train', size=32, gap=8, progress=False)
    split_dota(ROOT, tmp_path, 'val', size=32, gap=8, progress=False)
    split_dota(ROOT, tmp_path, 'train', '1.5', size=32, gap=8, progress=False)
    again = split_dota(ROOT, tmp_path, 'train', size=32, gap=8, progress=False)
    assert again == first
    index = pd.read_csv(tmp_path / 'samples.csv', dtype=str)
    counts = index.groupby(['split', 'version']).size().to_dict()
    # P0000 64×48 → 3 × 2 windows, P0001 56×64 → 2 × 3, P0002 → 9, P0003 → 4
    assert counts == {('train', '1.0'): 12, ('train', '1.5'): 12, ('val', '1.0'): 13}
    assert first.patches == 12
    assert len(DOTA(tmp_path, 'val')) == 13
    assert DOTA(tmp_path, 'train', '1.5').classes[-1] == 'container-crane'


def test_split_with_workers_matches(tmp_path: Path) -> None:
    one = split_dota(ROOT, tmp_path / 'a', size=32, gap=8, progress=False)
    two = split_dota(
        ROOT, tmp_path / 'b', size=32, gap=8, num_workers=2, progress=False
    )
    assert one == two
    a = (tmp_path / 'a' / 'samples.csv').read_text()
    assert a == (tmp_path / 'b' / 'samples.csv').read_text()


def test_split_small_image_is_padded(tmp_path: Path) -> None:
    split_dota(ROOT, tmp_path, 'val', size=100, gap=20, progress=False)
    dataset = DOTA(tmp_path, 'val')
    assert len(dataset) == 2
    image = dataset[0]['image']
    assert image.shape == (3, 100, 100)
    assert image[:, 64:].max() == 0 and image[:, :, 64:].max() == 0
    assert torch.allclose(dataset[0]['bbox'], DOTA(ROOT, 'val')[0]['bbox'])


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'gap': 1024}, r'gap: must be in \[0, size=1024\), got 1024'),
        ({'size': 0}, 'size: must be positive'),
        ({'rates': ()}, 'rates: must be positive numbers'),
        ({'rates': (1.0, -0.5)}, 'rates: must be positive numbers'),
        ({'rates': (1.0, 1.0)}, 'rates: must be distinct'),
        ({'iof_threshold': 1.5}, r'iof_threshold: must be in \[0, 1\]'),
        ({'num_workers': -1}, 'num_workers: must be >= 0'),
    ],
)
def test_split_bad_parameters(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        split_dota(LARGE, tmp_path, progress=False, **kwargs)
    assert not (tmp_path / 'samples.csv').exists()


def test_split_refuses_source_as_output(copy_root: Path) -> None:
    with pytest.raises(InputError, match='out: must not be the source root'):
        split_dota(copy_root, copy_root, progress=False)


def test_split_unknown_class(copy_root: Path, tmp_path: Path) -> None:
    path = copy_root / 'train' / 'annotations' / 'version1.0' / 'P0000.txt'
    path.write_text(path.read_text().replace('harbor', 'helipad'))
    with pytest.raises(InputError, match="class 'helipad' is not a DOTA-v1.0 class"):
        split_dota(copy_root, tmp_path / 'out', size=32, gap=8, progress=False)
    assert not (tmp_path / 'out' / 'samples.csv').exists()


# --- merging and Task 1 -----------------------------------------------------


def test_merge_maps_offsets_and_rates() -> None:
    box = torch.tensor([[220.0, 320.0, 100.0, 40.0, 10.0]])
    predictions = [
        PatchPrediction(
            PatchOrigin('P1', 824, 0), box, torch.tensor([0.9]), torch.tensor([3])
        ),
        # the same object seen in the neighbour patch, less sure: suppressed
        PatchPrediction(
            PatchOrigin('P1', 0, 0),
            torch.tensor([[1044.0, 320.0, 100.0, 40.0, 10.0]]),
            torch.tensor([0.8]),
            torch.tensor([3]),
        ),
        # same place, other class: kept
        PatchPrediction(
            PatchOrigin('P1', 824, 0), box, torch.tensor([0.5]), torch.tensor([4])
        ),
        # half scale: patch pixel (10, 10) at offset (476, 0) is (972, 20)
        PatchPrediction(
            PatchOrigin('P2', 476, 0, 0.5),
            torch.tensor([[10.0, 10.0, 20.0, 10.0, 30.0]]),
            torch.tensor([0.7]),
            torch.tensor([0]),
        ),
    ]
    merged = merge_patch_predictions(predictions)
    assert sorted(merged) == ['P1', 'P2']
    boxes, scores, labels = merged['P1']
    assert boxes.tolist() == [[1044.0, 320.0, 100.0, 40.0, 10.0]] * 2
    assert scores.tolist() == pytest.approx([0.9, 0.5])
    assert labels.tolist() == [3, 4]
    assert merged['P2'].boxes.tolist() == [[972.0, 20.0, 40.0, 20.0, 30.0]]


def test_merge_threshold_is_applied() -> None:
    # two boxes overlapping with IoU 1/3: NMS at 0.1 merges, at 0.5 keeps both
    predictions = [
        PatchPrediction(
            PatchOrigin('P1'),
            torch.tensor(
                [[10.0, 10.0, 20.0, 10.0, 0.0], [20.0, 10.0, 20.0, 10.0, 0.0]]
            ),
            torch.tensor([0.9, 0.8]),
            torch.tensor([1, 1]),
        )
    ]
    assert len(merge_patch_predictions(predictions)['P1'].boxes) == 1
    assert len(merge_patch_predictions(predictions, iou_threshold=0.5)['P1'].boxes) == 2


def test_merge_bad_prediction() -> None:
    bad = PatchPrediction(
        PatchOrigin('P1', 0, 8), torch.zeros(2, 4), torch.zeros(2), torch.zeros(2)
    )
    with pytest.raises(InputError, match=r'P1__1.0__0___8: must have shape \(N, 5\)'):
        merge_patch_predictions([bad])
    nan = torch.tensor([[1.0, 2.0, 3.0, 4.0, float('nan')]])
    bad = PatchPrediction(PatchOrigin('P1'), nan, torch.zeros(1), torch.zeros(1))
    with pytest.raises(InputError, match='P1__1.0__0___0: contains NaN'):
        merge_patch_predictions([bad])
    bad = PatchPrediction(
        PatchOrigin('P1'), torch.zeros(2, 5), torch.zeros(3), torch.zeros(2)
    )
    with pytest.raises(InputError, match=r'scores and labels must have shape \(2,\)'):
        merge_patch_predictions([bad])


def test_write_task1_lines(tmp_path: Path) -> None:
    results = {
        'P0002': ImageDetections(
            torch.tensor([[10.0, 20.0, 4.0, 2.0, 0.0]]),
            torch.tensor([0.5]),
            torch.tensor([1]),
        ),
        'P0001': ImageDetections(
            torch.tensor([[10.0, 20.0, 4.0, 2.0, 0.0], [5.0, 5.0, 2.0, 2.0, 90.0]]),
            torch.tensor([0.9, 0.25]),
            torch.tensor([1, 0]),
        ),
    }
    paths = write_task1(results, tmp_path, ['plane', 'ship', 'harbor'])
    assert [p.read_text() for p in paths] == [
        'P0001 0.250000 4.00 6.00 4.00 4.00 6.00 4.00 6.00 6.00\n',
        (
            'P0001 0.900000 8.00 19.00 12.00 19.00 12.00 21.00 8.00 21.00\n'
            'P0002 0.500000 8.00 19.00 12.00 19.00 12.00 21.00 8.00 21.00\n'
        ),
        '',
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'Task1_harbor.txt',
        'Task1_plane.txt',
        'Task1_ship.txt',
    ]


def test_write_task1_bad_inputs(tmp_path: Path) -> None:
    results = {
        'P0001': ImageDetections(torch.zeros(1, 5), torch.ones(1), torch.tensor([2]))
    }
    with pytest.raises(InputError, match=r"results\['P0001'\]: has labels outside"):
        write_task1(results, tmp_path, ['plane', 'ship'])
    with pytest.raises(InputError, match='distinct'):
        write_task1(results, tmp_path, ['plane', 'plane'])
    assert list(tmp_path.iterdir()) == []


# --- command line -------------------------------------------------------------


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        'dota',
        'split',
        str(LARGE),
        str(tmp_path),
        '--size',
        '1024',
        '--gap',
        '200',
    ]
    assert main([*args, '--rates', '0.5']) == 0
    captured = capsys.readouterr()
    assert (
        f'{tmp_path}: 4 patches from 1 images (0 mostly-padding windows skipped)'
        in (captured.out)
    )
    assert 'split DOTA-v1.0 train' in captured.err  # the progress bar
    assert len(DOTA(tmp_path).origins) == 4


def test_command_line_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(['dota', 'split', str(LARGE), str(tmp_path), '--gap', '2000']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    prefix = 'cstf: error: '
    assert err == [prefix + 'gap: must be in [0, size=1024), got 2000']


def test_old_detection_names_warn() -> None:
    from torchgeo_cstf import datasets
    from torchgeo_cstf.datasets import dota
    from torchgeo_cstf.models import detector

    with pytest.warns(
        DeprecationWarning, match='is now torchgeo_cstf.datasets.dota.ImageDetections'
    ):
        assert dota.Detections is ImageDetections
    with pytest.warns(DeprecationWarning, match='datasets.Detections is now'):
        assert datasets.Detections is ImageDetections
    with pytest.warns(
        DeprecationWarning,
        match='is now torchgeo_cstf.models.detector.BatchPredictions',
    ):
        assert detector.Detections is detector.BatchPredictions
