"""The demo: co-register a new synthetic acquisition and detect its objects.

Everything is embedded: the acquisitions are generated (with exact truth), the
models are the weights shipped in the package, nothing is downloaded and no
GPU or Redis is needed. :func:`run_demo` is what ``cstf demo``
(:mod:`torchgeo_cstf.cli.demo`) runs.
"""

from .run import (
    DEFAULT_SEED,
    DEFAULT_SIZE,
    DEMO_DETECTOR,
    DEMO_MATCHER,
    EVALUATION_THRESHOLD,
    run_demo,
)
from .summary import DemoSummary

__all__ = (
    'DEFAULT_SEED',
    'DEFAULT_SIZE',
    'DEMO_DETECTOR',
    'DEMO_MATCHER',
    'EVALUATION_THRESHOLD',
    'DemoSummary',
    'run_demo',
)
