"""A compact copy of the real matching folder, small enough to carry to a lent GPU.

``benchmarks/prepare_real_matching.py`` writes about a gigabyte of PNG and
GeoTIFF; the device tool carries at most 64 MiB of ignored paths to the GPU
machine (no network there). This writes what ``configs/matching_real.yaml``
trains and validates on, in the same layout, re-encoded as JPEG of
``--quality`` (one band where an image is grey, such as the Sentinel-1 and NIR
queries; the first three bands otherwise):

- ``textures/<split>/…``: ``--textures SPLIT=N`` files of each split, picked
  evenly by a hash of their path (so every source keeps its share); the empty
  ``test`` folder keeps the train/val/test layout that
  :class:`~torchgeo_cstf.datasets.CrossModalPairs` recognises;
- ``pairs/<set>/``: the first ``--pairs SET=N`` train pairs of each paired set,
  with their check points and a ``pairs.csv`` naming the JPEGs
  (:class:`~torchgeo_cstf.datasets.PairedRasters`).

The total is checked against ``--budget-mib``. Train on the copy, score here:
on the device ``torchgeo fit --config configs/matching_real.yaml
--data.dict_kwargs.root OUT/textures --data.init_args.paired_roots
'[OUT/pairs/optical-sar, OUT/pairs/nir-vis]'``, then
``benchmarks/matching.py --real-root data/real --weights CKPT`` on this
machine (the test split, full quality).

Usage: python benchmarks/compact_real_matching.py [--root data/real]
       [--out data/real_compact] [--quality 80]
       [--textures train=600 --textures val=48] [--pairs optical-sar=30 --pairs nir-vis=60]
       [--budget-mib 60]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
from pathlib import Path

from carry import check_budget, jpeg_ready, parse_counts

#: files the texture folders hold (CrossModalPairs' raster suffixes)
RASTERS = ('.tif', '.tiff', '.png', '.jpg', '.jpeg')


def _spread(path: Path) -> str:
    """A stable, well-mixed sort key for picking files evenly across sources."""
    return hashlib.sha256(path.as_posix().encode()).hexdigest()


def compact_textures(
    root: Path, out: Path, counts: dict[str, int], quality: int
) -> int:
    """Copy ``counts[split]`` textures of each split as JPEG; the number written."""
    written = 0
    for split in ('train', 'val', 'test'):
        (out / split).mkdir(parents=True, exist_ok=True)
    for split, count in counts.items():
        folder = root / split
        if not folder.is_dir():
            raise SystemExit(f'{folder}: no such texture split (prepare data first)')
        files = sorted(
            (p for p in folder.rglob('*') if p.suffix.lower() in RASTERS),
            key=lambda p: _spread(p.relative_to(root)),
        )[:count]
        for path in files:
            target = (out / path.relative_to(root)).with_suffix('.jpg')
            target.parent.mkdir(parents=True, exist_ok=True)
            jpeg_ready(path).save(target, 'JPEG', quality=quality)
        written += len(files)
    return written


def compact_pairs(root: Path, out: Path, count: int, quality: int) -> int:
    """Copy the first ``count`` train pairs of one paired set; the number written."""
    index = root / 'pairs.csv'
    if not index.is_file():
        raise SystemExit(f'{index}: no such pair list (prepare data first)')
    with index.open(newline='') as handle:
        rows = [
            r for r in csv.DictReader(handle) if r.get('split') in (None, '', 'train')
        ]
    rows = rows[:count]
    for row in rows:
        for column in ('reference', 'query'):
            target = Path(row[column]).with_suffix('.jpg')
            (out / target).parent.mkdir(parents=True, exist_ok=True)
            jpeg_ready(root / row[column]).save(out / target, 'JPEG', quality=quality)
            row[column] = target.as_posix()
        (out / row['checkpoints']).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / row['checkpoints'], out / row['checkpoints'])
    fields = list(rows[0]) if rows else ['reference', 'query', 'checkpoints', 'split']
    out.mkdir(parents=True, exist_ok=True)
    with (out / 'pairs.csv').open('w', newline='') as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', type=Path, default=Path('data/real'))
    parser.add_argument('--out', type=Path, default=Path('data/real_compact'))
    parser.add_argument('--quality', type=int, default=80)
    parser.add_argument('--textures', action='append', metavar='SPLIT=N')
    parser.add_argument('--pairs', action='append', metavar='SET=N')
    parser.add_argument('--budget-mib', type=float, default=60.0)
    args = parser.parse_args()
    if not 1 <= args.quality <= 95:
        parser.error(f'--quality must be in [1, 95], got {args.quality}')
    textures = parse_counts(
        parser, '--textures', args.textures or ['train=600', 'val=48']
    )
    unknown = set(textures) - {'train', 'val'}
    if unknown:  # the test split is scored here, on the original files
        parser.error(f'--textures takes train or val, got {sorted(unknown)}')
    pairs = parse_counts(
        parser, '--pairs', args.pairs or ['optical-sar=30', 'nir-vis=60']
    )
    if args.out.exists():
        shutil.rmtree(args.out)
    count = compact_textures(
        args.root / 'textures', args.out / 'textures', textures, args.quality
    )
    summary = [f'{count} textures']
    for name, number in pairs.items():
        copied = compact_pairs(
            args.root / 'pairs' / name, args.out / 'pairs' / name, number, args.quality
        )
        summary.append(f'{copied} {name} pairs')
    mib = check_budget(
        args.out, args.budget_mib, 'lower --quality or carry fewer textures or pairs'
    )
    print(f'wrote {args.out}: {", ".join(summary)}, {mib:.1f} MiB')


if __name__ == '__main__':
    main()
