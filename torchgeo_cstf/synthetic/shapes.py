"""Outlines of the synthetic objects and look-alike distractors.

Every outline is a list of *parts*; a part is a polygon in normalised object
coordinates ``(u, v)``: ``u`` runs along the object's length from the back
(``-1``) to the front (``+1``), ``v`` across its width from ``-1`` to ``+1``. The
first part of each object is its body, whose extent is exactly ``[-1, 1]²`` so
that the ground-truth box is tight. ``tone`` tells the renderer how a part looks
relative to the object's base colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Points = np.ndarray[Any, np.dtype[np.float64]]

#: Class names of the synthetic objects, indexed by label.
CLASSES: tuple[str, ...] = ('ship', 'plane', 'vehicle')


@dataclass(frozen=True)
class Part:
    """One polygon of an outline.

    Attributes:
        polygon: (K, 2) vertices in normalised object coordinates.
        tone: brightness factor applied to the object's base colour.
        hot: emissive part (bright in thermal images).
    """

    polygon: Points
    tone: float = 1.0
    hot: bool = False


def _poly(*xy: tuple[float, float]) -> Points:
    points: Points = np.array(xy, dtype=np.float64)
    return points


def _rect(u0: float, u1: float, v0: float, v1: float) -> Points:
    return _poly((u0, v0), (u1, v0), (u1, v1), (u0, v1))


def _mirror(points: Points) -> Points:
    mirrored: Points = points * np.array([1.0, -1.0])
    return mirrored


def ship_parts(rng: np.random.Generator) -> list[Part]:
    """A hull with a pointed bow, a bridge near the stern and deck cargo."""
    shoulder = rng.uniform(0.35, 0.65)
    hull = _poly(
        (-1.0, -0.85),
        (shoulder, -1.0),
        (0.85, -0.6),
        (1.0, 0.0),
        (0.85, 0.6),
        (shoulder, 1.0),
        (-1.0, 0.85),
    )
    bridge_u = rng.uniform(-0.9, -0.6)
    parts = [
        Part(hull, 1.0),
        Part(_rect(bridge_u, bridge_u + 0.25, -0.6, 0.6), 1.35),
        Part(_rect(-0.98, -0.9, -0.3, 0.3), 0.6, hot=True),
    ]
    cargo = int(rng.integers(0, 5))
    start = bridge_u + 0.35
    for index in range(cargo):
        u0 = start + index * 0.3
        if u0 + 0.22 > shoulder:
            break
        parts.append(Part(_rect(u0, u0 + 0.22, -0.7, 0.7), rng.uniform(0.55, 1.4)))
    return parts


def plane_parts(rng: np.random.Generator) -> list[Part]:
    """Fuselage, swept wings and tail; the box spans length × wingspan."""
    sweep = rng.uniform(0.1, 0.35)
    wing_root = rng.uniform(-0.05, 0.25)
    body = _poly((-1.0, -0.09), (0.82, -0.09), (1.0, 0.0), (0.82, 0.09), (-1.0, 0.09))
    wing = _poly(
        (wing_root + 0.3, -0.08),
        (wing_root - sweep, -1.0),
        (wing_root - sweep - 0.15, -1.0),
        (wing_root - 0.05, -0.08),
    )
    tail = _poly((-0.78, -0.08), (-0.95, -0.38), (-1.0, -0.38), (-1.0, -0.08))
    # union-of-parts body first so that the tight box is that of all parts
    outline = _poly(
        (-1.0, -0.38),
        (-0.95, -0.38),
        (-0.78, -0.09),
        (wing_root - 0.05, -0.09),
        (wing_root - sweep - 0.15, -1.0),
        (wing_root - sweep, -1.0),
        (wing_root + 0.3, -0.09),
        (0.82, -0.09),
        (1.0, 0.0),
        (0.82, 0.09),
        (wing_root + 0.3, 0.09),
        (wing_root - sweep, 1.0),
        (wing_root - sweep - 0.15, 1.0),
        (wing_root - 0.05, 0.09),
        (-0.78, 0.09),
        (-0.95, 0.38),
        (-1.0, 0.38),
    )
    return [
        Part(outline, 1.0),
        Part(body, 1.1),
        Part(wing, 0.92),
        Part(_mirror(wing), 0.92),
        Part(tail, 0.95),
        Part(_mirror(tail), 0.95),
        Part(_rect(-0.2, 0.1, -0.75, -0.55), 0.7, hot=True),
        Part(_rect(-0.2, 0.1, 0.55, 0.75), 0.7, hot=True),
    ]


def vehicle_parts(rng: np.random.Generator) -> list[Part]:
    """A car or truck body with a dark windscreen towards the front."""
    corner = 0.12
    body = _poly(
        (-1.0, -1.0 + corner),
        (-1.0 + corner, -1.0),
        (1.0 - corner, -1.0),
        (1.0, -1.0 + corner),
        (1.0, 1.0 - corner),
        (1.0 - corner, 1.0),
        (-1.0 + corner, 1.0),
        (-1.0, 1.0 - corner),
    )
    screen = rng.uniform(0.2, 0.45)
    return [
        Part(body, 1.0),
        Part(_rect(screen, screen + 0.25, -0.85, 0.85), 0.3),
        Part(_rect(0.75, 0.95, -0.8, 0.8), 0.8, hot=True),
    ]


#: label → (parts factory, length range in reference pixels, width/length range)
OBJECT_SPECS: dict[int, tuple[Any, tuple[float, float], tuple[float, float]]] = {
    0: (ship_parts, (20.0, 200.0), (0.14, 0.28)),
    1: (plane_parts, (24.0, 90.0), (0.85, 1.2)),
    2: (vehicle_parts, (8.0, 20.0), (0.38, 0.5)),
}


def streak_parts(rng: np.random.Generator) -> list[Part]:
    """A wake- or slick-like elongated ellipse (no bow, no structure)."""
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    return [Part(np.stack((np.cos(t), np.sin(t)), axis=1), rng.uniform(0.7, 1.2))]


def blob_parts(rng: np.random.Generator) -> list[Part]:
    """An irregular rock, islet or tree clump."""
    t = np.linspace(0, 2 * np.pi, 14, endpoint=False)
    radius = rng.uniform(0.55, 1.0, size=t.size)
    return [Part(np.stack((radius * np.cos(t), radius * np.sin(t)), axis=1), 1.0)]


def block_parts(rng: np.random.Generator) -> list[Part]:
    """A rectangular roof, container or barge: a box-shaped look-alike."""
    parts = [Part(_rect(-1.0, 1.0, -1.0, 1.0), 1.0)]
    if rng.random() < 0.5:
        parts.append(Part(_rect(-0.8, 0.8, -0.12, 0.12), 0.8))
    return parts


#: distractor kind → (parts factory, length range, width/length range)
DISTRACTOR_SPECS: dict[str, tuple[Any, tuple[float, float], tuple[float, float]]] = {
    'streak': (streak_parts, (20.0, 160.0), (0.05, 0.15)),
    'blob': (blob_parts, (6.0, 60.0), (0.6, 1.0)),
    'block': (block_parts, (8.0, 60.0), (0.3, 0.9)),
}
