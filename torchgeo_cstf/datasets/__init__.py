"""Datasets: HRSC2016, synthetic scenes, cross-modal and real image pairs."""

from .hrsc2016 import HRSC2016
from .pairs import MODALITIES, CrossModalPairs, PairedRasters
from .synthetic_scenes import SyntheticScenes

__all__ = (
    'HRSC2016',
    'MODALITIES',
    'CrossModalPairs',
    'PairedRasters',
    'SyntheticScenes',
)
