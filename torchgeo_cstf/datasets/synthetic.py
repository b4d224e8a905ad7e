"""Deprecated home of the scene simulator: it is :mod:`torchgeo_cstf.synthetic` now.

The simulator is not a dataset (:class:`~torchgeo_cstf.datasets.SyntheticScenes`
is), so it moved out of ``datasets``; drawing moved to
:mod:`torchgeo_cstf.plotting`. The old names keep working, with a
``DeprecationWarning``, for one release.
"""

from .. import synthetic as _simulator
from ..deprecation import moved_names

__getattr__ = moved_names(
    __name__,
    {
        **{name: f'torchgeo_cstf.synthetic:{name}' for name in _simulator.__all__},
        'display_image': 'torchgeo_cstf.plotting:display_image',
        'draw_boxes': 'torchgeo_cstf.plotting:draw_boxes',
    },
)
