"""DOTA for oriented detection: loading, the standard patch split, merging, Task 1."""

from ...deprecation import moved_names
from .dataset import DOTA, INDEX_COLUMNS, VERSION_CLASSES, PatchOrigin
from .labels import DotaObject, read_dota_labels
from .results import (
    ImageDetections,
    PatchPrediction,
    merge_patch_predictions,
    write_task1,
)
from .split import SplitSummary, split_dota, window_starts

__all__ = (
    'DOTA',
    'INDEX_COLUMNS',
    'VERSION_CLASSES',
    'DotaObject',
    'ImageDetections',
    'PatchOrigin',
    'PatchPrediction',
    'SplitSummary',
    'merge_patch_predictions',
    'read_dota_labels',
    'split_dota',
    'window_starts',
    'write_task1',
)

__getattr__ = moved_names(
    __name__, {'Detections': 'torchgeo_cstf.datasets.dota:ImageDetections'}
)
