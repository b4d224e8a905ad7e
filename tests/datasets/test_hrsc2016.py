import math
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from torchgeo.datasets import DatasetNotFoundError

from torchgeo_cstf.datasets.hrsc2016 import CLASS_IDS, HRSC2016
from torchgeo_cstf.errors import InputError, InputNotFoundError
from torchgeo_cstf.ops import cxcywhr_to_poly

ROOT = Path(__file__).parents[1] / 'data' / 'hrsc2016'
ANNOTATIONS = ROOT / 'FullDataSet' / 'Annotations'


def _xml_objects(image_id: str) -> list[dict[str, float]]:
    root = ET.parse(ANNOTATIONS / f'{image_id}.xml').getroot()
    return [
        {child.tag: float(child.text) for child in obj}
        for obj in root.iter('HRSC_Object')
    ]


def _mmrotate_corners(obj: dict[str, float]) -> np.ndarray:
    c = np.array([obj['mbox_cx'], obj['mbox_cy']])
    a = obj['mbox_ang']
    u = obj['mbox_w'] / 2 * np.array([math.cos(a), math.sin(a)])
    v = obj['mbox_h'] / 2 * np.array([-math.sin(a), math.cos(a)])
    return np.stack([c + su * u + sv * v for su in (-1, 1) for sv in (-1, 1)])


@pytest.fixture
def copy_root(tmp_path: Path) -> Path:
    return Path(
        shutil.copytree(ROOT, tmp_path / 'hrsc', ignore=shutil.ignore_patterns('*.py'))
    )


@pytest.mark.parametrize(
    ('split', 'ids'),
    [
        ('train', ['100000001', '100000002']),
        ('val', ['100000003', '100000004']),
        ('trainval', ['100000001', '100000002', '100000003', '100000004']),
        ('test', ['100000005', '100000006']),
    ],
)
def test_splits(split: str, ids: list[str]) -> None:
    dataset = HRSC2016(ROOT, split=split)
    assert dataset.ids == ids
    assert len(dataset) == len(ids)


def test_sample_keys_types_and_shapes() -> None:
    sample = HRSC2016(ROOT, split='val')[1]
    assert set(sample) == {'image', 'bbox', 'label', 'difficult', 'id'}
    image = sample['image']
    assert image.shape == (3, 48, 64) and image.dtype == torch.float32
    # the fake ships are painted (200, 200, 190); this pixel is the first one's centre
    assert image[:, 12, 14].tolist() == [200.0, 200.0, 190.0]
    assert image.min() >= 0 and image.max() == 200
    assert sample['bbox'].shape == (3, 5) and sample['bbox'].dtype == torch.float32
    assert sample['label'].dtype == torch.int64
    assert sample['difficult'].dtype == torch.bool
    assert sample['id'].tolist() == [1000000040, 1000000041, 1000000042]


def test_image_without_objects() -> None:
    sample = HRSC2016(ROOT, split='val')[0]
    assert sample['bbox'].shape == (0, 5)
    assert sample['label'].shape == sample['difficult'].shape == (0,)


@pytest.mark.parametrize(
    ('level', 'expected'),
    [
        ('ship', [[0, 0], [0], [], [0, 0, 0], [0], [0, 0]]),
        ('L2', [[1, 3], [0], [], [2, 4, 1], [2], [1, 3]]),
        ('L3', [[4, 17], [0], [], [6, 24, 15], [2], [30, 3]]),
    ],
)
def test_labels_per_level(level: str, expected: list[list[int]]) -> None:
    samples = [
        sample
        for split in ('trainval', 'test')
        for sample in HRSC2016(ROOT, split=split, classes=level)
    ]
    assert [s['label'].tolist() for s in samples] == expected


def test_class_names() -> None:
    l2 = HRSC2016(ROOT, split='val', classes='L2')
    assert [l2.classes[i] for i in l2[1]['label']] == [
        'warcraft',
        'submarine',
        'aircraft carrier',
    ]
    l3 = HRSC2016(ROOT, split='test', classes='L3')
    assert [l3.classes[i] for i in l3[1]['label']] == [
        'Invincible-class',
        'merchant ship',
    ]
    assert len(l3.classes) == len(CLASS_IDS) == 31
    assert HRSC2016(ROOT, classes='ship').classes == ('ship',)


def test_difficult_flags() -> None:
    flags = [
        s['difficult'].tolist()
        for split in ('trainval', 'test')
        for s in HRSC2016(ROOT, split=split)
    ]
    assert flags == [
        [False, False],
        [True],
        [],
        [False, False, True],
        [False],
        [False, True],
    ]


def test_boxes_match_mmrotate_corners() -> None:
    checked = 0
    for split in ('trainval', 'test'):
        dataset = HRSC2016(ROOT, split=split)
        for image_id, sample in zip(dataset.ids, dataset, strict=True):
            objects = _xml_objects(image_id)
            boxes = sample['bbox']
            assert len(boxes) == len(objects)
            assert (boxes[:, 2] >= boxes[:, 3]).all()
            assert ((boxes[:, 4] >= -90) & (boxes[:, 4] < 90)).all()
            corners = cxcywhr_to_poly(boxes.double()).numpy()
            for obj, got in zip(objects, corners, strict=True):
                want = _mmrotate_corners(obj)
                distance = np.linalg.norm(want[:, None] - got[None], axis=-1)
                assert distance.min(axis=1).max() < 1e-3
                assert distance.min(axis=0).max() < 1e-3
                checked += 1
    assert checked == 9


def test_box_values() -> None:
    train = HRSC2016(ROOT, split='train')
    # mbox (20.5, 15.25, 24, 7, 0.35 rad): angle -degrees(0.35)
    assert train[0]['bbox'][0].tolist() == pytest.approx(
        [20.5, 15.25, 24.0, 7.0, -20.05352], abs=1e-4
    )
    # mbox (32, 24, 8, 26, 0.2 rad): h > w, so the sides swap and 90° is added
    assert train[1]['bbox'][0].tolist() == pytest.approx(
        [32.0, 24.0, 26.0, 8.0, 78.54084], abs=1e-4
    )


def test_transforms_are_applied() -> None:
    dataset = HRSC2016(
        ROOT, split='test', transforms=lambda s: {**s, 'image': s['image'] / 255}
    )
    assert dataset[0]['image'].max() <= 1.0


def test_missing_root(tmp_path: Path) -> None:
    root = tmp_path / 'nowhere'
    with pytest.raises(DatasetNotFoundError) as info:  # TorchGeo's, and ours
        HRSC2016(root)
    assert isinstance(info.value, InputNotFoundError)
    message = str(info.value)
    assert str(root) in message and 'download HRSC2016' in message
    for part in (
        'ImageSets/{train,val,trainval,test}.txt',
        'FullDataSet/AllImages/<id>.bmp',
        'FullDataSet/Annotations/<id>.xml',
    ):
        assert part in message


def test_missing_split_list(copy_root: Path) -> None:
    (copy_root / 'ImageSets' / 'test.txt').unlink()
    with pytest.raises(InputNotFoundError, match=r'test\.txt: split list not found'):
        HRSC2016(copy_root, split='test')
    assert len(HRSC2016(copy_root, split='train')) == 2


def test_missing_image(copy_root: Path) -> None:
    image = copy_root / 'FullDataSet' / 'AllImages' / '100000002.bmp'
    image.unlink()
    with pytest.raises(InputNotFoundError) as info:
        HRSC2016(copy_root, split='trainval')
    assert info.value.subject == str(image)
    assert '1 of the images and annotations listed' in str(info.value)


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'split': 'training'}, r"split: must be one of .*'training'"),
        ({'classes': 'L1'}, r"classes: must be one of \('ship', 'L2', 'L3'\)"),
    ],
)
def test_bad_arguments(kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(InputError, match=match):
        HRSC2016(ROOT, **kwargs)


@pytest.mark.parametrize(
    ('edit', 'match'),
    [
        (lambda text: text[: len(text) // 2], 'is not valid XML'),
        (
            lambda text: text.replace('HRSC_Image', 'Annotation'),
            'expected <HRSC_Image>',
        ),
        (
            lambda text: text.replace('<mbox_w>16.0000</mbox_w>', ''),
            r'no numeric <mbox_w> \(got None\)',
        ),
        (
            lambda text: text.replace('<mbox_h>5.0000', '<mbox_h>five'),
            "no numeric <mbox_h> \\(got 'five'\\)",
        ),
    ],
)
def test_malformed_annotation(copy_root: Path, edit, match: str) -> None:
    path = copy_root / 'FullDataSet' / 'Annotations' / '100000004.xml'
    path.write_text(edit(path.read_text()))
    dataset = HRSC2016(copy_root, split='val')
    assert dataset[0]['bbox'].shape == (0, 5)
    with pytest.raises(InputError, match=match) as info:
        dataset[1]
    assert info.value.subject == str(path)


def test_unknown_class_id(copy_root: Path) -> None:
    path = copy_root / 'FullDataSet' / 'Annotations' / '100000005.xml'
    path.write_text(path.read_text().replace('100000003', '100000021'))
    with pytest.raises(InputError, match='Class_ID 100000021 is not one of the 31'):
        HRSC2016(copy_root, split='test', classes='L3')[0]
    assert HRSC2016(copy_root, split='test')[0]['label'].tolist() == [0]


def test_missing_difficult_counts_as_zero(copy_root: Path) -> None:
    path = copy_root / 'FullDataSet' / 'Annotations' / '100000002.xml'
    path.write_text(path.read_text().replace('<difficult>1</difficult>', ''))
    assert HRSC2016(copy_root, split='train')[1]['difficult'].tolist() == [False]


def _polygons(figure: Figure, panel: int) -> list[Polygon]:
    return [p for p in figure.axes[panel].patches if isinstance(p, Polygon)]


def test_plot_ground_truth() -> None:
    dataset = HRSC2016(ROOT, split='val', classes='L2')
    figure = dataset.plot(dataset[1], suptitle='val 1')
    assert isinstance(figure, Figure) and len(figure.axes) == 1
    polygons = _polygons(figure, 0)
    assert len(polygons) == 3
    assert [p.get_linestyle() for p in polygons] == ['-', '-', '--']
    corners = cxcywhr_to_poly(dataset[1]['bbox'].double()).numpy()
    assert np.allclose(polygons[0].get_xy()[:4], corners[0])
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts == ['warcraft', 'submarine', 'aircraft carrier']
    assert figure.axes[0].get_title() == 'ground truth (3)'
    assert figure.get_suptitle() == 'val 1'
    assert len(_polygons(dataset.plot(dataset[0], show_titles=False), 0)) == 0


def test_plot_predictions_and_horizontal_boxes() -> None:
    dataset = HRSC2016(ROOT, split='train', classes='L3')
    sample = dataset[0]
    sample['prediction_bbox_xyxy'] = torch.tensor([[4.0, 5, 30, 20], [40, 30, 50, 40]])
    sample['prediction_label'] = torch.tensor([4, 17])
    sample['prediction_score'] = torch.tensor([0.93, 0.2])
    del sample['bbox']
    sample['bbox_xyxy'] = torch.tensor([[8.0, 6, 33, 25], [35, 24, 53, 43]])
    figure = dataset.plot(sample)
    assert len(figure.axes) == 2
    truth = _polygons(figure, 0)
    assert len(truth) == 2
    assert truth[0].get_xy()[:4].min(axis=0).tolist() == [8.0, 6.0]
    assert truth[0].get_xy()[:4].max(axis=0).tolist() == [33.0, 25.0]
    assert len(_polygons(figure, 1)) == 1
    assert [t.get_text() for t in figure.axes[1].texts] == ['Nimitz 0.93']
    assert figure.axes[1].get_title() == 'prediction (1 ≥ 0.5)'
