"""The imagery a set of weights was trained on, and whether an input fits it.

Every released detector's ``meta['domain']`` is a :class:`Domain`. Before a
detector runs on a scene, :func:`domain_mismatches` compares the domain with
what the scene's header says (:class:`InputFacts`). The rule, one reason per
line of the warning:

1. **Synthetic vs real.** Weights trained on synthetic renders only fit scenes
   this package rendered (GeoTIFFs tagged ``CSTF_IMAGERY=synthetic`` by
   ``cstf synth`` and the demo); weights trained on real imagery warn on such
   renders.
2. **Band layout.** Single-band weights (thermal, SAR, panchromatic) on a
   multi-band scene, or multi-band weights on a single-band one. (A 4-band
   scene on RGB weights is not flagged: the first three bands are read.)
3. **Data type.** The scene's type is not the training imagery's (e.g. uint16
   reflectance on uint8 weights): values are stretched to the training range,
   which only approximates the training radiometry.
4. **Pixel size.** For scenes in a projected CRS with metre units, a pixel
   more than twice finer or coarser than the domain's range: objects then
   have sizes the detector never saw.

:func:`warn_domain` issues each distinct warning once per process
(:class:`~torchgeo_cstf.errors.DomainWarning`).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..errors import DomainWarning
from ..io.raster import RasterInfo

#: how far (factor) a pixel size may lie outside the domain's range unflagged
GSD_TOLERANCE = 2.0

#: (weights, reason) pairs warned about in this process
_warned: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Domain:
    """What a set of weights was trained on.

    Attributes:
        imagery: ``real`` or ``synthetic``.
        sensor: the sensor type, e.g. ``thermal infrared``, ``optical RGB``.
        platform: e.g. ``UAV, 60-130 m``, ``simulated aerial``.
        bands: bands of the training images (before any repetition).
        dtype: data type of the training images.
        gsd: (smallest, largest) pixel size in metres, or ``None``.
    """

    imagery: Literal['real', 'synthetic']
    sensor: str
    platform: str
    bands: int
    dtype: str
    gsd: tuple[float, float] | None

    def describe(self) -> str:
        """One line for people, e.g. ``real thermal infrared, UAV, 1 band uint8, 0.04-0.17 m``."""
        pixel = ''
        if self.gsd is not None:
            low, high = self.gsd
            pixel = f', {low:g} m' if low == high else f', {low:g}-{high:g} m'
        plural = 'band' if self.bands == 1 else 'bands'
        return (
            f'{self.imagery} {self.sensor}, {self.platform}, '
            f'{self.bands} {plural} {self.dtype}{pixel}'
        )

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-friendly dict."""
        return asdict(self)


@dataclass(frozen=True)
class InputFacts:
    """What a scene's header says about its imagery.

    Attributes:
        name: the scene, for messages.
        bands: band count.
        dtype: numpy name of the data type.
        gsd: pixel size in metres (``None`` unless the CRS is projected in metres).
        synthetic: whether the file is one of this package's renders.
    """

    name: str
    bands: int
    dtype: str
    gsd: float | None
    synthetic: bool

    @classmethod
    def of_raster(cls, info: RasterInfo) -> InputFacts:
        """The facts of a raster header already read (no further I/O)."""
        gsd = None
        if info.crs is not None and info.crs.is_projected:
            gsd = float(abs(info.transform.a) * info.crs.linear_units_factor[1])
        return cls(info.path, info.count, info.dtype, gsd, info.synthetic)


def domain_mismatches(domain: Domain, facts: InputFacts) -> list[str]:
    """The reasons an input does not fit a domain (empty: it fits).

    Args:
        domain: the weights' domain.
        facts: the input's header facts.

    Returns:
        One sentence per broken rule (see the module docstring).
    """
    reasons = []
    if domain.imagery == 'synthetic' and not facts.synthetic:
        reasons.append(
            'the weights were trained on synthetic renders only, and this scene '
            'is not one of them: expect false detections and missed objects'
        )
    if domain.imagery == 'real' and facts.synthetic:
        reasons.append('the scene is a synthetic render; the weights know real imagery')
    if (domain.bands == 1) != (facts.bands == 1):
        reasons.append(
            f'the scene has {facts.bands} band(s); the weights were trained on '
            f'{domain.bands}-band {domain.sensor} imagery'
        )
    if facts.dtype != domain.dtype:
        reasons.append(
            f'the scene is {facts.dtype}, the training imagery {domain.dtype}: '
            'values are stretched to the training range'
        )
    if facts.gsd is not None and domain.gsd is not None:
        low, high = domain.gsd
        if not low / GSD_TOLERANCE <= facts.gsd <= high * GSD_TOLERANCE:
            reasons.append(
                f'its pixels are {facts.gsd:g} m; the weights were trained at '
                f'{low:g}-{high:g} m, so objects have sizes they never saw'
            )
    return reasons


def forget_domain_warnings() -> None:
    """Let :func:`warn_domain` warn again about what it has warned about."""
    _warned.clear()


def warn_domain(weights: str, domain: Domain, facts: InputFacts) -> list[str]:
    """Warn (once per process and reason) when an input does not fit the weights.

    Args:
        weights: the weights' name, for the message.
        domain: their domain.
        facts: the input's facts.

    Returns:
        The reasons (also those warned about before).
    """
    reasons = domain_mismatches(domain, facts)
    for reason in reasons:
        key = (weights, reason)
        if key in _warned:
            continue
        _warned.add(key)
        warnings.warn(
            f'{facts.name}: outside the domain of {weights} '
            f'({domain.describe()}): {reason}. See `cstf models` for other weights.',
            DomainWarning,
            stacklevel=3,
        )
    return reasons
