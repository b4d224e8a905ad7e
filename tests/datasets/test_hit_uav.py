import importlib.util
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torchgeo.datasets import DatasetNotFoundError

from torchgeo_cstf.datasets import HITUAV
from torchgeo_cstf.datasets.hit_uav import CLASSES
from torchgeo_cstf.errors import InputError, InputNotFoundError
from torchgeo_cstf.ops import cxcywhr_to_poly

ROOT = Path(__file__).parents[1] / 'data' / 'hit_uav' / 'rotate_xml'
_SPEC = importlib.util.spec_from_file_location('hit_uav_data', ROOT.parent / 'data.py')
assert _SPEC is not None and _SPEC.loader is not None
DATA = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(DATA)


@pytest.fixture
def copy_root(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ROOT, tmp_path / 'rotate_xml'))


@pytest.mark.parametrize('split', ['train', 'val', 'trainval', 'test'])
def test_official_splits(split: str) -> None:
    dataset = HITUAV(ROOT, split=split)
    assert dataset.ids == DATA.SPLITS[split]


def test_boxes_follow_the_rolabelimg_corners_and_the_classes() -> None:
    dataset = HITUAV(ROOT, split='test')
    for index, image_id in enumerate(dataset.ids):
        sample = dataset[index]
        objects = DATA.IMAGES[image_id]
        assert sample['image'].shape == (1, 48, 64)
        assert sample['image'].dtype == torch.float32
        assert sample['label'].tolist() == [
            CLASSES.index(name) for name, _, _ in objects
        ]
        for poly, (_, _, box) in zip(
            cxcywhr_to_poly(sample['bbox'].double()), objects, strict=True
        ):
            expected = np.array(DATA.corners(box))
            found = poly.reshape(4, 2).numpy()
            # same rectangle: every expected corner is one of the found corners
            distances = np.linalg.norm(expected[:, None] - found[None], axis=-1)
            assert distances.min(axis=1).max() < 1e-3
        # canonical: long side first, angle in [-90, 90)
        assert (sample['bbox'][:, 2] >= sample['bbox'][:, 3]).all()
    # the warm objects of the fake images are where the boxes say
    sample = dataset[0]
    cx, cy = sample['bbox'][0, :2].round().long().tolist()
    assert sample['image'][0, cy, cx] > 150


def test_dont_care_and_difficult() -> None:
    sample = HITUAV(ROOT, split='train')[1]  # a difficult bicycle and a DontCare
    assert sample['label'].tolist() == [2, 0, 1, 2, 3]
    assert sample['difficult'].tolist() == [True] * 5
    dont_care = sample['bbox'][1:]
    assert torch.equal(dont_care, dont_care[:1].expand(4, -1))
    assert sample['id'].tolist() == [0, 1, 1, 1, 1]
    dropped = HITUAV(ROOT, split='train', dont_care='drop')[1]
    assert dropped['label'].tolist() == [2] and dropped['difficult'].tolist() == [True]
    empty = HITUAV(ROOT, split='val')[0]
    assert empty['bbox'].shape == (0, 5) and empty['label'].shape == (0,)


def test_bad_arguments_and_missing_files(copy_root: Path) -> None:
    with pytest.raises(InputError, match='split'):
        HITUAV(ROOT, split='all')
    with pytest.raises(InputError, match='dont_care'):
        HITUAV(ROOT, dont_care='ignore')
    with pytest.raises(DatasetNotFoundError, match='HIT-UAV root'):
        HITUAV(copy_root / 'absent')
    (copy_root / 'JPEGImages' / '0_60_90_0_00001.jpg').unlink()
    with pytest.raises(InputNotFoundError, match='1 of the images'):
        HITUAV(copy_root, split='train')


def test_malformed_annotations(copy_root: Path) -> None:
    path = copy_root / 'Annotations' / '1_130_70_0_00004.xml'
    text = path.read_text()
    path.write_text(text.replace('OtherVehicle', 'Truck'))
    with pytest.raises(InputError, match="class 'Truck'"):
        HITUAV(copy_root, split='test')[0]
    path.write_text(text.replace('<w>24.0</w>', '<w>wide</w>'))
    with pytest.raises(InputError, match=r"no numeric <w> \(got 'wide'\)"):
        HITUAV(copy_root, split='test')[0]
    path.write_text('<annotation><object>')
    with pytest.raises(InputError, match='not valid XML'):
        HITUAV(copy_root, split='test')[0]


def test_plot() -> None:
    dataset = HITUAV(ROOT, split='test')
    sample = dataset[1]
    sample['prediction_bbox'] = sample['bbox']
    sample['prediction_label'] = sample['label']
    sample['prediction_score'] = torch.ones(len(sample['label']))
    figure = dataset.plot(sample, suptitle='fake HIT-UAV')
    assert isinstance(figure, Figure)
    assert math.isclose(float(sample['image'].max()), 220, abs_tol=20)
