"""STAC for results: every finished job is also a STAC Item, and results form a catalogue.

See ``docs/stac.md``. :func:`result_item` builds a job's Item,
:func:`write_catalog` a static catalogue of a results folder, and
:func:`validate` checks either offline (STAC core 1.1.0 from pystac, the
projection and processing extension schemas vendored in ``stac/schemas``).
"""

from .results import (
    ASSET_ROLES,
    CATALOG,
    ITEM,
    footprint,
    result_item,
    write_catalog,
    write_item,
)
from .validation import validate

__all__ = (
    'ASSET_ROLES',
    'CATALOG',
    'ITEM',
    'footprint',
    'result_item',
    'validate',
    'write_catalog',
    'write_item',
)
