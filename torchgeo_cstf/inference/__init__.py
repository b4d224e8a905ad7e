"""Inference on images and scenes: matching, co-registration, tiled detection."""

from ..io.radiometry import fit_bands
from ..options import METHODS
from .detectors import LoadedDetector, resolve_detector
from .matching import MatchResult, load_image, match
from .methods import PairMatcher, PairResult
from .outputs import (
    detection_features,
    write_detections,
    write_quicklook,
    write_thumbnail,
)
from .plot import plot_matches
from .scene import (
    DetectionProvenance,
    DetectionTimings,
    SceneDetections,
    count_tiles,
    detect_scene,
    detect_tiles,
    merge_detections,
)

__all__ = (
    'METHODS',
    'DetectionProvenance',
    'DetectionTimings',
    'LoadedDetector',
    'MatchResult',
    'PairMatcher',
    'PairResult',
    'SceneDetections',
    'count_tiles',
    'detect_scene',
    'detect_tiles',
    'detection_features',
    'fit_bands',
    'load_image',
    'match',
    'merge_detections',
    'plot_matches',
    'resolve_detector',
    'write_detections',
    'write_quicklook',
    'write_thumbnail',
)
