"""TorchGeo tasks (LightningModules) of torchgeo-cstf."""

from .detection import CSTFDetection
from .matching import CSTFMatching

__all__ = ('CSTFDetection', 'CSTFMatching')
