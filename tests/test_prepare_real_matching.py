"""benchmarks/prepare_real_matching.py on tiny repositories in the real layouts."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from torchgeo_cstf.datasets import CrossModalPairs, PairedRasters

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location(
    'real_matching_data', ROOT / 'tests' / 'data' / 'real_matching' / 'data.py'
)
assert _SPEC is not None and _SPEC.loader is not None
_DATA = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_DATA)
make_mirrors = _DATA.make_mirrors


@pytest.fixture(scope='module')
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp('real')
    truths = make_mirrors(folder / 'mirrors')
    subprocess.run(
        [
            sys.executable,
            str(ROOT / 'benchmarks' / 'prepare_real_matching.py'),
            '--mirrors',
            str(folder / 'mirrors'),
            '--out',
            str(folder / 'out'),
        ],
        check=True,
        capture_output=True,
    )
    return folder / 'out', truths


def test_pairs_carry_the_sources_transforms(prepared: tuple[Path, dict]) -> None:
    out, truths = prepared
    for name, truth in truths.items():
        split = 'train' if name == 'nir-vis' else 'test'  # City is a train scene
        data = PairedRasters(out / 'pairs' / name, split=split, size=96)
        # converted to continuous pixel coordinates, from OpenCV's and MATLAB's
        np.testing.assert_allclose(data.homography(0), truth, atol=1e-6)
    sar = PairedRasters(out / 'pairs' / 'optical-sar', split='test', size=96)
    assert len(sar.pairs) == 1 and sar.kinds == ['sar']
    np.testing.assert_allclose(sar.homography(0), np.eye(3), atol=1e-9)


def test_splits_are_by_scene(prepared: tuple[Path, dict]) -> None:
    out, _ = prepared
    counts = json.loads((out / 'sources.json').read_text())['counts']
    # Sentinel by tile (T11SLT, T11SMT train; T14RNT test), NIR-VIS by scene type
    assert (
        counts['pairs/optical-sar/train'] == 2 and counts['pairs/optical-sar/test'] == 1
    )
    assert counts['pairs/nir-vis/train'] == 1
    assert counts['pairs/nir-vis/test'] == counts['pairs/nir-vis/val'] == 1
    assert counts['pairs/multimodal/test'] == 1
    assert (
        counts['pairs/naip-dates/train'] == 2 and counts['pairs/landsat-dates/val'] == 2
    )
    textures = {
        split: CrossModalPairs(root=out / 'textures', split=split, size=64)
        for split in ('train', 'val')
    }
    names = {
        split: {p.parent.name for p in data.files} for split, data in textures.items()
    }
    assert 'naip' in names['train'] and 'landsat' in names['val']
    assert not names['train'] & {'landsat'} and not names['val'] & {'naip', 'sentinel2'}
    sources = json.loads((out / 'sources.json').read_text())['sources']
    assert all(len(s['commit']) == 40 and s['licence'] for s in sources.values())
