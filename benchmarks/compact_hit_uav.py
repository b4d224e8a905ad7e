"""A compact copy of prepared HIT-UAV splits, small enough to carry to a lent GPU.

The device tool copies the working tree and at most 64 MiB of ignored paths to
the GPU machine, which has no network; HIT-UAV's train and val JPEGs (as
published: three identical bands, about 68 KiB each) are 160 MB. Its images are
thermal, so one band holds everything: this writes the chosen splits with each
image re-encoded as a one-band JPEG of ``--quality``, the annotations
unchanged, and the split lists (``--limit val=100`` by default: the val images
the config's ``limit_val_batches`` reads) in the layout
:class:`~torchgeo_cstf.datasets.HITUAV` reads (it converts images to its band
count on load). An image whose bands differ (not grey) is refused: dropping
bands would lose data. The total is checked against ``--budget-mib``.

Train on the copy, score on the full test split here: ``configs/hit_uav_cstf.yaml``
with ``--data.dict_kwargs.root OUT`` on the device, then
``benchmarks/real_detection.py`` (test split, CPU) on this machine.

Usage: python benchmarks/compact_hit_uav.py [--root data/real_detection/hit_uav/rotate_xml]
       [--out data/hit_uav_compact] [--splits train val] [--quality 70]
       [--limit val=100] [--budget-mib 60]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

#: the most two bands of a grey image may differ (JPEG rounding), digital numbers
GREY_TOLERANCE = 3
#: what the device tool carries at most, MiB
CARRY_LIMIT_MIB = 64


def split_ids(root: Path, split: str) -> list[str]:
    """The image ids of a split list (``ImageSets/Main/<split>.txt``)."""
    listing = root / 'ImageSets' / 'Main' / f'{split}.txt'
    if not listing.is_file():
        raise SystemExit(f'{listing}: no such split list (prepare HIT-UAV first)')
    return [line.strip() for line in listing.read_text().splitlines() if line.strip()]


def grey_band(path: Path) -> Image.Image:
    """The one band of a grey image (refused when its bands differ)."""
    with Image.open(path) as image:
        pixels = np.asarray(image)
    if pixels.ndim == 3:
        spread = int((pixels.max(axis=2).astype(np.int16) - pixels.min(axis=2)).max())
        if spread > GREY_TOLERANCE:
            raise SystemExit(
                f'{path}: its bands differ by up to {spread}: not a grey image, '
                'keeping one band would lose data'
            )
        pixels = pixels[..., 0]
    return Image.fromarray(np.ascontiguousarray(pixels))


def compact(
    root: Path,
    out: Path,
    splits: list[str],
    quality: int,
    limits: dict[str, int] | None = None,
) -> tuple[int, int]:
    """Write the compact copy.

    Args:
        root: the prepared HIT-UAV folder (``rotate_xml``).
        out: the folder to write.
        splits: the splits to copy.
        quality: JPEG quality of the re-encoded images.
        limits: split → its first images kept (e.g. ``{'val': 100}``: the
            images ``limit_val_batches`` of the config reads).

    Returns:
        The number of images and the bytes written.
    """
    limits = limits or {}
    ids: dict[str, list[str]] = {
        split: split_ids(root, split)[: limits.get(split)] for split in splits
    }
    lists = out / 'ImageSets' / 'Main'
    for folder in (lists, out / 'JPEGImages', out / 'Annotations'):
        folder.mkdir(parents=True, exist_ok=True)
    for split, names in ids.items():
        (lists / f'{split}.txt').write_text(''.join(f'{n}\n' for n in names))
    if {'train', 'val'} <= set(ids):
        trainval = ids['train'] + ids['val']
        (lists / 'trainval.txt').write_text(''.join(f'{n}\n' for n in trainval))
    images = sorted({name for names in ids.values() for name in names})
    for name in images:
        grey_band(root / 'JPEGImages' / f'{name}.jpg').save(
            out / 'JPEGImages' / f'{name}.jpg', 'JPEG', quality=quality
        )
        shutil.copyfile(
            root / 'Annotations' / f'{name}.xml', out / 'Annotations' / f'{name}.xml'
        )
    written = sum(path.stat().st_size for path in out.rglob('*') if path.is_file())
    return len(images), written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--root', type=Path, default=Path('data/real_detection/hit_uav/rotate_xml')
    )
    parser.add_argument('--out', type=Path, default=Path('data/hit_uav_compact'))
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    parser.add_argument('--quality', type=int, default=70)
    parser.add_argument(
        '--limit',
        action='append',
        default=None,
        metavar='SPLIT=N',
        help="keep a split's first N images (default val=100: the config's "
        'limit_val_batches 25 x batch 4)',
    )
    parser.add_argument('--budget-mib', type=float, default=60.0)
    args = parser.parse_args()
    if not 1 <= args.quality <= 95:
        parser.error(f'--quality must be in [1, 95], got {args.quality}')
    limits = {}
    for text in args.limit or ['val=100']:
        split, _, number = text.partition('=')
        if not number.isdigit():
            parser.error(f'--limit must be SPLIT=N, got {text!r}')
        limits[split] = int(number)
    if args.out.exists():
        shutil.rmtree(args.out)
    count, size = compact(args.root, args.out, args.splits, args.quality, limits)
    mib = size / 2**20
    print(f'wrote {args.out}: {count} images, {mib:.1f} MiB ({", ".join(args.splits)})')
    if mib > args.budget_mib:
        print(
            f'{args.out}: {mib:.1f} MiB is over the budget of {args.budget_mib:g} MiB '
            f'(the device carries {CARRY_LIMIT_MIB} MiB in all): lower --quality '
            'or carry fewer splits',
            file=sys.stderr,
        )
        raise SystemExit(1)


if __name__ == '__main__':
    main()
