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
from pathlib import Path

from carry import check_budget, jpeg_ready, parse_counts


def split_ids(root: Path, split: str) -> list[str]:
    """The image ids of a split list (``ImageSets/Main/<split>.txt``)."""
    listing = root / 'ImageSets' / 'Main' / f'{split}.txt'
    if not listing.is_file():
        raise SystemExit(f'{listing}: no such split list (prepare HIT-UAV first)')
    return [line.strip() for line in listing.read_text().splitlines() if line.strip()]


def compact(
    root: Path,
    out: Path,
    splits: list[str],
    quality: int,
    limits: dict[str, int] | None = None,
) -> int:
    """Write the compact copy.

    Args:
        root: the prepared HIT-UAV folder (``rotate_xml``).
        out: the folder to write.
        splits: the splits to copy.
        quality: JPEG quality of the re-encoded images.
        limits: split → its first images kept (e.g. ``{'val': 100}``: the
            images ``limit_val_batches`` of the config reads).

    Returns:
        The number of images written.
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
        jpeg_ready(root / 'JPEGImages' / f'{name}.jpg', require_grey=True).save(
            out / 'JPEGImages' / f'{name}.jpg', 'JPEG', quality=quality
        )
        shutil.copyfile(
            root / 'Annotations' / f'{name}.xml', out / 'Annotations' / f'{name}.xml'
        )
    return len(images)


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
    limits = parse_counts(parser, '--limit', args.limit or ['val=100'])
    if args.out.exists():
        shutil.rmtree(args.out)
    count = compact(args.root, args.out, args.splits, args.quality, limits)
    mib = check_budget(
        args.out, args.budget_mib, 'lower --quality or carry fewer splits'
    )
    print(f'wrote {args.out}: {count} images, {mib:.1f} MiB ({", ".join(args.splits)})')


if __name__ == '__main__':
    main()
