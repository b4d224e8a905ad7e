"""CSTF models: the fusion block, the matchers (CSTF, dense), the detector, transforms, losses, weights."""

from .cstf import FUSIONS, CSTFBlock
from .dense import DenseMatcher
from .detector import CSTFDetector
from .domain import Domain, InputFacts, domain_mismatches
from .keypoints import DoGKeypoints
from .losses import kld_loss, probiou, probiou_loss
from .matcher import CSTFMatcher, Matches
from .registry import (
    get_model,
    get_model_weights,
    get_weight,
    list_models,
    register_weights,
)
from .released import CSTFDetectorRegNetX002_Weights, CSTFMatcherRegNetX004_Weights
from .search import Candidate, search_rotation_scale
from .structure import oriented_gradients
from .transform import Transform, estimate_transform
from .weights import export_weights, load_checkpoint, load_weights

__all__ = (
    'FUSIONS',
    'CSTFBlock',
    'CSTFDetector',
    'CSTFDetectorRegNetX002_Weights',
    'CSTFMatcher',
    'CSTFMatcherRegNetX004_Weights',
    'Candidate',
    'DenseMatcher',
    'DoGKeypoints',
    'Domain',
    'InputFacts',
    'Matches',
    'Transform',
    'domain_mismatches',
    'estimate_transform',
    'export_weights',
    'get_model',
    'get_model_weights',
    'get_weight',
    'kld_loss',
    'list_models',
    'load_checkpoint',
    'load_weights',
    'oriented_gradients',
    'probiou',
    'probiou_loss',
    'register_weights',
    'search_rotation_scale',
)
