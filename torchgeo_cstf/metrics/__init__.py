"""Evaluation metrics: oriented-box mAP (VOC/DOTA protocol) and image matching."""

from ..deprecation import moved_names
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
__getattr__ = moved_names(
    __name__,
    {
        'DotaObject': 'torchgeo_cstf.datasets.dota.labels:DotaObject',
        'read_dota_labels': 'torchgeo_cstf.datasets.dota.labels:read_dota_labels',
    },
)
