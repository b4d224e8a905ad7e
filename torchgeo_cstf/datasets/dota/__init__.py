"""DOTA for oriented detection: loading, the standard patch split, merging, Task 1."""

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


def __getattr__(name: str) -> object:
    """``Detections``: the old name of :class:`ImageDetections` (one release)."""
    if name == 'Detections':
        import warnings

        warnings.warn(
            'torchgeo_cstf.datasets.dota.Detections is now ImageDetections; the '
            'alias goes in the next release',
            DeprecationWarning,
            stacklevel=2,
        )
        return ImageDetections
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
