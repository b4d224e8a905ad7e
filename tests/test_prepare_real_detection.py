"""benchmarks/prepare_real_detection.py on tiny repositories in the real layouts."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from torchgeo_cstf.datasets import HITUAV
from torchgeo_cstf.datasets.dota import read_dota_labels

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location(
    'real_detection_data', ROOT / 'tests' / 'data' / 'real_detection' / 'data.py'
)
assert _SPEC is not None and _SPEC.loader is not None
_DATA = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_DATA)


@pytest.fixture(scope='module')
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp('real_detection')
    _DATA.make_mirrors(folder / 'mirrors')
    subprocess.run(
        [
            sys.executable,
            str(ROOT / 'benchmarks' / 'prepare_real_detection.py'),
            '--mirrors',
            str(folder / 'mirrors'),
            '--out',
            str(folder / 'out'),
        ],
        check=True,
        capture_output=True,
    )
    return folder / 'out'


def test_hit_uav_is_copied_as_published(prepared: Path) -> None:
    dataset = HITUAV(prepared / 'hit_uav' / 'rotate_xml', split='test')
    reference = HITUAV(_DATA.HIT_UAV, split='test')
    assert dataset.ids == reference.ids
    assert (dataset[1]['bbox'] == reference[1]['bbox']).all()
    sources = json.loads((prepared / 'sources.json').read_text())['sources']
    assert (
        sources['suojiashun/HIT-UAV-Infrared-Thermal-Dataset']['files'] == 14
    )  # 5 images, 5 annotations, 4 lists
    # the fake folder: 2 cars, 2 persons, a bicycle (difficult), an other
    # vehicle and a DontCare region
    assert sources['suojiashun/HIT-UAV-Infrared-Thermal-Dataset']['objects'] == {
        'Bicycle': 1,
        'Car': 2,
        'DontCare': 1,
        'OtherVehicle': 1,
        'Person': 2,
        'difficult': 1,
    }
    assert (
        'CC BY 4.0' in sources['suojiashun/HIT-UAV-Infrared-Thermal-Dataset']['licence']
    )


def test_dota8_labels_become_dota_pixels(prepared: Path) -> None:
    (obj,) = read_dota_labels(
        prepared / 'transfer/dota8/labelTxt/P0001__1024__0___0.txt'
    )
    assert obj.name == 'large-vehicle' and not obj.difficult
    assert obj.polygon == (16.0, 16.0, 48.0, 16.0, 48.0, 32.0, 16.0, 32.0)
    assert (prepared / 'transfer/dota8/images/P0001__1024__0___0.jpg').exists()


def test_devkit_example_keeps_its_labels(prepared: Path) -> None:
    (obj,) = read_dota_labels(prepared / 'transfer/dota_devkit/labelTxt/P0706.txt')
    assert obj.name == 'ship'
    assert (prepared / 'transfer/dota_devkit/images/P0706.png').exists()


def test_hrsid_masks_become_rectangles(prepared: Path) -> None:
    objects = read_dota_labels(
        prepared / 'transfer/hrsid_mini/labelTxt/P0001_0_800_0_800.txt'
    )
    assert [o.name for o in objects] == ['ship', 'ship']  # the speckle is dropped
    for obj, (x0, y0, x1, y1) in zip(objects, _DATA.SHIPS, strict=True):
        corners = np.array(obj.polygon).reshape(4, 2)
        assert corners.min(axis=0).tolist() == pytest.approx([x0, y0], abs=0.06)
        assert corners.max(axis=0).tolist() == pytest.approx([x1, y1], abs=0.06)
