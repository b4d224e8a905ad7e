"""Remote rasters: which URLs may be read, and the GDAL path that reads them.

A job or a STAC asset may name an ``http(s)://`` or ``s3://`` object instead of
a local file. Such a URL is read only when it lies under a configured prefix
(``CSTF_ALLOWED_URL_PREFIXES``), compared after its path is normalised, so
``..`` cannot climb out of an allowed prefix. GDAL reads it through its virtual
file systems: ``/vsicurl/`` for HTTP(S), ``/vsis3/`` for S3 (credentials and
endpoint from the usual ``AWS_*`` variables). The GDAL forms are accepted on
input too and mean the same object as their URL.

This module imports neither GDAL nor torch: job clients use it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError, PathNotAllowedError

__all__ = (
    'GDAL_REMOTE_OPTIONS',
    'REMOTE_SCHEMES',
    'allowed_url',
    'canonical_url',
    'gdal_path',
    'is_remote',
    'url_prefix',
)

#: URL schemes read over the network
REMOTE_SCHEMES = ('http', 'https', 's3')
#: GDAL settings for reading remote rasters: open the named object only (no
#: directory listing of its folder) and fetch a COG's header in one request
GDAL_REMOTE_OPTIONS = {
    'GDAL_DISABLE_READDIR_ON_OPEN': 'EMPTY_DIR',
    'GDAL_HTTP_MERGE_CONSECUTIVE_RANGES': 'YES',
    'GDAL_INGESTED_BYTES_AT_OPEN': '32768',
    'GDAL_HTTP_MAX_RETRY': '3',
    'GDAL_HTTP_RETRY_DELAY': '1',
}


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names an object read over the network."""
    if uri.startswith(('/vsicurl/', '/vsis3/')):
        return True
    return urlsplit(uri).scheme in REMOTE_SCHEMES


def canonical_url(uri: str) -> str:
    """The URL of a remote object, its path normalised.

    ``/vsicurl/https://host/a/../b.tif`` and ``https://host/b.tif`` give the
    same URL; ``/vsis3/bucket/key`` gives ``s3://bucket/key``.

    Raises:
        PathNotAllowedError: not a remote URL, or one without a host.
    """
    if uri.startswith('/vsicurl/'):
        uri = uri.removeprefix('/vsicurl/')
    elif uri.startswith('/vsis3/'):
        uri = 's3://' + uri.removeprefix('/vsis3/')
    parts = urlsplit(uri)
    if parts.scheme not in REMOTE_SCHEMES or not parts.netloc:
        raise PathNotAllowedError(uri, 'is not an http(s):// or s3:// URL with a host')
    path = posixpath.normpath(parts.path or '/')
    if parts.path.endswith('/') and not path.endswith('/'):
        path += '/'
    return urlunsplit(parts._replace(path=path, fragment=''))


def url_prefix(prefix: str) -> str:
    """A configured URL prefix, checked and normalised.

    A prefix without a path (``https://data.example.com``) means the whole host
    (``https://data.example.com/``), never ``https://data.example.com.evil/``.

    Raises:
        ConfigError: not an http(s):// or s3:// URL with a host.
    """
    try:
        url = canonical_url(prefix)
    except PathNotAllowedError:
        raise ConfigError(
            f'CSTF_ALLOWED_URL_PREFIXES: {prefix!r} is not an http(s):// or '
            's3:// URL with a host'
        ) from None
    return url if url.endswith('/') else url + '/'


def allowed_url(uri: str, prefixes: Sequence[str]) -> str:
    """The canonical URL of ``uri``, checked against the allowed prefixes.

    Args:
        uri: a URL or GDAL ``/vsicurl/`` / ``/vsis3/`` path.
        prefixes: the allowed prefixes (as :func:`url_prefix` returns them).

    Raises:
        PathNotAllowedError: under no allowed prefix.
    """
    url = canonical_url(uri)
    if not any(url.startswith(prefix) for prefix in prefixes):
        allowed = ' '.join(prefixes) or 'none'
        raise PathNotAllowedError(
            uri,
            f'is under no allowed URL prefix (allowed: {allowed}); add its prefix '
            'to CSTF_ALLOWED_URL_PREFIXES to read it over the network',
        )
    return url


def gdal_path(url: str) -> str:
    """The GDAL virtual file system path that reads a remote URL."""
    url = canonical_url(url)
    parts = urlsplit(url)
    if parts.scheme == 's3':
        return f'/vsis3/{parts.netloc}{parts.path}'
    return f'/vsicurl/{url}'
