"""What a synthetic scene or pair looks like: the simulator's settings as values.

:func:`~torchgeo_cstf.synthetic.synthesize_scene` and
:func:`~torchgeo_cstf.synthetic.generate_scene` take a :class:`SceneSettings`,
the pair functions a :class:`PairSettings`; the generators pass the record on
instead of re-listing its fields. Keyword arguments of those functions override
single fields (``generate_pair(a, b, modality='thermal')``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from .render import Modality
from .warps import WarpModel


@dataclass(frozen=True, kw_only=True)
class GroundSettings:
    """The simulated ground and the reference's georeference (shared by scenes and pairs).

    Attributes:
        gsd: (reference) pixel size in metres.
        crs: a projected CRS (default UTM zone 33N).
        origin: map coordinates of the (reference) top-left corner (default:
            drawn from the seed).
        num_objects: targets on the whole simulated ground (default 48 per
            1024² pixels).
        num_distractors: look-alikes (default 0.6 × targets).
        sea_fraction: share of sea (default drawn in [0.2, 0.6]).
        urban_fraction: share of the land that is built up.
        cloud_cover: share of the (query) image under clouds (optical only).
    """

    gsd: float = 0.5
    crs: Any = 'EPSG:32633'
    origin: tuple[float, float] | None = None
    num_objects: int | None = None
    num_distractors: int | None = None
    sea_fraction: float | None = None
    urban_fraction: float = 0.3
    cloud_cover: float = 0.0


@dataclass(frozen=True, kw_only=True)
class SceneSettings(GroundSettings):
    """One acquisition (see :func:`~torchgeo_cstf.synthetic.generate_scene`).

    Attributes:
        modality: ``optical``, ``sar`` (speckled, log-scaled backscatter) or
            ``thermal`` (inverted contrast, blurred).
        bands: band count (optical 1/3/4, SAR 1/2, thermal 1; default 3/2/1).
        dtype: ``uint8`` or ``uint16`` (default uint8 for optical, else uint16).
    """

    modality: Modality = 'optical'
    bands: int | None = None
    dtype: str | None = None


@dataclass(frozen=True, kw_only=True)
class PairSettings(GroundSettings):
    """A reference and a later query of the same ground (see :func:`~torchgeo_cstf.synthetic.generate_pair`).

    Attributes:
        size: reference (rows, columns).
        query_size: query (rows, columns) (default: ``size``).
        modality: query modality (``optical``, ``sar``, ``thermal``).
        reference_modality: reference modality.
        reference_bands: reference band count (as :attr:`SceneSettings.bands`).
        query_bands: query band count (default optical 3, SAR 2, thermal 1).
        reference_dtype: reference data type.
        query_dtype: query data type.
        warp: ``identity``, ``similarity``, ``affine`` or ``homography``.
        scale: range of query pixels per reference pixel.
        rotation: range of rotation in degrees.
        time_change: share of objects and fields that change between the times.
        georef_error: error of the query's header georeference, in pixels.
    """

    size: tuple[int, int] = (512, 512)
    query_size: tuple[int, int] | None = None
    modality: Modality = 'sar'
    reference_modality: Modality = 'optical'
    reference_bands: int | None = None
    query_bands: int | None = None
    reference_dtype: str | None = None
    query_dtype: str | None = None
    warp: WarpModel = 'homography'
    scale: tuple[float, float] = (0.5, 2.0)
    rotation: tuple[float, float] = (-180.0, 180.0)
    time_change: float = 0.3
    georef_error: float = 8.0


def with_overrides[S: GroundSettings](
    cls: type[S], settings: S | None, overrides: Mapping[str, Any]
) -> S:
    """``settings`` (default ``cls()``) with some fields replaced.

    Raises:
        InputError: an override that is not a field of ``cls``.
    """
    known = {item.name for item in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InputError(
            unknown[0], f'is not a setting of {cls.__name__}; known: {sorted(known)}'
        )
    return dataclasses.replace(settings if settings is not None else cls(), **overrides)
