"""DOTA for oriented detection: loading, the standard patch split, merging, Task 1."""

from .dataset import DOTA, INDEX_COLUMNS, VERSION_CLASSES, PatchOrigin
from .results import Detections, PatchPrediction, merge_patch_predictions, write_task1
from .split import SplitSummary, split_dota, window_starts

__all__ = (
    'DOTA',
    'INDEX_COLUMNS',
    'VERSION_CLASSES',
    'Detections',
    'PatchOrigin',
    'PatchPrediction',
    'SplitSummary',
    'merge_patch_predictions',
    'split_dota',
    'window_starts',
    'write_task1',
)
