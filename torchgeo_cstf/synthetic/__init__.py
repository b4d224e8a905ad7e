"""Synthetic acquisitions: textured ground, oriented objects, warped pairs.

See :func:`generate_scene` and :func:`generate_pair`; the in-memory variants
:func:`synthesize_scene` and :func:`synthesize_pair` return arrays instead of
writing GeoTIFFs.
"""

from .generate import (
    Acquisition,
    PairAcquisition,
    generate_pair,
    generate_scene,
    synthesize_pair,
    synthesize_scene,
)
from .plot import plot_pair, plot_scene
from .render import BAND_NAMES
from .settings import GroundSettings, PairSettings, SceneSettings
from .shapes import CLASSES
from .truth import ObjectTruth, PairTruth, SceneTruth
from .warps import WARP_MODELS

__all__ = (
    'BAND_NAMES',
    'CLASSES',
    'WARP_MODELS',
    'Acquisition',
    'GroundSettings',
    'ObjectTruth',
    'PairAcquisition',
    'PairSettings',
    'PairTruth',
    'SceneSettings',
    'SceneTruth',
    'generate_pair',
    'generate_scene',
    'plot_pair',
    'plot_scene',
    'synthesize_pair',
    'synthesize_scene',
)
