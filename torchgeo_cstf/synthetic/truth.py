"""Ground truth of synthetic acquisitions, serialisable to JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine

from ..errors import InputError, InputNotFoundError
from ..io.atomic import atomic_output
from ..ops.homography import apply_homography
from .shapes import CLASSES


@dataclass(frozen=True)
class ObjectTruth:
    """One object as seen in one image.

    Attributes:
        id: identifier, shared by the two images of a pair for the same object.
        label: class index into :attr:`SceneTruth.classes`.
        box: tight CXCYWHR box (pixels; degrees counter-clockwise; canonical:
            ``w >= h``, angle in [-90, 90)).
        heading: direction of the object's front, degrees counter-clockwise on
            screen from the +x axis, in [0, 360).
        visible: share of the box inside the image, in (0, 1].
    """

    id: int
    label: int
    box: tuple[float, float, float, float, float]
    heading: float
    visible: float = 1.0


@dataclass(frozen=True)
class SceneTruth:
    """Everything known about one synthetic image.

    Attributes:
        path: the GeoTIFF written ('' when only synthesised in memory).
        height: rows.
        width: columns.
        modality: ``optical``, ``sar`` or ``thermal``.
        bands: band names.
        dtype: ``uint8`` or ``uint16``.
        nodata: nodata value (always 0).
        crs: CRS as ``AUTHORITY:CODE``.
        transform: GDAL-order affine coefficients ``(a, b, c, d, e, f)`` mapping
            continuous pixel coordinates to map coordinates.
        gsd: ground sampling distance in map units per pixel (approximate for
            warped images).
        objects: the objects in the image.
        classes: class names indexed by label.
        seed: the generator seed.
    """

    path: str
    height: int
    width: int
    modality: str
    bands: tuple[str, ...]
    dtype: str
    nodata: int
    crs: str
    transform: tuple[float, float, float, float, float, float]
    gsd: float
    objects: tuple[ObjectTruth, ...]
    classes: tuple[str, ...] = CLASSES
    seed: int = 0

    @property
    def affine(self) -> Affine:
        """The transform as an :class:`affine.Affine`."""
        return Affine(*self.transform)

    def boxes(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """(N, 5) CXCYWHR boxes of all objects."""
        return np.array([o.box for o in self.objects], dtype=np.float64).reshape(-1, 5)

    def labels(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        """(N,) class labels of all objects."""
        return np.array([o.label for o in self.objects], dtype=np.int64)

    def with_path(self, path: str | os.PathLike[str]) -> SceneTruth:
        """A copy that records where the image was written."""
        return replace(self, path=os.fspath(path))

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dictionary."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneTruth:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values['objects'] = tuple(
            ObjectTruth(**{**o, 'box': tuple(o['box'])}) for o in data['objects']
        )
        for key in ('bands', 'transform', 'classes'):
            values[key] = tuple(data[key])
        return cls(**values)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write as JSON (atomically)."""
        return _save_json(path, {'scene': self.to_dict()})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SceneTruth:
        """Read a file written by :meth:`save`."""
        return cls.from_dict(_load_json(path, 'scene'))


@dataclass(frozen=True)
class PairTruth:
    """Ground truth of a reference/query pair of acquisitions.

    Attributes:
        reference: truth of the reference image.
        query: truth of the query image.
        warp: 3×3 matrix (row-major) mapping reference pixel coordinates to
            query pixel coordinates (exact; homogeneous coordinates).
        warp_model: ``identity``, ``similarity``, ``affine`` or ``homography``.
        changes: object id → ``static``, ``moved``, ``removed`` or ``added``
            between the reference and the query time.
        seed: the generator seed.
    """

    reference: SceneTruth
    query: SceneTruth
    warp: tuple[tuple[float, ...], ...]
    warp_model: str
    changes: dict[int, str] = field(default_factory=dict)
    seed: int = 0

    def warp_matrix(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The warp as a (3, 3) array."""
        return np.array(self.warp, dtype=np.float64)

    def reference_to_query(self, xy: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Map (K, 2) reference pixel coordinates into the query image."""
        return apply_homography(self.warp_matrix(), np.asarray(xy, dtype=np.float64))

    def query_to_reference(self, xy: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Map (K, 2) query pixel coordinates into the reference image."""
        inverse = np.linalg.inv(self.warp_matrix())
        return apply_homography(inverse, np.asarray(xy, dtype=np.float64))

    def check_points(
        self, samples: int = 33
    ) -> tuple[
        np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.float64]]
    ]:
        """A grid of reference points that fall inside the query, and their images.

        Args:
            samples: grid points per side of the reference image.

        Returns:
            (K, 2) reference pixel coordinates and (K, 2) their true query pixel
            coordinates: check points for
            :func:`~torchgeo_cstf.metrics.registration_rmse`.
        """
        cols, rows = np.meshgrid(
            np.linspace(0, self.reference.width, samples),
            np.linspace(0, self.reference.height, samples),
        )
        reference_xy = np.stack((cols.ravel(), rows.ravel()), axis=1)
        query_xy = self.reference_to_query(reference_xy)
        inside = (
            (query_xy[:, 0] >= 0)
            & (query_xy[:, 1] >= 0)
            & (query_xy[:, 0] <= self.query.width)
            & (query_xy[:, 1] <= self.query.height)
        )
        return reference_xy[inside], query_xy[inside]

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dictionary."""
        return {
            'reference': self.reference.to_dict(),
            'query': self.query.to_dict(),
            'warp': [list(row) for row in self.warp],
            'warp_model': self.warp_model,
            'changes': {str(k): v for k, v in self.changes.items()},
            'seed': self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairTruth:
        """Inverse of :meth:`to_dict`."""
        return cls(
            reference=SceneTruth.from_dict(data['reference']),
            query=SceneTruth.from_dict(data['query']),
            warp=tuple(tuple(float(v) for v in row) for row in data['warp']),
            warp_model=data['warp_model'],
            changes={int(k): v for k, v in data['changes'].items()},
            seed=int(data['seed']),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write as JSON (atomically)."""
        return _save_json(path, {'pair': self.to_dict()})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PairTruth:
        """Read a file written by :meth:`save`."""
        return cls.from_dict(_load_json(path, 'pair'))


def _save_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=1))
    return Path(path)


def _load_json(path: str | os.PathLike[str], key: str) -> dict[str, Any]:
    name = os.fspath(path)
    if not os.path.exists(name):
        raise InputNotFoundError(name, 'no such truth file')
    try:
        payload = json.loads(Path(name).read_text())
        data: dict[str, Any] = payload[key]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise InputError(name, f'not a {key} truth file ({err})') from err
    return data
