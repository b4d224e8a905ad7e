"""Datasets: HRSC2016, DOTA, HIT-UAV, synthetic scenes, cross-modal and real image pairs."""

from ..deprecation import moved_names
from .dota import (
    DOTA,
    DotaObject,
    ImageDetections,
    PatchOrigin,
    PatchPrediction,
    merge_patch_predictions,
    read_dota_labels,
    split_dota,
    write_task1,
)
from .hit_uav import HITUAV
from .hrsc2016 import HRSC2016
from .pairs import MODALITIES, CrossModalPairs, PairedRasters
from .synthetic_scenes import SyntheticScenes

__all__ = (
    'DOTA',
    'HITUAV',
    'HRSC2016',
    'MODALITIES',
    'CrossModalPairs',
    'DotaObject',
    'ImageDetections',
    'PairedRasters',
    'PatchOrigin',
    'PatchPrediction',
    'SyntheticScenes',
    'merge_patch_predictions',
    'read_dota_labels',
    'split_dota',
    'write_task1',
)

__getattr__ = moved_names(
    __name__, {'Detections': 'torchgeo_cstf.datasets.dota:ImageDetections'}
)
