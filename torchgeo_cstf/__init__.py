"""torchgeo-cstf: CSTF cross-modal matching and oriented detection for TorchGeo.

The package root stays free of heavy imports (no torch, no GDAL) so that light
clients such as :mod:`torchgeo_cstf.jobs` start fast; import the sub-packages you
need (``torchgeo_cstf.io``, ``torchgeo_cstf.datasets``, ``torchgeo_cstf.ops`` …).
"""

__version__ = '0.1.0'
