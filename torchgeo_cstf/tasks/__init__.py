"""TorchGeo tasks (LightningModules) of torchgeo-cstf."""

from .matching import CSTFMatching

__all__ = ('CSTFMatching',)
