"""STAC: reading acquisitions from Items, and every finished job as an Item.

See ``docs/stac.md``. :func:`select_asset`, :func:`item_crs`,
:func:`resolve_href` and :func:`check_crs` read an acquisition from an Item;
:func:`result_item` builds a job's Item,
:func:`write_catalog` a static catalogue of a results folder, and
:func:`validate` checks either offline (STAC core 1.1.0 from pystac, the
projection and processing extension schemas vendored in ``stac/schemas``).
"""

from .ingest import check_crs, item_crs, resolve_href, select_asset
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
    'check_crs',
    'footprint',
    'item_crs',
    'resolve_href',
    'result_item',
    'select_asset',
    'validate',
    'write_catalog',
    'write_item',
)
