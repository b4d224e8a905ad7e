"""A job's result as a STAC Item, and a static catalogue of a results folder."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import rasterio

from .. import __version__
from ..errors import InputError, InputNotFoundError, NoCRSError
from ..io.atomic import write_json
from ..io.coords import pixel_to_map, reproject_xy
from ..io.raster import RasterInfo
from .validation import validate

#: a job's Item, beside its ``manifest.json``
ITEM = 'item.json'
#: the static catalogue ``cstf catalog`` writes into a results folder
CATALOG = 'catalog.json'
#: the STAC version written
STAC_VERSION = '1.1.0'
PROJECTION = 'https://stac-extensions.github.io/projection/v2.0.0/schema.json'
PROCESSING = 'https://stac-extensions.github.io/processing/v1.2.0/schema.json'

#: a job output's name → its asset roles (outputs not listed are ``metadata``)
ASSET_ROLES: dict[str, tuple[str, ...]] = {
    'detections': ('data',),
    'query_on_reference': ('data',),
    'tie_points': ('data',),
    'quicklook': ('overview',),
    'thumbnail': ('thumbnail',),
    'matches': ('overview',),
    'report': ('metadata',),
    'manifest': ('metadata',),
}
_MEDIA_TYPES = {
    '.gpkg': 'application/geopackage+sqlite3',
    '.geojson': pystac.MediaType.GEOJSON,
    '.tif': pystac.MediaType.COG,
    '.png': pystac.MediaType.PNG,
    '.json': pystac.MediaType.JSON,
}
#: points per raster edge of the footprint polygon (edges bend in EPSG:4326)
_EDGE_POINTS = 8


def footprint(info: RasterInfo) -> tuple[dict[str, Any], list[float]]:
    """The raster's outline in EPSG:4326 (GeoJSON polygon) and its bounding box.

    Each edge is sampled at a few points so the outline follows a projected
    raster's curved edges in longitude/latitude.

    Raises:
        NoCRSError, CRSError: the raster has no CRS, or it does not reproject.
    """
    if info.crs is None:
        raise NoCRSError(info.path, 'has no CRS: a STAC Item needs its footprint')
    steps = np.linspace(0.0, 1.0, _EDGE_POINTS, endpoint=False)
    w, h = info.width, info.height
    cols = np.concatenate(
        (steps * w, np.full_like(steps, w), (1 - steps) * w, np.zeros_like(steps))
    )
    rows = np.concatenate(
        (np.zeros_like(steps), steps * h, np.full_like(steps, h), (1 - steps) * h)
    )
    x, y = pixel_to_map(info.transform, cols, rows)
    lon, lat = reproject_xy(x, y, info.crs, 'EPSG:4326')
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    ring.append(ring[0])
    bbox = [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]
    return {'type': 'Polygon', 'coordinates': [ring]}, bbox


def _acquired(path: str) -> dt.datetime | None:
    """The acquisition time a GeoTIFF states (``TIFFTAG_DATETIME``), if any."""
    try:
        with rasterio.open(path) as src:
            stamp = src.tags().get('TIFFTAG_DATETIME')
    except rasterio.errors.RasterioError:
        return None
    if not stamp:
        return None
    try:
        return dt.datetime.strptime(stamp, '%Y:%m:%d %H:%M:%S').replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def result_item(
    job_id: str,
    kind: str,
    info: RasterInfo,
    outputs: Mapping[str, str | os.PathLike[str]],
    *,
    sources: Sequence[str] = (),
    properties: Mapping[str, Any] | None = None,
    source_item: str | None = None,
    processed: dt.datetime | None = None,
) -> pystac.Item:
    """A finished job's result as a STAC Item.

    Args:
        job_id: the job's id (the Item's id).
        kind: ``detect``, ``match`` or ``pipeline``.
        info: the raster the results lie on (its footprint and projection).
        outputs: output name → file; each becomes an asset whose href is
            relative to the Item (files sit beside ``item.json``).
        sources: the input rasters (``cstf:sources``).
        properties: summary properties (object counts, registration RMSE, …).
        source_item: the href of the STAC Item of the input acquisition: a
            ``derived_from`` link.
        processed: when the results were made (default now).

    Returns:
        The Item: footprint in EPSG:4326; ``datetime`` the acquisition time the
        first source states (``TIFFTAG_DATETIME``), else the processing time;
        the projection extension for ``info``'s grid; the processing extension
        with the software version.
    """
    processed = processed or dt.datetime.now(dt.UTC)
    geometry, bbox = footprint(info)
    acquired = next((t for t in map(_acquired, sources) if t is not None), None)
    item = pystac.Item(
        id=job_id,
        geometry=geometry,
        bbox=bbox,
        datetime=acquired or processed,
        properties={
            'created': pystac.utils.datetime_to_str(processed),
            'processing:datetime': pystac.utils.datetime_to_str(processed),
            'processing:software': {'torchgeo-cstf': __version__},
            'processing:lineage': f'torchgeo-cstf {kind} job',
            'cstf:kind': kind,
            'cstf:sources': list(sources),
            'cstf:datetime_source': 'acquisition' if acquired else 'processing',
            **(properties or {}),
        },
        stac_extensions=[PROJECTION, PROCESSING],
    )
    assert info.crs is not None  # footprint() refuses a raster without one
    epsg = info.crs.to_epsg()
    item.properties['proj:code'] = None if epsg is None else f'EPSG:{epsg}'
    if epsg is None:
        item.properties['proj:wkt2'] = info.crs.to_wkt()
    item.properties['proj:shape'] = [info.height, info.width]
    item.properties['proj:transform'] = [float(v) for v in list(info.transform)[:6]]
    for name, path in outputs.items():
        suffix = Path(path).suffix.lower()
        item.add_asset(
            name,
            pystac.Asset(
                href=f'./{Path(path).name}',
                media_type=_MEDIA_TYPES.get(suffix),
                roles=list(ASSET_ROLES.get(name, ('metadata',))),
            ),
        )
    if source_item is not None:
        item.add_link(pystac.Link('derived_from', source_item, pystac.MediaType.JSON))
    return item


def write_item(item: pystac.Item, directory: str | os.PathLike[str]) -> Path:
    """Validate an Item and write it as ``directory/item.json`` (atomically).

    Raises:
        InputError: the Item is not valid STAC.
    """
    validate(item)
    path = Path(directory) / ITEM
    write_json(path, item.to_dict(include_self_link=False, transform_hrefs=False))
    return path


def write_catalog(
    folder: str | os.PathLike[str], *, title: str = 'torchgeo-cstf results'
) -> tuple[Path, int]:
    """A static STAC catalogue of every result Item under ``folder``.

    Links ``folder/<job id>/item.json`` (relative hrefs) without rewriting the
    Items, so it can be run again at any time as results arrive.

    Returns:
        The catalogue's path (``folder/catalog.json``) and its number of Items.

    Raises:
        InputNotFoundError: ``folder`` does not exist.
        InputError: an ``item.json`` that is not a valid Item.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputNotFoundError(root, 'no such directory')
    items = sorted(root.glob(f'*/{ITEM}'))
    links: list[dict[str, Any]] = [
        {'rel': 'root', 'href': f'./{CATALOG}', 'type': pystac.MediaType.JSON}
    ]
    for path in items:
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise InputError(path, f'is not JSON ({err})') from None
        validate(data)
        links.append(
            {
                'rel': 'item',
                'href': f'./{path.relative_to(root).as_posix()}',
                'type': pystac.MediaType.GEOJSON,
                'title': data.get('id'),
            }
        )
    catalog = {
        'type': 'Catalog',
        'stac_version': STAC_VERSION,
        'id': 'torchgeo-cstf-results',
        'title': title,
        'description': f'Results of torchgeo-cstf jobs in {root.resolve()}',
        'links': links,
    }
    validate(catalog)
    write_json(root / CATALOG, catalog)
    return root / CATALOG, len(items)
