"""The ground model behind synthetic acquisitions.

A :class:`World` is one piece of ground on a canvas in *reference pixel
coordinates* (continuous, origin at the top-left corner of the reference image,
see :mod:`torchgeo_cstf.io.coords`), extended by ``margin`` pixels on each side
so that a warped query image can see beyond the reference footprint. It holds a
material map (sea, land, urban, beach), texture fields and the placed objects;
images of any modality are rendered from it by :mod:`.render`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .noise import Field, fractal_noise
from .shapes import DISTRACTOR_SPECS, OBJECT_SPECS, Part, Points

SEA, LAND, URBAN, BEACH = 0, 1, 2, 3
#: elevation band above sea level drawn as beach
BEACH_BAND = 0.012

# optical reflectance palettes (R, G, B, NIR)
_HULLS = np.array(
    [
        [0.78, 0.78, 0.76, 0.72],
        [0.50, 0.50, 0.52, 0.45],
        [0.14, 0.14, 0.15, 0.12],
        [0.58, 0.16, 0.12, 0.30],
        [0.14, 0.24, 0.52, 0.20],
    ]
)
_PLANES = np.array([[0.86, 0.86, 0.86, 0.80], [0.62, 0.63, 0.66, 0.58]])
_CARS = np.array(
    [
        [0.85, 0.85, 0.85, 0.80],
        [0.08, 0.08, 0.09, 0.08],
        [0.60, 0.10, 0.08, 0.25],
        [0.12, 0.22, 0.55, 0.20],
        [0.50, 0.50, 0.52, 0.45],
    ]
)


@dataclass
class PlacedObject:
    """An object (or a distractor) on the ground.

    Attributes:
        id: identifier, stable across the two times of a pair (-1: distractor).
        label: class index into :data:`~.shapes.CLASSES` (-1: distractor).
        cx: centre x in reference pixels.
        cy: centre y in reference pixels.
        length: extent along the heading in reference pixels.
        width: extent across the heading in reference pixels.
        heading: direction of the front, degrees counter-clockwise on screen from
            the +x axis, in [0, 360).
        parts: the outline parts (see :mod:`.shapes`).
        colour: optical reflectance (R, G, B, NIR) of the body.
        backscatter: linear SAR backscatter of the body.
        temperature: thermal brightness of the body in [0, 1].
        alpha: opacity (distractors such as wakes are translucent).
    """

    id: int
    label: int
    cx: float
    cy: float
    length: float
    width: float
    heading: float
    parts: list[Part]
    colour: np.ndarray[Any, Any]
    backscatter: float
    temperature: float
    alpha: float = 1.0

    def to_world(self, polygon: Points) -> Points:
        """Map a normalised outline polygon to reference pixel coordinates."""
        rad = math.radians(self.heading)
        axis_w = np.array([math.cos(rad), -math.sin(rad)])
        axis_h = np.array([math.sin(rad), math.cos(rad)])
        return (
            np.array([self.cx, self.cy])
            + np.outer(polygon[:, 0] * self.length / 2, axis_w)
            + np.outer(polygon[:, 1] * self.width / 2, axis_h)
        )

    def corners(self) -> Points:
        """The four corners of the tight box, in reference pixels."""
        unit = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
        return self.to_world(unit)


@dataclass
class World:
    """Ground model: materials, textures and objects on a canvas.

    Attributes:
        height: reference image rows.
        width: reference image columns.
        margin: canvas extension on each side, in pixels.
        material: (H + 2m, W + 2m) uint8 material codes.
        elevation: terrain field in [0, 1] (sea below ``sea_level``).
        sea_level: elevation threshold between sea and land.
        texture: fine texture in [0, 1].
        waves: sea-surface texture in [0, 1].
        parcel_id: index of the field parcel or urban block of each pixel.
        parcel_tone: tone in [0, 1] of each parcel (indexed by ``parcel_id``).
        street: 1 on streets, tracks and hedges, 0 elsewhere.
        objects: targets, with ground truth.
        distractors: look-alikes without ground truth.
        sun: unit shadow direction (x, y) in pixels.
        illumination: global optical gain of this acquisition time.
    """

    height: int
    width: int
    margin: int
    material: np.ndarray[Any, np.dtype[np.uint8]]
    elevation: Field
    sea_level: float
    texture: Field
    waves: Field
    parcel_id: np.ndarray[Any, np.dtype[np.int32]]
    parcel_tone: np.ndarray[Any, np.dtype[np.float32]]
    street: Field
    objects: list[PlacedObject] = field(default_factory=list)
    distractors: list[PlacedObject] = field(default_factory=list)
    sun: tuple[float, float] = (0.6, 0.8)
    illumination: float = 1.0
    grid_angle: float = 0.0

    @property
    def canvas_shape(self) -> tuple[int, int]:
        """(rows, columns) of the canvas."""
        return self.height + 2 * self.margin, self.width + 2 * self.margin


def build_background(
    rng: np.random.Generator,
    height: int,
    width: int,
    margin: int,
    sea_fraction: float,
    urban_fraction: float,
) -> World:
    """Generate the materials and textures of a world (no objects yet).

    Args:
        rng: random generator (consumed).
        height: reference rows.
        width: reference columns.
        margin: canvas extension on each side.
        sea_fraction: share of the canvas covered by sea, in [0, 1].
        urban_fraction: share of the land that is built up, in [0, 1].

    Returns:
        A world without objects.
    """
    shape = (height + 2 * margin, width + 2 * margin)
    span = max(shape)
    elevation = fractal_noise(rng, shape, span / 2.5, octaves=5, persistence=0.55)
    sea_level = float(np.quantile(elevation[::4, ::4], sea_fraction))
    urban_noise = fractal_noise(rng, shape, span / 4, octaves=3)
    land = elevation >= sea_level
    threshold = (
        float(np.quantile(urban_noise[::4, ::4][land[::4, ::4]], 1 - urban_fraction))
        if land.any() and urban_fraction > 0
        else 2.0
    )
    material = np.full(shape, LAND, dtype=np.uint8)
    material[urban_noise > threshold] = URBAN
    material[(elevation >= sea_level) & (elevation < sea_level + BEACH_BAND)] = BEACH
    material[~land] = SEA

    grid_angle = float(rng.uniform(0, 90))
    parcel_id, street = _parcels(rng, shape, material, grid_angle)
    tones = rng.random(int(parcel_id.max()) + 1).astype(np.float32)
    sun_angle = rng.uniform(0, 2 * np.pi)
    return World(
        height=height,
        width=width,
        margin=margin,
        material=material,
        elevation=elevation,
        sea_level=sea_level,
        texture=fractal_noise(rng, shape, 10.0, octaves=3),
        waves=fractal_noise(rng, shape, 28.0, octaves=3, persistence=0.6),
        parcel_id=parcel_id,
        parcel_tone=tones,
        street=street,
        sun=(math.cos(sun_angle), math.sin(sun_angle)),
        grid_angle=grid_angle,
    )


def _parcels(
    rng: np.random.Generator,
    shape: tuple[int, int],
    material: np.ndarray[Any, np.dtype[np.uint8]],
    grid_angle: float,
) -> tuple[np.ndarray[Any, np.dtype[np.int32]], Field]:
    """Field parcels on land and building blocks in towns, on rotated grids."""
    rows, cols = shape
    y = np.arange(rows, dtype=np.float32)[:, None]
    x = np.arange(cols, dtype=np.float32)[None, :]
    rad = math.radians(grid_angle)
    u = x * math.cos(rad) + y * math.sin(rad)
    v = y * math.cos(rad) - x * math.sin(rad)
    field_u, field_v = rng.uniform(50, 130, size=2)
    block = float(rng.uniform(28, 48))
    street_width = float(rng.uniform(5, 9))
    urban = material == URBAN
    cell_u = np.where(urban, np.float32(block), np.float32(field_u))
    cell_v = np.where(urban, np.float32(block * 0.8), np.float32(field_v))
    iu = np.floor(u / cell_u).astype(np.int32)
    iv = np.floor(v / cell_v).astype(np.int32)
    edge = np.where(urban, np.float32(street_width), np.float32(1.5))
    street = ((u - iu * cell_u < edge) | (v - iv * cell_v < edge)).astype(np.float32)
    # a compact id per (cell, urban flag): the cell indexes span a few hundred
    iu -= iu.min()
    iv -= iv.min()
    parcel_id = (iu * (int(iv.max()) + 1) + iv) * 2 + urban
    return parcel_id.astype(np.int32), street


def _inside_canvas(world: World, corners: Points, pad: float = 2.0) -> bool:
    rows, cols = world.canvas_shape
    m = world.margin
    xs, ys = corners[:, 0] + m, corners[:, 1] + m
    return bool(
        xs.min() >= pad
        and ys.min() >= pad
        and xs.max() <= cols - pad
        and ys.max() <= rows - pad
    )


def _material_under(world: World, points: Points) -> np.ndarray[Any, Any]:
    rows, cols = world.canvas_shape
    ix = np.clip((points[:, 0] + world.margin).astype(int), 0, cols - 1)
    iy = np.clip((points[:, 1] + world.margin).astype(int), 0, rows - 1)
    return np.asarray(world.material[iy, ix])


def _footprint_mask(
    world: World, corners: Points, pad: float
) -> tuple[tuple[slice, slice], np.ndarray[Any, Any]]:
    centre = corners.mean(axis=0)
    grown = corners + np.sign(corners - centre) * pad
    shifted = grown + world.margin
    x0, y0 = np.floor(shifted.min(axis=0)).astype(int)
    x1, y1 = np.ceil(shifted.max(axis=0)).astype(int) + 1
    rows, cols = world.canvas_shape
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, cols), min(y1, rows)
    mask = np.zeros((max(y1 - y0, 1), max(x1 - x0, 1)), dtype=np.uint8)
    local = np.round((shifted - [x0, y0]) * 16).astype(np.int32)
    cv2.fillPoly(mask, [local], 1, lineType=cv2.LINE_8, shift=4)
    return (slice(y0, y1), slice(x0, x1)), mask.astype(bool)


_ALLOWED: dict[int | str, tuple[int, ...]] = {
    0: (SEA,),
    1: (LAND, URBAN, BEACH),
    2: (LAND, URBAN),
    'streak': (SEA,),
    'blob': (SEA, LAND, BEACH),
    'block': (SEA, LAND, URBAN),
}


def _appearance(
    rng: np.random.Generator, kind: int | str
) -> tuple[np.ndarray[Any, Any], float, float, float]:
    """Base colour, SAR backscatter, temperature and opacity of a new object."""
    if kind == 0:
        colour = _HULLS[rng.integers(len(_HULLS))]
        return colour, float(rng.uniform(3, 9)), float(rng.uniform(0.3, 0.45)), 1.0
    if kind == 1:
        colour = _PLANES[rng.integers(len(_PLANES))]
        return colour, float(rng.uniform(2, 5)), float(rng.uniform(0.15, 0.3)), 1.0
    if kind == 2:
        colour = _CARS[rng.integers(len(_CARS))]
        return colour, float(rng.uniform(1.5, 4)), float(rng.uniform(0.7, 0.9)), 1.0
    if kind == 'streak':
        return (
            np.array([0.6, 0.65, 0.65, 0.3]),
            0.004,
            0.5,
            float(rng.uniform(0.25, 0.5)),
        )
    if kind == 'blob':
        tone = rng.uniform(0.15, 0.45)
        colour = np.array([tone, tone * 0.95, tone * 0.85, tone * 1.1])
        return colour, float(rng.uniform(0.1, 0.6)), float(rng.uniform(0.35, 0.55)), 1.0
    tone = rng.uniform(0.25, 0.85)
    colour = np.array([tone, tone, tone * rng.uniform(0.8, 1.1), tone * 0.8])
    return colour, float(rng.uniform(1.0, 5.0)), float(rng.uniform(0.3, 0.7)), 1.0


def _propose(
    rng: np.random.Generator, world: World, kind: int | str, candidates: Any
) -> PlacedObject | None:
    """Draw one object of ``kind`` at a random allowed position (or None)."""
    factory, (lmin, lmax), (rmin, rmax) = (
        OBJECT_SPECS[kind] if isinstance(kind, int) else DISTRACTOR_SPECS[kind]
    )
    if candidates.size == 0:
        return None
    length = float(math.exp(rng.uniform(math.log(lmin), math.log(lmax))))
    width = length * float(rng.uniform(rmin, rmax))
    flat = int(candidates[rng.integers(candidates.size)])
    cols = world.canvas_shape[1]
    cy = flat // cols - world.margin + float(rng.random())
    cx = flat % cols - world.margin + float(rng.random())
    if kind == 2 and world.street.reshape(-1)[flat] > 0:
        heading = world.grid_angle + 90.0 * int(rng.integers(4)) + rng.normal(0, 2)
    else:
        heading = float(rng.uniform(0, 360))
    colour, backscatter, temperature, alpha = _appearance(rng, kind)
    return PlacedObject(
        id=-1,
        label=kind if isinstance(kind, int) else -1,
        cx=cx,
        cy=cy,
        length=length,
        width=width,
        heading=float(heading % 360.0),
        parts=factory(rng),
        colour=colour,
        backscatter=backscatter,
        temperature=temperature,
        alpha=alpha,
    )


def fits(
    world: World,
    obj: PlacedObject,
    occupancy: np.ndarray[Any, np.dtype[np.bool_]],
    kind: int | str,
) -> bool:
    """Whether an object lies on allowed ground, inside the canvas, on free space."""
    corners = obj.corners()
    if not _inside_canvas(world, corners):
        return False
    probes = np.vstack((corners, [[obj.cx, obj.cy]]))
    if not np.isin(_material_under(world, probes), _ALLOWED[kind]).all():
        return False
    window, mask = _footprint_mask(world, corners, pad=2.0)
    return not bool(occupancy[window][mask].any())


def occupy(
    world: World, obj: PlacedObject, occupancy: np.ndarray[Any, np.dtype[np.bool_]]
) -> None:
    """Mark an object's footprint (plus 2 px) as taken."""
    window, mask = _footprint_mask(world, obj.corners(), pad=2.0)
    occupancy[window] |= mask


def _pools(world: World) -> dict[int | str, np.ndarray[Any, Any]]:
    """Flat canvas indexes of the pixels where each kind may be centred."""
    flat_material = world.material.reshape(-1)
    pools: dict[int | str, np.ndarray[Any, Any]] = {
        kind: np.flatnonzero(np.isin(flat_material, allowed))
        for kind, allowed in _ALLOWED.items()
    }
    # vehicles favour streets: give street pixels three times the weight
    streets = np.flatnonzero((world.street.reshape(-1) > 0) & (flat_material == URBAN))
    pools[2] = np.concatenate((pools[2], streets, streets))
    return pools


def place_objects(
    rng: np.random.Generator,
    world: World,
    count: int,
    occupancy: np.ndarray[Any, np.dtype[np.bool_]],
    first_id: int,
    class_weights: tuple[float, float, float] = (0.4, 0.2, 0.4),
) -> None:
    """Place up to ``count`` targets on free, allowed ground.

    Args:
        rng: random generator (consumed).
        world: the world to fill (modified in place).
        count: targets to try to place (crowded ground may take fewer).
        occupancy: canvas occupancy mask (updated in place).
        first_id: id of the first new object; ids then increase by one.
        class_weights: relative frequency of ship, plane, vehicle.
    """
    pools = _pools(world)
    weights = np.array(class_weights, dtype=float)
    weights *= np.array([pools[k].size > 0 for k in range(3)])
    if weights.sum() == 0:
        return
    weights /= weights.sum()
    next_id = first_id
    for _ in range(count):
        kind = int(rng.choice(3, p=weights))
        for _attempt in range(12):
            obj = _propose(rng, world, kind, pools[kind])
            if obj is not None and fits(world, obj, occupancy, kind):
                obj.id = next_id
                next_id += 1
                world.objects.append(obj)
                occupy(world, obj, occupancy)
                break


def place_distractors(
    rng: np.random.Generator,
    world: World,
    count: int,
    occupancy: np.ndarray[Any, np.dtype[np.bool_]],
) -> None:
    """Place up to ``count`` look-alikes (wakes, rocks, roofs, barges).

    Args:
        rng: random generator (consumed).
        world: the world to fill (modified in place).
        count: distractors to try to place.
        occupancy: canvas occupancy mask (updated in place).
    """
    pools = _pools(world)
    kinds = list(DISTRACTOR_SPECS)
    for _ in range(count):
        kind = kinds[int(rng.integers(len(kinds)))]
        for _attempt in range(6):
            obj = _propose(rng, world, kind, pools[kind])
            if obj is not None and fits(world, obj, occupancy, kind):
                world.distractors.append(obj)
                occupy(world, obj, occupancy)
                break


def evolve(
    rng: np.random.Generator,
    world: World,
    change: float,
    occupancy: np.ndarray[Any, np.dtype[np.bool_]],
) -> tuple[World, dict[int, str]]:
    """The same ground at a later time.

    A share ``change`` of the objects changes: a third of it is removed, a third
    moves (along its heading, turning a little) and as many new objects as a
    third appear; a share ``change`` of the field parcels changes tone (harvest,
    growth) and the illumination differs.

    Args:
        rng: random generator (consumed).
        world: the earlier world (not modified).
        change: share of objects and parcels that change, in [0, 1].
        occupancy: occupancy mask of ``world`` (not modified).

    Returns:
        The later world and the status of every object id (``static``,
        ``moved``, ``removed`` or ``added``).
    """
    later = dataclasses.replace(
        world,
        objects=[],
        distractors=list(world.distractors),
        parcel_tone=world.parcel_tone.copy(),
        illumination=float(rng.uniform(0.85, 1.15)),
    )
    flip = rng.random(later.parcel_tone.size) < change
    later.parcel_tone[flip] = rng.random(int(flip.sum())).astype(np.float32)
    taken = occupancy.copy()
    status: dict[int, str] = {}
    for obj in world.objects:
        draw = rng.random()
        moved = None
        if change / 3 <= draw < 2 * change / 3:
            moved = _moved(rng, later, obj, taken)
        if draw < change / 3:
            status[obj.id] = 'removed'
        elif moved is not None:
            later.objects.append(moved)
            status[obj.id] = 'moved'
        else:
            later.objects.append(obj)
            status[obj.id] = 'static'
    first_new = max((o.id for o in world.objects), default=-1) + 1
    place_objects(rng, later, round(change / 3 * len(world.objects)), taken, first_new)
    for obj in later.objects:
        status.setdefault(obj.id, 'added')
    return later, status


def _moved(
    rng: np.random.Generator,
    world: World,
    obj: PlacedObject,
    occupancy: np.ndarray[Any, np.dtype[np.bool_]],
) -> PlacedObject | None:
    for _attempt in range(8):
        distance = rng.uniform(0.6, 2.5) * obj.length
        rad = math.radians(obj.heading)
        candidate = dataclasses.replace(
            obj,
            cx=obj.cx + distance * math.cos(rad),
            cy=obj.cy - distance * math.sin(rad),
            heading=float((obj.heading + rng.normal(0, 25)) % 360.0),
        )
        if fits(world, candidate, occupancy, obj.label):
            occupy(world, candidate, occupancy)
            return candidate
    return None
