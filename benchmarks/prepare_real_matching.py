"""Prepare a local folder of real imagery for matching (training and evaluation).

Reads public repositories that hold real image files in their tree — each one a
git clone, or a git directory as the search tool's ``fetch`` leaves it
(``MIRRORS/owner+name/repo``) — and writes::

    OUT/textures/{train,val,test}/<source>/...   single real images (the data
        engine warps them and simulates a modality: CrossModalPairs(root=OUT/textures))
    OUT/pairs/<set>/pairs.csv, points/*.csv     real co-registered pairs with
        check points (PairedRasters(root=OUT/pairs/<set>)); splits in pairs.csv
    OUT/sources.json                            each source, its commit, licence, counts

Splits are by scene, never by crop of one scene: Sentinel pairs (and their
optical images as textures) by Sentinel-2 tile (11SLT and 11SMT train, 14RNT
test), NIR-VIS pairs by scene type (Desert and Mountain test, Coast val, Aerial
and City train), the NAIP time series (one scene) train and the Landsat time
series (another scene) validation, RSSCN7 80/10/10 by a hash of the file name,
the StaRainJ remote-sensing pairs test only (never trained on). Nothing here is committed; see
docs/datasets/real_matching.md for the sources and their licences.

Usage: python benchmarks/prepare_real_matching.py --mirrors /work/.mirror --out data/real
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import itertools
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from mirrors import Repository, find_repository, write

SOURCES: dict[str, dict[str, str]] = {
    'VolkovVl/Optical-SAR-dataset': {
        'what': '100 aligned Sentinel-2 RGB / Sentinel-1 VH pairs, 1024², 10 m',
        'licence': 'Copernicus Sentinel data terms (free use, redistribution allowed)',
    },
    'JasonLi-UCAS/NIR-VIS-RS': {
        'what': '100 visible / near-infrared pairs, 512², with homographies',
        'licence': 'none stated; research use, cite Li et al., Remote Sens. 2024',
    },
    'StaRainJ/Multi-modality-image-matching-database-metrics-methods': {
        'what': '41 remote-sensing pairs (SAR, infrared, optical, cross-season, '
        'day-night, depth, map) with landmarks and a transform each',
        'licence': 'none stated; research use, cite Jiang et al., Inf. Fusion 2021',
    },
    'opengeos/data': {
        'what': 'NAIP tile on 10 dates (4 bands, 1 m) and a Landsat crop on 8 dates',
        'licence': 'MIT (repository); NAIP and Landsat imagery are public domain',
    },
    'palewithout/RSSCN7': {
        'what': '2,800 Google Earth scenes, 400², 7 classes',
        'licence': 'none stated; research use, cite Zou et al., IEEE GRSL 2015',
    },
}
#: pairs of the Sentinel set by Sentinel-2 tile
SENTINEL_SPLITS = {'T11SLT': 'train', 'T11SMT': 'train', 'T14RNT': 'test'}
#: StaRainJ remote-sensing folders and the modality of their moving image
STARAINJ_SETS = {
    'CrossSeason': 'optical (other season)',
    'DayNight': 'night',
    'DepthOptical': 'depth',
    'Infrared_Optical': 'infrared',
    'Map_Optical': 'map',
    'Optical_Optical': 'optical (other date)',
    'SAR_Optical': 'sar',
}


def hash_split(name: str) -> str:
    """Stable 80/10/10 split of a scene by its name."""
    bucket = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10
    return 'val' if bucket == 0 else 'test' if bucket == 1 else 'train'


def grid_points(
    matrix: np.ndarray[Any, Any], width: int, height: int
) -> list[list[float]]:
    """Check points from a reference → query homography: a 5×5 grid over the reference."""
    xs, ys = np.meshgrid(np.linspace(0, width, 5), np.linspace(0, height, 5))
    points = np.stack((xs.ravel(), ys.ravel(), np.ones(xs.size)))
    mapped = matrix @ points
    mapped = mapped[:2] / mapped[2]
    return np.concatenate((points[:2], mapped)).T.tolist()


def write_points(path: Path, points: list[list[float]]) -> None:
    """A PairedRasters check-point CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open('w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['ref_col', 'ref_row', 'query_col', 'query_row'])
        writer.writerows([[round(v, 4) for v in p] for p in points])


def write_index(folder: Path, rows: list[dict[str, str]]) -> None:
    """``pairs.csv`` of a pair set."""
    with (folder / 'pairs.csv').open('w', newline='') as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG/JPEG/TIFF held in memory."""
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return int(image.shape[1]), int(image.shape[0])


def prepare_sentinel(repo: Repository, out: Path, counts: Counter[str]) -> None:
    """Optical–SAR pairs (identity warp) and their optical images as textures."""
    meta = json.loads(repo.read('dataset/metadata.json'))
    tiles = {m['fragment_filename']: m['opt_tile_name'].split('_')[5] for m in meta}
    folder = out / 'pairs' / 'optical-sar'
    rows = []
    for name in repo.list('dataset/opt'):
        fragment = Path(name).name
        if fragment not in tiles:
            continue  # the folder's README
        split = SENTINEL_SPLITS[tiles[fragment]]
        optical = repo.read(name)
        write(folder / 'opt' / fragment, optical)
        write(folder / 'sar' / fragment, repo.read(f'dataset/sar/{fragment}'))
        width, height = image_size(optical)
        write_points(
            folder / 'points' / f'{Path(fragment).stem}.csv',
            grid_points(np.eye(3), width, height),
        )
        rows.append(
            {
                'reference': f'opt/{fragment}',
                'query': f'sar/{fragment}',
                'checkpoints': f'points/{Path(fragment).stem}.csv',
                'split': split,
                'modality': 'sar',
            }
        )
        # the optical images are textures of the same split (the test tile's
        # give the 512-pixel simulated test sets their ground)
        write(out / 'textures' / split / 'sentinel2' / fragment, optical)
        counts[f'textures/{split}'] += 1
        counts[f'pairs/optical-sar/{split}'] += 1
    write_index(folder, rows)


def prepare_nir_vis(repo: Repository, out: Path, counts: Counter[str]) -> None:
    """Visible → NIR pairs; GT_n.txt maps VIS pixels to NIR_TF pixels."""
    folder = out / 'pairs' / 'nir-vis'
    # split by scene type: Desert and Mountain test, Coast val, the rest train
    splits = {'Desert': 'test', 'Mountain': 'test', 'Coast': 'val'}
    rows = []
    for name in repo.list('Dataset'):
        path = Path(name)
        if not path.name.startswith('GT_'):
            continue
        number = path.stem.split('_')[1]
        category = path.parent.name
        visible = repo.read(f'{path.parent}/VIS_{number}.png')
        write(folder / category / f'VIS_{number}.png', visible)
        write(
            folder / category / f'NIR_TF_{number}.png',
            repo.read(f'{path.parent}/NIR_TF_{number}.png'),
        )
        matrix = np.loadtxt(io.BytesIO(repo.read(name)))
        # OpenCV's convention (pixel centres on integers) → continuous coordinates
        shift = np.array([[1.0, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
        matrix = shift @ matrix @ np.linalg.inv(shift)
        width, height = image_size(visible)
        stem = f'{category}_{number}'
        write_points(
            folder / 'points' / f'{stem}.csv', grid_points(matrix, width, height)
        )
        split = splits.get(category, 'train')
        rows.append(
            {
                'reference': f'{category}/VIS_{number}.png',
                'query': f'{category}/NIR_TF_{number}.png',
                'checkpoints': f'points/{stem}.csv',
                'split': split,
                'modality': 'nir',
            }
        )
        counts[f'pairs/nir-vis/{split}'] += 1
    write_index(folder, rows)


def prepare_starainj(repo: Repository, out: Path, counts: Counter[str]) -> None:
    """Multimodal remote-sensing pairs; evaluation only (split ``test``)."""
    import scipy.io

    base = 'Multimodal_Image_Matching_Datasets/RemoteSensing'
    folder = out / 'pairs' / 'multimodal'
    rows = []
    for name in repo.list(base):
        path = Path(name)
        if path.suffix != '.mat':
            continue
        kind = path.parent.name
        stem = path.stem
        fixed = repo.read(f'{path.parent}/{stem}a.png')
        write(folder / kind / f'{stem}a.png', fixed)
        write(folder / kind / f'{stem}b.png', repo.read(f'{path.parent}/{stem}b.png'))
        record = scipy.io.loadmat(io.BytesIO(repo.read(name)))
        # MATLAB's row-vector convention: [x y 1] @ T maps moving → fixed, pixel
        # centres on 1-based integers
        moving_to_fixed = np.asarray(record['T'], dtype=np.float64).T
        shift = np.array([[1.0, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
        moving_to_fixed = shift @ moving_to_fixed @ np.linalg.inv(shift)
        width, height = image_size(fixed)
        write_points(
            folder / 'points' / f'{stem}.csv',
            grid_points(np.linalg.inv(moving_to_fixed), width, height),
        )
        rows.append(
            {
                'reference': f'{kind}/{stem}a.png',
                'query': f'{kind}/{stem}b.png',
                'checkpoints': f'points/{stem}.csv',
                'split': 'test',
                'modality': STARAINJ_SETS.get(kind, kind),
            }
        )
        counts['pairs/multimodal/test'] += 1
    write_index(folder, rows)


def prepare_time_series(repo: Repository, out: Path, counts: Counter[str]) -> None:
    """NAIP (train) and Landsat (val) dates: textures and multi-date pairs."""
    for series, split in (('naip', 'train'), ('landsat', 'val')):
        names = [n for n in repo.list(series) if n.endswith('.tif')]
        folder = out / 'pairs' / f'{series}-dates'
        rows = []
        stored = []
        for name in names:
            try:
                data = repo.read(name)
            except subprocess.CalledProcessError:
                continue  # files of 4 MiB and more are absent from snapshots
            if len(data) == 0:
                continue
            write(folder / Path(name).name, data)
            write(out / 'textures' / split / series / Path(name).name, data)
            counts[f'textures/{split}'] += 1
            stored.append(Path(name).name)
        # the repository's time-series folders hold one scene each; keep the
        # files that share the most common size (the series proper)
        sizes = {n: image_size((folder / n).read_bytes()) for n in stored}
        common = Counter(sizes.values()).most_common(1)[0][0] if sizes else None
        series_files = [n for n in stored if sizes[n] == common]
        for first, second in itertools.pairwise(series_files):
            width, height = sizes[first]
            points = f'points/{Path(first).stem}.csv'
            write_points(folder / points, grid_points(np.eye(3), width, height))
            rows.append(
                {
                    'reference': first,
                    'query': second,
                    'checkpoints': points,
                    'split': split,
                    'modality': 'optical (other date)',
                }
            )
            counts[f'pairs/{series}-dates/{split}'] += 1
        if rows:
            write_index(folder, rows)


def prepare_rsscn7(repo: Repository, out: Path, counts: Counter[str]) -> None:
    """Google Earth scenes as textures, split 80/10/10 by name."""
    for name in repo.list(''):
        path = Path(name)
        if path.suffix.lower() != '.jpg':
            continue
        split = hash_split(path.name)
        write(
            out / 'textures' / split / 'rsscn7' / path.parent.name / path.name,
            repo.read(name),
        )
        counts[f'textures/{split}'] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--mirrors', type=Path, required=True)
    parser.add_argument('--out', type=Path, default=Path('data/real'))
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    record = {}
    steps = {
        'VolkovVl/Optical-SAR-dataset': prepare_sentinel,
        'JasonLi-UCAS/NIR-VIS-RS': prepare_nir_vis,
        'StaRainJ/Multi-modality-image-matching-database-metrics-methods': prepare_starainj,
        'opengeos/data': prepare_time_series,
        'palewithout/RSSCN7': prepare_rsscn7,
    }
    for name, step in steps.items():
        repo = find_repository(args.mirrors, name)
        print(f'{name} @ {repo.commit[:12]}')
        step(repo, args.out, counts)
        record[name] = {**SOURCES[name], 'commit': repo.commit}
    summary = {'sources': record, 'counts': dict(sorted(counts.items()))}
    (args.out / 'sources.json').write_text(json.dumps(summary, indent=1) + '\n')
    for key, value in sorted(counts.items()):
        print(f'{key:>32} {value}')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
