"""benchmarks/compact_hit_uav.py on the fake HIT-UAV folder in the real layout."""

import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from torchgeo_cstf.datasets import HITUAV

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / 'benchmarks' / 'compact_hit_uav.py'
FAKE = ROOT / 'tests' / 'data' / 'hit_uav' / 'rotate_xml'


def _as_published(folder: Path) -> Path:
    """The fake folder with three identical bands per JPEG, as HIT-UAV ships them."""
    shutil.copytree(FAKE, folder)
    for path in (folder / 'JPEGImages').glob('*.jpg'):
        with Image.open(path) as image:
            image.convert('RGB').save(path, 'JPEG', quality=95)
    return folder


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_grey_copy_of_the_chosen_splits_reads_as_hit_uav(tmp_path: Path) -> None:
    root = _as_published(tmp_path / 'rotate_xml')
    out = tmp_path / 'compact'
    done = _run('--root', str(root), '--out', str(out), '--quality', '80')
    assert done.returncode == 0, done.stderr
    assert f'wrote {out}: 3 images' in done.stdout
    limited = _run(
        '--root', str(root), '--out', str(tmp_path / 'one'), '--limit', 'train=1'
    )
    assert limited.returncode == 0, limited.stderr
    assert (tmp_path / 'one' / 'ImageSets' / 'Main' / 'train.txt').read_text() == (
        '0_60_90_0_00001\n'
    )
    # train and val (and their union) only; annotations unchanged
    assert sorted(p.name for p in (out / 'ImageSets' / 'Main').iterdir()) == [
        'train.txt',
        'trainval.txt',
        'val.txt',
    ]
    for split in ('train', 'val'):
        full, small = HITUAV(root, split), HITUAV(out, split)
        assert small.ids == full.ids
        for index in range(len(full)):
            a, b = full[index], small[index]
            assert (a['bbox'] == b['bbox']).all() and (a['label'] == b['label']).all()
            assert a['image'].shape == b['image'].shape
            # the first band, re-encoded as a one-band JPEG of that quality
            band = Image.fromarray(a['image'][0].numpy().astype(np.uint8))
            encoded = io.BytesIO()
            band.save(encoded, 'JPEG', quality=80)
            expected = np.asarray(Image.open(encoded), dtype=np.float32)
            np.testing.assert_array_equal(b['image'][0].numpy(), expected)
    for path in (out / 'JPEGImages').glob('*.jpg'):
        with Image.open(path) as image:
            assert image.mode == 'L'


def test_colour_images_and_a_busted_budget_are_refused(tmp_path: Path) -> None:
    root = _as_published(tmp_path / 'rotate_xml')
    over = _run('--root', str(root), '--out', str(tmp_path / 'a'), '--budget-mib', '0')
    assert over.returncode == 1 and 'over the budget of 0 MiB' in over.stderr
    colour = root / 'JPEGImages' / '0_60_90_0_00001.jpg'
    pixels = np.zeros((48, 64, 3), np.uint8)
    pixels[..., 0] = 200  # a red image: its bands differ
    Image.fromarray(pixels).save(colour, 'JPEG', quality=95)
    refused = _run('--root', str(root), '--out', str(tmp_path / 'b'))
    assert refused.returncode != 0 and 'not a grey image' in refused.stderr
    bad_limit = _run(
        '--root', str(root), '--out', str(tmp_path / 'd'), '--limit', 'val'
    )
    assert bad_limit.returncode == 2 and '--limit must be NAME=N' in bad_limit.stderr
    missing = _run('--root', str(tmp_path / 'nowhere'), '--out', str(tmp_path / 'c'))
    assert missing.returncode != 0 and 'no such split list' in missing.stderr
