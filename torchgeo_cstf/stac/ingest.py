"""Reading acquisitions from STAC Items: which asset, which CRS, which path.

The rules (``docs/stac.md``):

- **Asset**: the one named, if given; else the raster assets (GeoTIFF, COG,
  JPEG 2000, VRT by media type or suffix) with the role ``data`` — all raster
  assets when none has roles —, narrowed to those whose bands (``bands`` of
  STAC 1.1 or ``eo:bands``) carry every ``eo:common_name`` asked for; of
  several, the one with the fewest bands that still has them, then ``visual``,
  then the first in the Item's order.
- **CRS**: ``proj:code`` (projection v2), else ``proj:epsg`` (older Items),
  else ``proj:wkt2``, on the asset before the Item; ``None`` when the Item says
  nothing (the file's own CRS is then used).
- **Href**: relative hrefs are resolved against the Item's own location; local
  paths and ``file://`` are read directly; ``http(s)://`` and ``s3://`` only
  under an allowed URL prefix (``CSTF_ALLOWED_URL_PREFIXES``), else
  ``PATH_NOT_ALLOWED``, and then through GDAL's ``/vsicurl/`` and ``/vsis3/``
  (:mod:`torchgeo_cstf.remote`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import pystac

from ..errors import CRSError, NoUsableAssetError, PathNotAllowedError
from ..io.coords import parse_crs
from ..remote import allowed_url, is_remote, url_prefix

#: media types read as rasters (prefixes: ``image/tiff; application=geotiff`` …)
RASTER_MEDIA_TYPES = ('image/tiff', 'image/jp2', 'application/x-vrt')
#: suffixes read as rasters when an asset has no media type
RASTER_SUFFIXES = ('.tif', '.tiff', '.jp2', '.vrt')


def _is_raster(asset: pystac.Asset) -> bool:
    if asset.media_type:
        return asset.media_type.startswith(RASTER_MEDIA_TYPES)
    return Path(urlsplit(asset.href).path).suffix.lower() in RASTER_SUFFIXES


def _common_names(asset: pystac.Asset) -> list[str]:
    bands: list[dict[str, Any]] = (
        asset.extra_fields.get('bands') or asset.extra_fields.get('eo:bands') or []
    )
    names = [b.get('eo:common_name') or b.get('common_name') for b in bands]
    return [str(name) for name in names if name]


def select_asset(
    item: pystac.Item, *, asset: str | None = None, common_names: Sequence[str] = ()
) -> tuple[str, pystac.Asset]:
    """The asset that holds the acquisition (see the module's rules).

    Args:
        item: the STAC Item.
        asset: an asset key to use as it is.
        common_names: band common names the asset must have (``red``,
            ``nir`` …).

    Returns:
        The asset's key and the asset.

    Raises:
        NoUsableAssetError: the named asset is missing, or no raster asset fits.
    """
    if asset is not None:
        if asset not in item.assets:
            raise NoUsableAssetError(
                item.id, f'has no asset {asset!r} (assets: {sorted(item.assets)})'
            )
        return asset, item.assets[asset]
    rasters = {k: a for k, a in item.assets.items() if _is_raster(a)}
    with_roles = any(a.roles for a in rasters.values())
    candidates = {
        k: a for k, a in rasters.items() if not with_roles or 'data' in (a.roles or [])
    }
    wanted = set(common_names)
    if wanted:
        candidates = {
            k: a for k, a in candidates.items() if wanted <= set(_common_names(a))
        }
    if not candidates:
        needs = f' with bands {sorted(wanted)}' if wanted else ''
        raise NoUsableAssetError(
            item.id,
            f'has no raster asset with the role "data"{needs} '
            f'(assets: {sorted(item.assets)})',
        )
    order = list(item.assets)
    key = min(
        candidates,
        key=lambda k: (
            len(_common_names(candidates[k])) if wanted else 0,
            k != 'visual',
            order.index(k),
        ),
    )
    return key, candidates[key]


def item_crs(item: pystac.Item, asset: pystac.Asset | None = None) -> Any:
    """The CRS an Item (or its asset) states, as a pyproj CRS; ``None`` if none.

    Raises:
        CRSError: a stated CRS that cannot be parsed.
    """
    for fields in (asset.extra_fields if asset else {}, item.properties):
        for key in ('proj:code', 'proj:epsg', 'proj:wkt2'):
            value = fields.get(key)
            if value is None:
                continue
            if key == 'proj:epsg':
                value = f'EPSG:{value}'
            return parse_crs(value, subject=f'{item.id} {key}')
    return None


def resolve_href(
    href: str, *, base: str | None = None, allowed_prefixes: Sequence[str] = ()
) -> str:
    """Where a job reads an asset: a local path, or a URL it may read.

    Args:
        href: the asset's href (absolute, or relative to ``base``).
        base: the Item's own href (its self link), for relative hrefs.
        allowed_prefixes: URL prefixes that may be read over the network
            (``https://data.example.com/``, ``s3://bucket/``).

    Returns:
        A local path, or a canonical ``http(s)://`` or ``s3://`` URL (read
        through :func:`~torchgeo_cstf.remote.gdal_path`).

    Raises:
        PathNotAllowedError: a remote href under no allowed prefix, or a scheme
            GDAL is not asked to read.
    """
    if base is not None and not urlsplit(href).scheme and not Path(href).is_absolute():
        href = urljoin(base if urlsplit(base).scheme else Path(base).as_uri(), href)
    if is_remote(href):
        return allowed_url(href, [url_prefix(prefix) for prefix in allowed_prefixes])
    parts = urlsplit(href)
    if parts.scheme in ('', 'file'):
        return unquote(parts.path) if parts.scheme else href
    raise PathNotAllowedError(href, f'{parts.scheme}:// hrefs cannot be read')


def check_crs(item: pystac.Item, asset: pystac.Asset, file_crs: Any) -> None:
    """Check the CRS an Item states against the file's own.

    Raises:
        CRSError: the Item states a CRS other than the file's, or neither has one.
    """
    stated = item_crs(item, asset)
    if stated is None and file_crs is None:
        raise CRSError(item.id, 'neither the Item nor its asset file states a CRS')
    if stated is None or file_crs is None:
        return
    actual = parse_crs(file_crs)
    if not actual.equals(stated):
        raise CRSError(
            item.id,
            f'states {stated.to_string()} but its file is in {actual.to_string()}',
        )
