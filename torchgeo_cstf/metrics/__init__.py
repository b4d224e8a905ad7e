"""Evaluation metrics: oriented-box mAP (VOC/DOTA protocol) and image matching."""

from .ap import average_precision, match_detections
from .dota import DotaObject, DotaTask1Result, evaluate_dota_task1, read_dota_labels
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
    'DotaObject',
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
    'read_dota_labels',
    'registration_rmse',
)
