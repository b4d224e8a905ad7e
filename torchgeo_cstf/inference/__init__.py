"""Inference on images and rasters: matching (scene detection follows)."""

from .matching import MatchResult, fit_bands, load_image, match
from .plot import plot_matches

__all__ = ('MatchResult', 'fit_bands', 'load_image', 'match', 'plot_matches')
