"""torchgeo-cstf: CSTF cross-modal matching and oriented detection for TorchGeo.

The package root stays free of heavy imports (no torch, no GDAL) so that light
clients such as :mod:`torchgeo_cstf.jobs` start fast; import the sub-packages you
need (``torchgeo_cstf.io``, ``torchgeo_cstf.datasets``, ``torchgeo_cstf.ops`` …);
``torchgeo_cstf.match`` and ``torchgeo_cstf.plot_matches`` load on first use.
"""

__version__ = '0.1.0'

from typing import Any

#: names served lazily from sub-packages (importing them loads torch)
_LAZY = {'match': 'torchgeo_cstf.inference', 'plot_matches': 'torchgeo_cstf.inference'}


def __getattr__(name: str) -> Any:
    """Import :func:`match` and :func:`plot_matches` on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
