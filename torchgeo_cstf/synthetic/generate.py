"""Public entry points: synthesise scenes and pairs, in memory or as GeoTIFFs."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import torch
from affine import Affine

from ..errors import InputError
from ..io.coords import parse_crs
from ..io.raster import SYNTHETIC_TAGS, write_geotiff
from ..ops.boxes import canonicalize_cxcywhr, poly_to_cxcywhr
from ..ops.homography import apply_homography, fit_affine, jacobian
from .render import BAND_NAMES, Frame, Modality, quantize, render, select_bands
from .settings import PairSettings, SceneSettings, with_overrides
from .truth import ObjectTruth, PairTruth, SceneTruth
from .warps import random_warp
from .world import (
    PlacedObject,
    World,
    build_background,
    evolve,
    place_distractors,
    place_objects,
)

#: default objects per 1024×1024 reference pixels
OBJECTS_PER_MEGAPIXEL = 48
#: a partly visible object is part of the truth when this share of its box shows
MIN_VISIBLE = 0.5

# independent random streams, so that changing one setting keeps the rest
_BACKGROUND, _OBJECTS, _DISTRACTORS, _REF_SENSOR, _TIME, _WARP, _QUERY_SENSOR = range(7)
_DEFAULT_BANDS = {'optical': 3, 'sar': 2, 'thermal': 1}
_DEFAULT_DTYPE = {'optical': 'uint8', 'sar': 'uint16', 'thermal': 'uint16'}


@dataclass(frozen=True)
class Acquisition:
    """A synthesised image in memory.

    Attributes:
        image: (C, H, W) digital numbers (uint8 or uint16; 0 = nodata).
        truth: its ground truth (``path`` is empty until written).
    """

    image: np.ndarray[Any, Any]
    truth: SceneTruth


def _streams(seed: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)]


def _check_size(name: str, size: tuple[int, int]) -> tuple[int, int]:
    if len(size) != 2 or min(size) < 16 or max(size) > 32768:
        raise InputError(name, f'must be (rows, columns) within 16–32768, got {size}')
    return int(size[0]), int(size[1])


def _check_modality(name: str, modality: str, bands: int | None) -> int:
    if modality not in BAND_NAMES:
        raise InputError(name, f'must be one of {sorted(BAND_NAMES)}, got {modality!r}')
    count = _DEFAULT_BANDS[modality] if bands is None else bands
    if count not in BAND_NAMES[modality]:
        raise InputError(
            f'{name} bands',
            f'{modality} offers {sorted(BAND_NAMES[modality])} bands, got {count}',
        )
    return count


def _check_fraction(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise InputError(name, f'must be in [0, 1], got {value}')
    return float(value)


def _origin(rng: np.random.Generator, origin: tuple[float, float] | None) -> Any:
    if origin is not None:
        return origin
    # a plausible UTM easting/northing, rounded to whole metres
    return float(round(rng.uniform(300_000, 700_000))), float(
        round(rng.uniform(4_000_000, 5_500_000))
    )


def _world(
    streams: list[np.random.Generator],
    shape: tuple[int, int],
    margin: int,
    num_objects: int | None,
    num_distractors: int | None,
    sea_fraction: float | None,
    urban_fraction: float,
) -> tuple[World, np.ndarray[Any, np.dtype[np.bool_]]]:
    rng = streams[_BACKGROUND]
    sea = float(rng.uniform(0.2, 0.6)) if sea_fraction is None else sea_fraction
    world = build_background(rng, shape[0], shape[1], margin, sea, urban_fraction)
    area = world.canvas_shape[0] * world.canvas_shape[1] / 1024**2
    count = round(OBJECTS_PER_MEGAPIXEL * area) if num_objects is None else num_objects
    extra = round(0.6 * count) if num_distractors is None else num_distractors
    occupancy = np.zeros(world.canvas_shape, dtype=bool)
    place_objects(streams[_OBJECTS], world, count, occupancy, first_id=0)
    place_distractors(streams[_DISTRACTORS], world, extra, occupancy)
    return world, occupancy


def _visible_share(polygon: np.ndarray[Any, Any], frame: Frame) -> float:
    shape = shapely.Polygon(polygon)
    if shape.area <= 0:
        return 0.0
    inside = shape.intersection(shapely.box(0, 0, frame.width, frame.height))
    return float(inside.area / shape.area)


def _observe(obj: PlacedObject, frame: Frame) -> ObjectTruth | None:
    """The object's truth in a frame, or None when too little of it shows."""
    to_frame = np.linalg.inv(frame.to_world)
    corners = apply_homography(to_frame, obj.corners())
    visible = _visible_share(corners, frame)
    if visible < MIN_VISIBLE:
        return None
    if np.allclose(frame.to_world, np.eye(3)):
        box = canonicalize_cxcywhr(
            torch.tensor(
                [[obj.cx, obj.cy, obj.length, obj.width, obj.heading]],
                dtype=torch.float64,
            )
        )[0]
        heading = obj.heading
    else:
        # size and angle of the tightest rectangle around the warped box; the
        # centre is the warped centre (exact under any warp, where the
        # rectangle's own centre drifts under perspective)
        box = poly_to_cxcywhr(torch.from_numpy(corners[None]))[0]
        box[:2] = torch.from_numpy(
            apply_homography(to_frame, np.array([[obj.cx, obj.cy]]))[0]
        )
        rad = math.radians(obj.heading)
        direction = jacobian(to_frame, (obj.cx, obj.cy)) @ [
            math.cos(rad),
            -math.sin(rad),
        ]
        heading = math.degrees(math.atan2(-direction[1], direction[0])) % 360.0
    return ObjectTruth(
        id=obj.id,
        label=obj.label,
        box=tuple(float(v) for v in box.tolist()),  # type: ignore[arg-type]
        heading=float(heading),
        visible=round(visible, 6),
    )


def _acquire(
    world: World,
    frame: Frame,
    modality: Modality,
    bands: int,
    dtype: str,
    rng: np.random.Generator,
    *,
    crs: str,
    transform: Affine,
    gsd: float,
    seed: int,
    cloud_cover: float = 0.0,
) -> Acquisition:
    image, valid = render(world, frame, modality, rng, cloud_cover=cloud_cover)
    digital = quantize(select_bands(image, modality, bands), valid, dtype, modality)
    observed = (_observe(obj, frame) for obj in world.objects)
    truth = SceneTruth(
        path='',
        height=frame.height,
        width=frame.width,
        modality=modality,
        bands=BAND_NAMES[modality][bands],
        dtype=dtype,
        nodata=0,
        crs=crs,
        transform=tuple(transform)[:6],
        gsd=gsd,
        objects=tuple(o for o in observed if o is not None),
        seed=seed,
    )
    return Acquisition(image=digital, truth=truth)


def _crs_name(crs: Any) -> str:
    parsed = parse_crs(crs)
    if not parsed.is_projected:
        raise InputError('crs', f'{parsed.name} is not a projected CRS (use e.g. UTM)')
    authority = parsed.to_authority()
    return ':'.join(authority) if authority else parsed.to_wkt()


def synthesize_scene(
    size: tuple[int, int] = (1024, 1024),
    seed: int = 0,
    settings: SceneSettings | None = None,
    **overrides: Any,
) -> Acquisition:
    """Synthesise one acquisition in memory (see :func:`generate_scene`)."""
    s = with_overrides(SceneSettings, settings, overrides)
    shape = _check_size('size', size)
    count = _check_modality('modality', s.modality, s.bands)
    kind = _DEFAULT_DTYPE[s.modality] if s.dtype is None else s.dtype
    if s.gsd <= 0:
        raise InputError('gsd', f'must be positive, got {s.gsd}')
    if s.sea_fraction is not None:
        _check_fraction('sea_fraction', s.sea_fraction)
    _check_fraction('urban_fraction', s.urban_fraction)
    _check_fraction('cloud_cover', s.cloud_cover)
    crs_name = _crs_name(s.crs)
    streams = _streams(seed)
    x0, y0 = _origin(streams[_WARP], s.origin)
    world, _ = _world(
        streams,
        shape,
        0,
        s.num_objects,
        s.num_distractors,
        s.sea_fraction,
        s.urban_fraction,
    )
    frame = Frame(shape[0], shape[1], np.eye(3))
    return _acquire(
        world,
        frame,
        s.modality,
        count,
        kind,
        streams[_REF_SENSOR],
        crs=crs_name,
        transform=Affine(s.gsd, 0.0, x0, 0.0, -s.gsd, y0),
        gsd=s.gsd,
        seed=seed,
        cloud_cover=s.cloud_cover,
    )


def _write_acquisition(image: np.ndarray[Any, Any], truth: SceneTruth) -> None:
    """Write an image as the GeoTIFF its truth describes (path, CRS, bands)."""
    write_geotiff(
        truth.path,
        image,
        crs=truth.crs,
        transform=truth.affine,
        nodata=truth.nodata,
        band_names=truth.bands,
        tags=SYNTHETIC_TAGS,
    )


def generate_scene(
    path: str | os.PathLike[str],
    size: tuple[int, int] = (1024, 1024),
    seed: int = 0,
    settings: SceneSettings | None = None,
    *,
    truth_path: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> SceneTruth:
    """Write a synthetic acquisition as a GeoTIFF and return its ground truth.

    The ground mixes sea, beaches, fields and towns; ships lie on the sea,
    planes and vehicles on land (vehicles mostly along streets), all with any
    heading; wakes, rocks, roofs and barges are look-alikes without truth.
    The same seed always gives the same file.

    Args:
        path: output GeoTIFF.
        size: (rows, columns).
        seed: random seed.
        settings: modality, bands, data type, pixel size, CRS, objects, land
            cover, clouds (default :class:`SceneSettings()
            <torchgeo_cstf.synthetic.SceneSettings>`: optical RGB uint8, 0.5 m,
            UTM 33N, 48 objects per 1024² px).
        truth_path: also write the truth there as JSON.
        **overrides: fields of :class:`SceneSettings` that replace those of
            ``settings`` (``modality='sar'``).

    Returns:
        The scene's truth, with ``path`` set.

    Raises:
        InputError: for an invalid argument (each names the argument).
    """
    scene = synthesize_scene(
        size, seed, with_overrides(SceneSettings, settings, overrides)
    )
    truth = scene.truth.with_path(path)
    _write_acquisition(scene.image, truth)
    if truth_path is not None:
        truth.save(truth_path)
    return truth


def _margin(
    warp: np.ndarray[Any, Any], ref: tuple[int, int], query: tuple[int, int]
) -> int:
    """Canvas margin that covers the query footprint (capped at one image size)."""
    rows, cols = query
    corners = np.array([[0, 0], [cols, 0], [cols, rows], [0, rows]], dtype=float)
    footprint = apply_homography(np.linalg.inv(warp), corners)
    beyond = max(
        -footprint[:, 0].min(),
        -footprint[:, 1].min(),
        footprint[:, 0].max() - ref[1],
        footprint[:, 1].max() - ref[0],
        0.0,
    )
    return int(min(math.ceil(beyond) + 8, max(ref)))


@dataclass(frozen=True)
class PairAcquisition:
    """A synthesised pair in memory.

    Attributes:
        reference: the earlier image (digital numbers, (C, H, W)).
        query: the later, warped image in another modality.
        truth: the pair's ground truth.
    """

    reference: np.ndarray[Any, Any]
    query: np.ndarray[Any, Any]
    truth: PairTruth


def synthesize_pair(
    seed: int = 0, settings: PairSettings | None = None, **overrides: Any
) -> PairAcquisition:
    """Synthesise a reference/query pair in memory (see :func:`generate_pair`)."""
    s = with_overrides(PairSettings, settings, overrides)
    ref_shape = _check_size('size', s.size)
    query_shape = _check_size('query_size', s.query_size or s.size)
    ref_bands = _check_modality(
        'reference_modality', s.reference_modality, s.reference_bands
    )
    qry_bands = _check_modality('modality', s.modality, s.query_bands)
    _check_fraction('time_change', s.time_change)
    _check_fraction('cloud_cover', s.cloud_cover)
    if s.sea_fraction is not None:
        _check_fraction('sea_fraction', s.sea_fraction)
    _check_fraction('urban_fraction', s.urban_fraction)
    if s.gsd <= 0:
        raise InputError('gsd', f'must be positive, got {s.gsd}')
    if s.georef_error < 0:
        raise InputError('georef_error', f'must be >= 0, got {s.georef_error}')
    crs_name = _crs_name(s.crs)
    streams = _streams(seed)
    x0, y0 = _origin(streams[_WARP], s.origin)
    matrix = random_warp(
        streams[_WARP], ref_shape, query_shape, s.warp, s.scale, s.rotation
    )
    margin = _margin(matrix, ref_shape, query_shape)
    world, occupancy = _world(
        streams,
        ref_shape,
        margin,
        s.num_objects,
        s.num_distractors,
        s.sea_fraction,
        s.urban_fraction,
    )
    later, changes = evolve(streams[_TIME], world, s.time_change, occupancy)
    ref_transform = Affine(s.gsd, 0.0, x0, 0.0, -s.gsd, y0)
    reference = _acquire(
        world,
        Frame(ref_shape[0], ref_shape[1], np.eye(3)),
        s.reference_modality,
        ref_bands,
        s.reference_dtype or _DEFAULT_DTYPE[s.reference_modality],
        streams[_REF_SENSOR],
        crs=crs_name,
        transform=ref_transform,
        gsd=s.gsd,
        seed=seed,
    )
    # the query's header georeference: the affine part of the true mapping,
    # off by ``s.georef_error`` pixels as orbit/attitude metadata would be
    inverse = np.linalg.inv(matrix)
    approx = fit_affine(inverse, query_shape)
    angle = streams[_WARP].uniform(0, 2 * math.pi)
    error = s.georef_error * np.array([math.cos(angle), math.sin(angle)])
    approx = approx @ np.array([[1, 0, error[0]], [0, 1, error[1]], [0, 0, 1.0]])
    query_transform = ref_transform @ Affine(*approx[:2].ravel())
    query_gsd = s.gsd / math.sqrt(abs(np.linalg.det(matrix[:2, :2])))
    query = _acquire(
        later,
        Frame(query_shape[0], query_shape[1], inverse),
        s.modality,
        qry_bands,
        s.query_dtype or _DEFAULT_DTYPE[s.modality],
        streams[_QUERY_SENSOR],
        crs=crs_name,
        transform=query_transform,
        gsd=query_gsd,
        seed=seed,
        cloud_cover=s.cloud_cover,
    )
    truth = PairTruth(
        reference=reference.truth,
        query=query.truth,
        warp=tuple(tuple(float(v) for v in row) for row in matrix),
        warp_model=s.warp,
        changes=changes,
        seed=seed,
    )
    return PairAcquisition(reference=reference.image, query=query.image, truth=truth)


def generate_pair(
    reference_path: str | os.PathLike[str],
    query_path: str | os.PathLike[str],
    seed: int = 0,
    settings: PairSettings | None = None,
    *,
    truth_path: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> PairTruth:
    """Write two acquisitions of the same ground and return their exact relation.

    The query differs from the reference by a known warp (scale, any rotation,
    shear, perspective), by time (objects moved, added and removed; fields
    changed; other illumination) and by modality (SAR-like: speckle and
    material-dependent backscatter on a log scale; thermal-like: inverted
    contrast at lower resolution; other band counts). Query pixels outside the
    simulated ground are nodata (0). The query's GeoTIFF header carries the
    affine approximation of the true mapping shifted by ``georef_error`` pixels,
    as metadata of an unregistered acquisition would.

    Args:
        reference_path: output GeoTIFF of the reference.
        query_path: output GeoTIFF of the query.
        seed: random seed.
        settings: sizes, modalities, bands, data types, the warp's model and
            ranges, time change, georeference error, the ground (default
            :class:`PairSettings() <torchgeo_cstf.synthetic.PairSettings>`:
            512² optical → SAR, any homography of scale 0.5–2, 8 px
            georeference error).
        truth_path: also write the pair truth there as JSON.
        **overrides: fields of :class:`PairSettings` that replace those of
            ``settings`` (``modality='thermal'``).

    Returns:
        The pair truth; ``warp`` maps reference to query pixel coordinates.
    """
    pair = synthesize_pair(seed, with_overrides(PairSettings, settings, overrides))
    truth = PairTruth(
        reference=pair.truth.reference.with_path(reference_path),
        query=pair.truth.query.with_path(query_path),
        warp=pair.truth.warp,
        warp_model=pair.truth.warp_model,
        changes=pair.truth.changes,
        seed=seed,
    )
    _write_acquisition(pair.reference, truth.reference)
    _write_acquisition(pair.query, truth.query)
    if truth_path is not None:
        truth.save(truth_path)
    return truth
