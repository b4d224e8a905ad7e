"""Shared fixtures and marker handling."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pystac
import pytest
import torch


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests on machines without CUDA."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA device')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_domain_warnings() -> None:
    """Every test sees each domain warning anew (they are once per process)."""
    from torchgeo_cstf.models.domain import forget_domain_warnings

    forget_domain_warnings()


def _block_offset(path: Path, x: int, y: int) -> int:
    """Byte offset of block (x, y) of band 1 in a tiled GeoTIFF."""
    import rasterio

    with rasterio.open(path) as src:
        return int(src.get_tag_item(f'BLOCK_OFFSET_{x}_{y}', 'TIFF', bidx=1))


def write_bad_rasters(directory: Path) -> dict[str, Path]:
    """Rasters as they arrive broken, each named by what is wrong with it.

    - ``good``: the intact 1024² scene (seed 5) the broken ones are made from;
    - ``truncated``: a 1024² COG (header first) cut inside its block (2, 2),
      as a partial download leaves it: the first tiles read, later ones fail;
    - ``corrupt``: a tiled GeoTIFF whose block (1, 1) is overwritten;
    - ``nodata``: every pixel nodata; ``nan``: a float band of NaN only (both
      on the ground of ``good``, so a pair with it overlaps);
    - ``line``: 1 × 300 pixels;
    - ``unknown_codec``: a GeoTIFF whose compression tag names no codec;
    - ``logl``, ``photometric_99``, ``cielab``: copies of ``plain`` (3 × 64²
      uint8) whose PhotometricInterpretation tag says LogL (32844), an
      undefined 99 and CIELab (8).
    """
    import numpy as np
    import rasterio
    import rasterio.shutil

    from torchgeo_cstf.io import write_geotiff
    from torchgeo_cstf.synthetic import generate_scene

    directory.mkdir(parents=True, exist_ok=True)
    good = directory / 'good-1024.tif'
    generate_scene(good, (1024, 1024), 5, num_objects=12)
    with rasterio.open(good) as src:
        transform = src.transform
    cog = directory / 'cog.tif'
    rasterio.shutil.copy(good, cog, driver='COG', BLOCKSIZE=256)
    truncated = directory / 'truncated.tif'
    truncated.write_bytes(cog.read_bytes()[: _block_offset(cog, 2, 2) + 16])
    corrupt = directory / 'corrupt.tif'
    data = bytearray(good.read_bytes())
    start = _block_offset(good, 1, 1)
    data[start : start + 512] = bytes(512)
    corrupt.write_bytes(bytes(data))
    paths = {'good': good, 'truncated': truncated, 'corrupt': corrupt}
    paths['nodata'] = directory / 'nodata.tif'
    write_geotiff(
        paths['nodata'],
        np.zeros((3, 256, 256), np.uint8),
        crs='EPSG:32633',
        transform=transform,
        nodata=0,
    )
    paths['nan'] = directory / 'nan.tif'
    write_geotiff(
        paths['nan'],
        np.full((1, 256, 256), np.nan, np.float32),
        crs='EPSG:32633',
        transform=transform,
    )
    paths['line'] = directory / 'line.tif'
    write_geotiff(
        paths['line'],
        np.full((3, 1, 300), 90, np.uint8),
        crs='EPSG:32633',
        transform=transform,
    )
    paths['unknown_codec'] = _with_tag(
        paths['line'], directory / 'unknown_codec.tif', COMPRESSION, 65000
    )
    paths['plain'] = directory / 'plain.tif'
    write_geotiff(
        paths['plain'],
        np.random.default_rng(0).integers(0, 200, (3, 64, 64)).astype(np.uint8),
        crs='EPSG:32633',
        transform=transform,
    )
    for name, code in (('logl', 32844), ('photometric_99', 99), ('cielab', 8)):
        paths[name] = _with_tag(
            paths['plain'], directory / f'{name}.tif', PHOTOMETRIC, code
        )
    return paths


#: TIFF tags :func:`_with_tag` rewrites
COMPRESSION, PHOTOMETRIC = 259, 262


def _with_tag(source: Path, target: Path, tag: int, value: int) -> Path:
    """A copy of a little-endian GeoTIFF whose SHORT ``tag`` says ``value``."""
    import struct

    data = bytearray(source.read_bytes())
    assert data[:2] == b'II', 'little-endian TIFF expected'
    directory = struct.unpack_from('<I', data, 4)[0]
    (count,) = struct.unpack_from('<H', data, directory)
    for index in range(count):
        entry = directory + 2 + 12 * index
        if struct.unpack_from('<H', data, entry)[0] == tag:
            struct.pack_into('<H', data, entry + 8, value)
            target.write_bytes(bytes(data))
            return target
    raise AssertionError(f'{source}: no tag {tag}')


@pytest.fixture
def bad_rasters() -> Callable[[Path], dict[str, Path]]:
    """Writes the broken rasters of :func:`write_bad_rasters` into a directory."""
    return write_bad_rasters


@dataclass
class LoopbackServer:
    """An HTTP server on the loopback interface, run in a thread by a test.

    Attributes:
        url: its base URL (``http://127.0.0.1:PORT``), no trailing slash.
        requests: ``(method, path, Range header)`` of each request, in order.
    """

    url: str
    requests: list[tuple[str, str, str]] = field(default_factory=list)


class _Quiet(http.server.BaseHTTPRequestHandler):
    """A request handler that does not print a line per request (the record has them)."""

    def log_message(self, *args: object) -> None:
        """Drop http.server's access log line."""


class _FileHandler(_Quiet, http.server.SimpleHTTPRequestHandler):
    """Serves a directory with byte ranges (as object stores do; GDAL needs them)."""

    server_record: LoopbackServer

    def _send_file(self, body: bool) -> None:
        self.server_record.requests.append(
            (self.command, self.path, self.headers.get('Range', ''))
        )
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404, 'no such object')
            return
        data = path.read_bytes()
        match = re.fullmatch(r'bytes=(\d+)-(\d*)', self.headers.get('Range', ''))
        if match:
            start = int(match[1])
            end = min(int(match[2]) if match[2] else len(data) - 1, len(data) - 1)
            self.send_response(206)
            self.send_header('Content-Range', f'bytes {start}-{end}/{len(data)}')
            data = data[start : end + 1]
        else:
            self.send_response(200)
        self.send_header('Accept-Ranges', 'bytes')
        self.send_header('Content-Type', self.guess_type(str(path)))
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._send_file(body=True)

    def do_HEAD(self) -> None:
        self._send_file(body=False)


@contextmanager
def _serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    with http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f'http://127.0.0.1:{httpd.server_address[1]}'
        finally:
            httpd.shutdown()


@pytest.fixture
def serve_files() -> Iterator[Callable[[Path], LoopbackServer]]:
    """Serve directories over loopback HTTP with byte ranges; stopped at the end."""
    with ExitStack() as stack:

        def serve(directory: Path) -> LoopbackServer:
            record = LoopbackServer('')
            handler = type(
                'Handler',
                (_FileHandler,),
                {
                    '__init__': functools.partialmethod(
                        _FileHandler.__init__, directory=str(directory)
                    ),
                    'server_record': record,
                },
            )
            record.url = stack.enter_context(_serving(handler))
            return record

        yield serve


#: what the test STAC API declares it implements
STAC_API_CONFORMANCE = [
    'https://api.stacspec.org/v1.0.0/core',
    'https://api.stacspec.org/v1.0.0/item-search',
    'https://api.stacspec.org/v1.0.0/item-search#sort',
]


def _search(items: list[pystac.Item], query: dict[str, Any]) -> list[dict[str, Any]]:
    """The Items a STAC API search keeps, sorted as asked (datetime ascending)."""
    kept = []
    for item in items:
        if query.get('collections') and item.collection_id not in query['collections']:
            continue
        if query.get('bbox') and item.bbox is not None:
            west, south, east, north = query['bbox']
            if item.bbox[0] > east or item.bbox[2] < west:
                continue
            if item.bbox[1] > north or item.bbox[3] < south:
                continue
        if query.get('datetime') and item.datetime is not None:
            start, _, end = query['datetime'].partition('/')
            if start not in ('', '..') and item.datetime < pystac.utils.str_to_datetime(
                start
            ):
                continue
            if end not in ('', '..') and item.datetime > pystac.utils.str_to_datetime(
                end
            ):
                continue
        kept.append(item)
    descending = str(query.get('sortby', '')).startswith('-') or any(
        isinstance(s, dict) and s.get('direction') == 'desc'
        for s in query.get('sortby') or []
    )
    kept.sort(
        key=lambda item: item.datetime or dt.datetime.min.replace(tzinfo=dt.UTC),
        reverse=descending,
    )
    return [item.to_dict() for item in kept]


def _search_query(handler: http.server.BaseHTTPRequestHandler) -> dict[str, Any]:
    """The parameters of a GET or POST search, in the POST (JSON) form."""
    if handler.command == 'POST':
        length = int(handler.headers.get('Content-Length', 0))
        return dict(json.loads(handler.rfile.read(length) or b'{}'))
    params = parse_qs(urlsplit(handler.path).query)
    query: dict[str, Any] = {key: values[0] for key, values in params.items()}
    if 'collections' in query:
        query['collections'] = query['collections'].split(',')
    if 'bbox' in query:
        query['bbox'] = [float(v) for v in query['bbox'].split(',')]
    return query


class _StacApiHandler(_Quiet):
    """A small STAC API: a landing page and ``/search`` (GET and POST), paged."""

    items: list[pystac.Item]
    record: LoopbackServer
    page_size = 2

    def _json(self, document: dict[str, Any], media: str = 'application/json') -> None:
        body = json.dumps(document).encode('utf-8')
        self.send_response(200)
        self.send_header('Content-Type', media)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _landing(self) -> dict[str, Any]:
        base = self.record.url
        search = {
            'rel': 'search',
            'href': f'{base}/search',
            'type': 'application/geo+json',
        }
        return {
            'type': 'Catalog',
            'stac_version': '1.0.0',
            'id': 'test-api',
            'description': 'a STAC API on the loopback interface',
            'conformsTo': STAC_API_CONFORMANCE,
            'links': [
                {'rel': 'self', 'href': f'{base}/', 'type': 'application/json'},
                {'rel': 'root', 'href': f'{base}/', 'type': 'application/json'},
                {**search, 'method': 'GET'},
                {**search, 'method': 'POST'},
            ],
        }

    def _page(self, query: dict[str, Any]) -> dict[str, Any]:
        found = _search(self.items, query)
        limit = min(int(query.get('limit') or self.page_size), self.page_size)
        start = int(query.get('token') or 0)
        links = []
        if start + limit < len(found):
            links.append(
                {
                    'rel': 'next',
                    'href': f'{self.record.url}/search',
                    'method': 'POST',
                    'body': {**query, 'token': str(start + limit)},
                    'merge': False,
                    'type': 'application/geo+json',
                }
            )
        return {
            'type': 'FeatureCollection',
            'features': found[start : start + limit],
            'links': links,
        }

    def _serve(self) -> None:
        path = urlsplit(self.path).path
        self.record.requests.append((self.command, self.path, ''))
        if path in ('', '/'):
            self._json(self._landing())
        elif path == '/search':
            self._json(self._page(_search_query(self)), 'application/geo+json')
        else:
            self.send_error(404, 'not a route of this API')

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()


@pytest.fixture
def stac_api() -> Iterator[Callable[[list[pystac.Item]], LoopbackServer]]:
    """Serve a list of Items as a STAC API (the list may grow while it runs)."""
    with ExitStack() as stack:

        def serve(items: list[pystac.Item]) -> LoopbackServer:
            record = LoopbackServer('')
            handler = type(
                'Handler', (_StacApiHandler,), {'items': items, 'record': record}
            )
            record.url = stack.enter_context(_serving(handler))
            return record

        yield serve
