"""DOTA for oriented detection: loading, the standard patch split, merging, Task 1."""

from .dataset import DOTA, INDEX_COLUMNS, VERSION_CLASSES, PatchOrigin
from .labels import DotaObject, read_dota_labels
from .results import Detections, PatchPrediction, merge_patch_predictions, write_task1
from .split import SplitSummary, split_dota, window_starts

__all__ = (
    'DOTA',
    'INDEX_COLUMNS',
    'VERSION_CLASSES',
    'Detections',
    'DotaObject',
    'PatchOrigin',
    'PatchPrediction',
    'SplitSummary',
    'merge_patch_predictions',
    'read_dota_labels',
    'split_dota',
    'window_starts',
    'write_task1',
)
