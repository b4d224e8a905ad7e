"""benchmarks/prepare_real_matching.py on tiny repositories in the real layouts."""

import importlib.util
import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

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


def _compact(
    prepared_out: Path, out: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / 'benchmarks' / 'compact_real_matching.py'),
            '--root',
            str(prepared_out),
            '--out',
            str(out),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_compact_copy_reads_as_the_real_folder(
    prepared: tuple[Path, dict], tmp_path: Path
) -> None:
    out, truths = prepared
    compact = tmp_path / 'compact'
    done = _compact(out, compact, '--textures', 'train=3', '--textures', 'val=50')
    assert done.returncode == 0, done.stderr
    assert 'wrote' in done.stdout and 'MiB' in done.stdout
    full = {
        split: CrossModalPairs(root=out / 'textures', split=split, size=64).files
        for split in ('train', 'val')
    }
    kept = {
        split: CrossModalPairs(root=compact / 'textures', split=split, size=64).files
        for split in ('train', 'val')
    }
    # a capped split keeps that many, an uncapped one all; every file a JPEG
    assert len(kept['train']) == min(3, len(full['train']))
    assert len(kept['val']) == len(full['val'])
    assert all(p.suffix == '.jpg' for files in kept.values() for p in files)
    # the train pairs, their transforms unchanged (within JPEG's reach: exact)
    for name in ('optical-sar', 'nir-vis'):
        before = PairedRasters(out / 'pairs' / name, split='train', size=64)
        after = PairedRasters(compact / 'pairs' / name, split='train', size=64)
        assert len(after.pairs) == len(before.pairs) > 0
        np.testing.assert_allclose(after.homography(0), before.homography(0))
        assert after[0]['query'].shape == before[0]['query'].shape
    np.testing.assert_allclose(
        PairedRasters(compact / 'pairs' / 'nir-vis', split='train', size=64).homography(
            0
        ),
        truths['nir-vis'],
        atol=1e-6,
    )


def test_compaction_refuses_a_busted_budget_and_bad_counts(
    prepared: tuple[Path, dict], tmp_path: Path
) -> None:
    out, _ = prepared
    over = _compact(out, tmp_path / 'a', '--budget-mib', '0')
    assert over.returncode == 1 and 'over the budget of 0 MiB' in over.stderr
    bad = _compact(out, tmp_path / 'b', '--textures', 'train')
    assert bad.returncode == 2 and '--textures must be NAME=N' in bad.stderr
    for split in ('extra=2', 'test=2'):  # test images stay out of training
        refused = _compact(out, tmp_path / 'c', '--textures', split)
        assert refused.returncode == 2 and 'train or val' in refused.stderr
    missing = _compact(tmp_path / 'nowhere', tmp_path / 'd')
    assert missing.returncode == 1 and 'no such texture split' in missing.stderr


def test_prealigned_speed_times_both_settings(
    prepared: tuple[Path, dict], tmp_path: Path
) -> None:
    out, _ = prepared
    result = tmp_path / 'speed.json'
    subprocess.run(
        [
            sys.executable,
            str(ROOT / 'benchmarks' / 'prealigned_speed.py'),
            '--real-root',
            str(out),
            '--rounds',
            '2',
            '--out',
            str(result),
        ],
        check=True,
        capture_output=True,
    )
    figures = json.loads(result.read_text())
    runs, summary = figures['runs'], figures['summary']
    # each setting in its own process; glibc's thresholds applied in one only
    glibc = platform.libc_ver()[0] == 'glibc'
    assert runs['kept']['allocator_keeps_freed_memory'] is glibc
    assert runs['default']['allocator_keeps_freed_memory'] is False
    for setting in ('kept', 'default'):
        run = runs[setting]
        assert run['pairs'] >= 2  # every pre-aligned test pair of the folder
        speeds = run['pairs_per_second']
        assert all(len(v) == 2 and min(v) > 0 for v in speeds.values())
        ratio = np.median(speeds['dense']) / np.median(speeds['sift+magsac'])
        assert summary[setting]['dense_vs_sift'] == pytest.approx(ratio, rel=1e-2)
        parts = run['dense_profile']  # shares: see the test below on a textured pair
        assert parts['seconds_per_pair'] > 0
        assert parts['correlation'] + parts['description'] <= 1
    if glibc:  # kept memory is reused instead of faulting in again
        faults = {k: runs[k]['dense_page_faults_per_pair'] for k in runs}
        assert faults['kept'] < faults['default'] / 2
    kept_gain = summary['kept']['dense'] / summary['default']['dense']
    assert summary['dense_kept_vs_default'] == pytest.approx(kept_gain, rel=1e-2)


def test_prealigned_speed_profiles_the_parts_of_a_dense_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / 'benchmarks'))
    from matching import library_method
    from prealigned_speed import profile_dense

    from torchgeo_cstf.inference.methods import PairMatcher
    from torchgeo_cstf.synthetic import synthesize_scene

    image = synthesize_scene((256, 256), seed=3).image.astype(np.float32) / 255
    reference = torch.from_numpy(image)
    pair = {'reference': reference, 'query': reference.roll(2, dims=-1)}
    parts = profile_dense(library_method(PairMatcher(method='dense'), False), [pair])
    # the forward FFTs lie inside the correlation; correlation and description
    # are apart, and together not more than the whole
    assert 0 < parts['fft'] < parts['correlation'] < 1
    assert 0 < parts['inverse_fft'] < parts['correlation']
    assert 0 < parts['description'] < 1
    assert parts['correlation'] + parts['description'] < 1
    assert parts['seconds_per_pair'] > 0
