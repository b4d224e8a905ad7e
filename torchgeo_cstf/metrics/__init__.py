"""Evaluation metrics: oriented-box mAP (VOC/DOTA protocol) and image matching."""

import warnings
from typing import Any

from .ap import average_precision, match_detections
from .dota import DotaTask1Result, evaluate_dota_task1
from .matching import (
    corner_error,
    correct_matching_ratio,
    homography_auc,
    mean_matching_accuracy,
    num_correct_matches,
    registration_rmse,
)
from .mean_ap import OrientedMeanAveragePrecision

__all__ = (
    'DotaTask1Result',
    'OrientedMeanAveragePrecision',
    'average_precision',
    'corner_error',
    'correct_matching_ratio',
    'evaluate_dota_task1',
    'homography_auc',
    'match_detections',
    'mean_matching_accuracy',
    'num_correct_matches',
    'registration_rmse',
)

#: names that moved to the DOTA dataset package (aliases kept for one release)
_MOVED = {'DotaObject', 'read_dota_labels'}


def __getattr__(name: str) -> Any:
    """Deprecated aliases of the DOTA label reader, now in ``datasets.dota``."""
    if name in _MOVED:
        warnings.warn(
            f'torchgeo_cstf.metrics.{name} moved to torchgeo_cstf.datasets.dota.{name}; '
            'the alias goes in the next release',
            DeprecationWarning,
            stacklevel=2,
        )
        from ..datasets.dota import labels

        return getattr(labels, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
