"""Matching datasets: random cross-modal pairs with exact warps, and real pairs.

:class:`CrossModalPairs` makes pairs on demand, from the synthetic generator or
from any folder of real rasters (a warp and a modality simulated on the real
imagery). :class:`PairedRasters` reads real co-registered pairs with check
points. Both return ``reference`` and ``query`` float32 images in [0, 1]
(percentile-stretched, see :func:`~torchgeo_cstf.io.percentile_stretch`), the
exact ``warp`` (3×3, reference pixels → query pixels, continuous pixel
coordinates) and ``query_valid`` (query pixels holding data).
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from matplotlib.figure import Figure
from rasterio.windows import Window
from torchgeo.datasets import NonGeoDataset

from ..errors import InputError, InputNotFoundError
from ..io.radiometry import percentile_stretch
from ..io.raster import open_raster, read_raster_info, read_window
from ..ops.homography import apply_homography, fit_homography, translation
from ..plotting import display_image
from ..synthetic import PairSettings, synthesize_pair
from ..synthetic.simulate import simulate_modality
from ..synthetic.warps import WARP_MODELS, WarpModel, random_warp
from .errors import DatasetNotFoundError

Sample = dict[str, Any]

#: modalities a query may have, indexed by the ``modality`` sample value
MODALITIES: tuple[str, ...] = ('optical', 'sar', 'thermal')
#: default number of pairs per split
DEFAULT_LENGTHS: dict[str, int] = {'train': 2000, 'val': 100, 'test': 100}
_SPLIT_CODES = {'train': 0, 'val': 1, 'test': 2}
_RASTER_SUFFIXES = ('.tif', '.tiff', '.vrt', '.img', '.jp2', '.png', '.jpg', '.jpeg')


def _check_split(split: str) -> None:
    if split not in _SPLIT_CODES:
        raise InputError('split', f'must be one of {list(_SPLIT_CODES)}, got {split!r}')


def _file_split(path: Path) -> str:
    """Stable 80/10/10 assignment of a file to a split by its name."""
    bucket = int(hashlib.sha256(path.name.encode()).hexdigest(), 16) % 10
    return 'val' if bucket == 0 else 'test' if bucket == 1 else 'train'


def _tensor_sample(
    reference: np.ndarray[Any, Any],
    query: np.ndarray[Any, Any],
    valid: np.ndarray[Any, Any],
    warp: np.ndarray[Any, Any],
    modality: str,
) -> Sample:
    return {
        'reference': torch.from_numpy(np.ascontiguousarray(reference, np.float32)),
        'query': torch.from_numpy(np.ascontiguousarray(query, np.float32)),
        'query_valid': torch.from_numpy(np.ascontiguousarray(valid, bool)),
        'warp': torch.from_numpy(np.asarray(warp, np.float64)),
        'modality': torch.tensor(MODALITIES.index(modality)),
    }


def plot_pair_sample(sample: Sample, suptitle: str | None = None) -> Figure:
    """Draw a pair sample: the reference, the query and a grid moved by the warp.

    Args:
        sample: a sample of :class:`CrossModalPairs` or :class:`PairedRasters`.
        suptitle: an optional figure title.

    Returns:
        The figure.
    """
    figure = Figure(figsize=(10, 5), layout='constrained')
    left, right = figure.subplots(1, 2)
    reference = sample['reference'].numpy()
    query = sample['query'].numpy()
    left.imshow(display_image(reference * 255 + 1), cmap='gray')
    right.imshow(display_image(query * 255 + 1), cmap='gray')
    height, width = reference.shape[-2:]
    warp = sample['warp'].numpy()
    for fraction in np.linspace(0.1, 0.9, 5):
        for line in (
            np.stack((np.linspace(0, width, 20), np.full(20, fraction * height)), 1),
            np.stack((np.full(20, fraction * width), np.linspace(0, height, 20)), 1),
        ):
            left.plot(line[:, 0], line[:, 1], color='#ffcc00', lw=0.6)
            moved = apply_homography(warp, line)
            right.plot(moved[:, 0], moved[:, 1], color='#ffcc00', lw=0.6)
    right.set_xlim(0, query.shape[-1])
    right.set_ylim(query.shape[-2], 0)
    modality = MODALITIES[int(sample['modality'])]
    left.set_title('reference')
    right.set_title(f'query ({modality}); grid mapped by the true warp')
    for ax in (left, right):
        ax.set_axis_off()
    if suptitle is not None:
        figure.suptitle(suptitle)
    return figure


class CrossModalPairs(NonGeoDataset):
    """Random reference/query pairs with an exact warp, made on demand.

    Without ``root`` the pairs come from the synthetic generator: an optical
    reference and a query of a modality drawn from ``modalities``, taken later
    (objects moved, added, removed) and warped. With ``root`` (a folder of
    rasters, searched recursively) a window of a real raster is the reference
    and the query is the same ground warped, re-lit and seen as another
    modality (:func:`~torchgeo_cstf.synthetic.simulate.simulate_modality`).
    A folder with ``train``, ``val`` and ``test`` sub-folders is split by them
    (split by scene, as ``benchmarks/prepare_real_matching.py`` writes it);
    otherwise files are assigned to splits 80/10/10 by a hash of their names.
    Rasters smaller than ``size`` on a side are left out.

    Pair ``i`` of a split is always the same. Sample keys: ``reference``
    (reference_bands, S, S), ``query`` (query_bands, S, S), ``query_valid``
    (S, S) bool, ``warp`` (3, 3) float64, ``modality`` (index into
    :data:`MODALITIES`).

    Args:
        root: folder of real rasters, or ``None`` for synthetic pairs.
        split: ``train``, ``val`` or ``test``.
        length: number of pairs (default :data:`DEFAULT_LENGTHS`).
        size: side S of both images in pixels.
        seed: base seed.
        modalities: query modalities to draw from.
        reference_bands: reference bands (3 RGB, or 1 grey).
        query_bands: query bands (1 works for every modality).
        warp: ``identity``, ``similarity``, ``affine`` or ``homography``.
        scale: range of query pixels per reference pixel.
        rotation: range of rotations in degrees.
        time_change: share of objects that change (synthetic pairs).
        transforms: a callable applied to each sample.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        split: str = 'train',
        length: int | None = None,
        size: int = 256,
        seed: int = 0,
        modalities: Sequence[str] = ('sar', 'thermal', 'optical'),
        reference_bands: int = 3,
        query_bands: int = 1,
        warp: WarpModel = 'homography',
        scale: tuple[float, float] = (0.5, 2.0),
        rotation: tuple[float, float] = (-180.0, 180.0),
        time_change: float = 0.3,
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        """Initialise the dataset; see the class docstring for arguments."""
        _check_split(split)
        unknown = [m for m in modalities if m not in MODALITIES]
        if unknown or not modalities:
            raise InputError(
                'modalities',
                f'must be a non-empty subset of {MODALITIES}, got {list(modalities)}',
            )
        if warp not in WARP_MODELS:
            raise InputError('warp', f'must be one of {WARP_MODELS}, got {warp!r}')
        if reference_bands not in (1, 3):
            raise InputError(
                'reference_bands', f'must be 1 or 3, got {reference_bands}'
            )
        if size < 32:
            raise InputError('size', f'must be at least 32 pixels, got {size}')
        self.split = split
        self.length = DEFAULT_LENGTHS[split] if length is None else int(length)
        self.size = int(size)
        self.seed = seed
        self.modalities = tuple(modalities)
        self.reference_bands = reference_bands
        self.query_bands = query_bands
        self.warp = warp
        self.scale = scale
        self.rotation = rotation
        self.time_change = time_change
        self.transforms = transforms
        self.files: list[Path] = []
        if root is not None:
            self.files = self._find_rasters(Path(root))

    def _find_rasters(self, root: Path) -> list[Path]:
        if not root.is_dir():
            raise DatasetNotFoundError(root, 'no such folder of rasters')
        # a folder with train/val/test sub-folders is split by scene already
        presplit = all((root / name).is_dir() for name in _SPLIT_CODES)
        base = root / self.split if presplit else root
        found = sorted(
            p for p in base.rglob('*') if p.suffix.lower() in _RASTER_SUFFIXES
        )
        if not found:
            raise DatasetNotFoundError(
                base, f'holds no rasters ({", ".join(_RASTER_SUFFIXES)})'
            )
        mine = found if presplit else [p for p in found if _file_split(p) == self.split]
        if not mine:
            raise InputError(
                root,
                f'none of its {len(found)} rasters falls in the {self.split!r} split '
                '(files are split 80/10/10 by name; add more rasters, or give the '
                'folder train/val/test sub-folders)',
            )
        large = [p for p in mine if min(_raster_shape(p)) >= self.size]
        if not large:
            raise InputError(
                root,
                f'none of its {len(mine)} {self.split!r} rasters is at least '
                f'{self.size} pixels on each side',
            )
        return large

    def __len__(self) -> int:
        """Number of pairs."""
        return self.length

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, _SPLIT_CODES[self.split], index])

    def __getitem__(self, index: int) -> Sample:
        """Make pair ``index``.

        Args:
            index: pair index in [0, len).

        Returns:
            The sample (see the class docstring).
        """
        if not 0 <= index < self.length:
            raise IndexError(f'pair {index} out of range [0, {self.length})')
        rng = self._rng(index)
        modality = self.modalities[int(rng.integers(len(self.modalities)))]
        sample = (
            self._real(rng, modality) if self.files else self._synthetic(rng, modality)
        )
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _synthetic(self, rng: np.random.Generator, modality: str) -> Sample:
        pair = synthesize_pair(
            int(rng.integers(2**31)),
            PairSettings(
                size=(self.size, self.size),
                modality=modality,  # type: ignore[arg-type]
                reference_bands=self.reference_bands,
                query_bands=self.query_bands,
                warp=self.warp,
                scale=self.scale,
                rotation=self.rotation,
                time_change=self.time_change,
            ),
        )
        valid = (pair.query > 0).all(axis=0)
        reference = percentile_stretch(pair.reference)
        query = percentile_stretch(pair.query, valid)
        return _tensor_sample(
            reference, query, valid, pair.truth.warp_matrix(), modality
        )

    def _real(self, rng: np.random.Generator, modality: str) -> Sample:
        path = self.files[int(rng.integers(len(self.files)))]
        size = self.size
        warp = random_warp(
            rng, (size, size), (size, size), self.warp, self.scale, self.rotation
        )
        # the query sees reference pixels up to this far outside the reference window
        corners = np.array([[0, 0], [size, 0], [size, size], [0, size]], dtype=float)
        seen = apply_homography(np.linalg.inv(warp), corners)
        reach = math.ceil(max(-seen.min(), seen.max() - size, 0.0)) + 2
        with open_raster(path, require_crs=False) as src:
            if src.width < size or src.height < size:
                raise InputError(
                    path,
                    f'is {src.width}x{src.height}, smaller than a {size}-pixel pair',
                )
            col = int(rng.integers(0, src.width - size + 1))
            row = int(rng.integers(0, src.height - size + 1))
            context = read_window(
                src,
                Window(col - reach, row - reach, size + 2 * reach, size + 2 * reach),
            )
        bands = context.array[: max(self.reference_bands, 3)]
        stretched = percentile_stretch(bands, context.valid)
        if stretched.shape[0] < 3:
            stretched = np.repeat(stretched[:1], 3, axis=0)
        reference = stretched[:, reach : reach + size, reach : reach + size]
        if self.reference_bands == 1:
            reference = reference.mean(axis=0, keepdims=True)
        # query pixel -> context pixel index: inverse warp, then shift into the context
        to_context = (
            translation(reach - 0.5, reach - 0.5)
            @ np.linalg.inv(warp)
            @ translation(0.5, 0.5)
        )
        warped, inside = _resample(stretched, context.valid, to_context, size)
        query = simulate_modality(
            np.asarray(warped, dtype=np.float32), modality, self.query_bands, rng
        )
        query[:, ~inside] = 0.0
        return _tensor_sample(reference, query, inside, warp, modality)

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Draw a sample (see :func:`plot_pair_sample`)."""
        return plot_pair_sample(sample, suptitle if show_titles else None)


class PairedRasters(NonGeoDataset):
    """Real co-registered pairs with check points, cut into tiles.

    ``root/pairs.csv`` lists the pairs, one per row, with columns ``reference``,
    ``query`` and ``checkpoints`` (paths relative to ``root``) and an optional
    ``split`` (``train``/``val``/``test``; without it every pair is in every
    split). Each check-point CSV has columns ``ref_col, ref_row, query_col,
    query_row``: the same ground point in continuous pixel coordinates of both
    rasters (at least 4 points, not all on one line).

    The warp of a pair is the homography fitted to its check points. Samples are
    ``size``-pixel tiles of the reference; the query tile is centred on the
    warped tile centre, and ``warp`` relates the two tiles.

    With ``resample``, the query tile is instead the query *resampled into the
    reference tile's frame* and then moved by a random similarity (centre
    shift up to ``shift`` pixels, rotation uniform in ``rotation`` degrees,
    scale log-uniform in ``scale``; the same for tile ``i`` on every read):
    ``warp`` is that similarity. Small ranges (±40 px, ±3°, ±3 %) give the
    co-registration case, a query whose georeference is nearly right; full
    ranges give training pairs of real cross-modal radiometry under any
    rotation.

    Args:
        root: folder holding ``pairs.csv``.
        split: ``train``, ``val`` or ``test``.
        size: tile side in pixels.
        resample: resample the query into the reference frame (see above).
        shift: largest centre shift of the resampled query, pixels.
        rotation: rotation range of the resampled query, degrees.
        scale: scale range of the resampled query (query pixels per reference
            pixel).
        seed: base seed of the random similarities.
        transforms: a callable applied to each sample.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = 'data',
        split: str = 'test',
        size: int = 512,
        resample: bool = False,
        shift: float = 40.0,
        rotation: tuple[float, float] = (-3.0, 3.0),
        scale: tuple[float, float] = (0.97, 1.03),
        seed: int = 0,
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        """Initialise the dataset; see the class docstring for arguments."""
        _check_split(split)
        self.root = Path(root)
        self.split = split
        self.resample = resample
        self.shift = float(shift)
        self.rotation = rotation
        self.scale = scale
        self.seed = seed
        index = self.root / 'pairs.csv'
        if not index.exists():
            raise InputNotFoundError(
                index,
                'no such file: PairedRasters needs root/pairs.csv with columns '
                'reference, query, checkpoints[, split]',
            )
        self.size = int(size)
        self.transforms = transforms
        self.pairs: list[
            tuple[Path, Path, np.ndarray[Any, Any], np.ndarray[Any, Any]]
        ] = []
        self.tiles: list[tuple[int, int, int]] = []
        #: the ``modality`` column of each pair ('' without one)
        self.kinds: list[str] = []
        for row in _read_csv(index, ('reference', 'query', 'checkpoints')):
            if row.get('split') not in (None, '', split):
                continue
            points = _read_csv(
                self.root / row['checkpoints'],
                ('ref_col', 'ref_row', 'query_col', 'query_row'),
            )
            try:
                numbers = np.array(
                    [
                        [
                            float(p['ref_col']),
                            float(p['ref_row']),
                            float(p['query_col']),
                            float(p['query_row']),
                        ]
                        for p in points
                    ]
                )
            except ValueError as err:
                raise InputError(
                    self.root / row['checkpoints'], f'non-numeric check point ({err})'
                ) from err
            if len(numbers) < 4:
                raise InputError(
                    self.root / row['checkpoints'],
                    f'has {len(numbers)} check points, needs at least 4',
                )
            homography = fit_homography(numbers[:, :2], numbers[:, 2:])
            reference = self.root / row['reference']
            query = self.root / row['query']
            height = read_raster_info(reference, require_crs=False).height
            width = read_raster_info(reference, require_crs=False).width
            read_raster_info(query, require_crs=False)  # fail early on a bad query
            pair_index = len(self.pairs)
            self.pairs.append((reference, query, homography, numbers))
            self.kinds.append(row.get('modality') or '')
            for top in range(0, max(height - self.size, 0) + 1, self.size):
                for left in range(0, max(width - self.size, 0) + 1, self.size):
                    self.tiles.append((pair_index, left, top))

    def __len__(self) -> int:
        """Number of tiles over all pairs."""
        return len(self.tiles)

    def homography(self, pair: int) -> np.ndarray[Any, Any]:
        """The reference → query homography of a pair (raster pixel coordinates)."""
        return self.pairs[pair][2]

    def checkpoints(self, pair: int) -> np.ndarray[Any, Any]:
        """(K, 4) check points ``ref_col, ref_row, query_col, query_row`` of a pair."""
        return self.pairs[pair][3]

    def __getitem__(self, index: int) -> Sample:
        """Read tile ``index``.

        Args:
            index: tile index in [0, len).

        Returns:
            ``reference``, ``query``, ``query_valid``, ``warp``, ``modality``
            (the query's modality is unknown: reported as optical), ``pair``,
            ``origin`` (reference tile's top-left pixel, query tile's top-left
            pixel).
        """
        sample = self._resampled(index) if self.resample else self._cut(index)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _cut(self, index: int) -> Sample:
        """Tile ``index`` with the query tile cut around the mapped centre."""
        pair, left, top = self.tiles[index]
        reference_path, query_path, homography, _ = self.pairs[pair]
        size = self.size
        centre = apply_homography(
            homography, np.array([[left + size / 2, top + size / 2]])
        )[0]
        q_left, q_top = round(centre[0] - size / 2), round(centre[1] - size / 2)
        with open_raster(reference_path, require_crs=False) as src:
            ref = read_window(src, Window(left, top, size, size))
        with open_raster(query_path, require_crs=False) as src:
            qry = read_window(src, Window(q_left, q_top, size, size))
        warp = translation(-q_left, -q_top) @ homography @ translation(left, top)
        sample = _tensor_sample(
            percentile_stretch(ref.array[:3], ref.valid),
            percentile_stretch(qry.array[:3], qry.valid),
            qry.valid,
            warp / warp[2, 2],
            'optical',
        )
        sample['pair'] = torch.tensor(pair)
        sample['origin'] = torch.tensor([[left, top], [q_left, q_top]])
        return sample

    def _resampled(self, index: int) -> Sample:
        """Tile ``index`` with the query resampled into the reference frame."""
        pair, left, top = self.tiles[index]
        reference_path, query_path, homography, _ = self.pairs[pair]
        size = self.size
        rng = np.random.default_rng([self.seed, _SPLIT_CODES[self.split], index])
        moved = random_warp(
            rng,
            (size, size),
            (size, size),
            'similarity',
            self.scale,
            self.rotation,
            max_shift=self.shift / size,
        )
        # query-tile pixel → full query pixel: back through the similarity, onto
        # the reference raster, then through the pair's homography
        to_query = homography @ translation(left, top) @ np.linalg.inv(moved)
        corners = np.array([[0, 0], [size, 0], [size, size], [0, size]], float)
        seen = apply_homography(to_query, corners)
        col0, row0 = np.floor(seen.min(axis=0)).astype(int) - 2
        col1, row1 = np.ceil(seen.max(axis=0)).astype(int) + 2
        with open_raster(reference_path, require_crs=False) as src:
            ref = read_window(src, Window(left, top, size, size))
        with open_raster(query_path, require_crs=False) as src:
            qry = read_window(src, Window(col0, row0, col1 - col0, row1 - row0))
        # continuous coordinates: array index i holds the pixel centred at i + 0.5
        to_array = (
            translation(-col0 - 0.5, -row0 - 0.5) @ to_query @ translation(0.5, 0.5)
        )
        stretched = percentile_stretch(qry.array[:3], qry.valid)
        query, valid = _resample(stretched, qry.valid, to_array, size)
        query[:, ~valid] = 0.0
        sample = _tensor_sample(
            percentile_stretch(ref.array[:3], ref.valid),
            query,
            valid,
            moved / moved[2, 2],
            'optical',
        )
        sample['pair'] = torch.tensor(pair)
        sample['origin'] = torch.tensor([[left, top], [0, 0]])
        return sample

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Draw a sample (see :func:`plot_pair_sample`)."""
        return plot_pair_sample(sample, suptitle if show_titles else None)


def _resample(
    image: np.ndarray[Any, Any],
    valid: np.ndarray[Any, Any],
    to_source: np.ndarray[Any, Any],
    size: int,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """A (C, size, size) view of an image and its validity through a homography.

    Args:
        image: (C, H, W) values.
        valid: (H, W) pixels holding data.
        to_source: output pixel index → source pixel index (OpenCV's convention).
        size: output side.

    Returns:
        The bilinear resampled image (0 outside) and the nearest-neighbour
        resampled validity.
    """
    values = cv2.warpPerspective(
        image.transpose(1, 2, 0),
        to_source,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).reshape(size, size, -1)
    inside = cv2.warpPerspective(
        valid.astype(np.uint8),
        to_source,
        (size, size),
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).astype(bool)
    return values.transpose(2, 0, 1), inside


def _raster_shape(path: Path) -> tuple[int, int]:
    """(rows, columns) of a raster, from its header."""
    info = read_raster_info(path, require_crs=False)
    return info.height, info.width


def _read_csv(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    if not path.exists():
        raise InputNotFoundError(path, 'no such file')
    with path.open(newline='') as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(path, f'lacks the column(s) {", ".join(missing)}')
        return list(reader)
