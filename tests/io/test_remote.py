"""Remote rasters: the URL allow-list, and GDAL reading a GeoTIFF over HTTP."""

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from torchgeo_cstf.errors import ConfigError, InputNotFoundError, PathNotAllowedError
from torchgeo_cstf.io import open_raster, read_raster_info
from torchgeo_cstf.remote import (
    allowed_url,
    canonical_url,
    gdal_path,
    is_remote,
    url_prefix,
)
from torchgeo_cstf.synthetic import generate_scene


def test_urls_and_their_gdal_forms_are_one_object() -> None:
    assert canonical_url('/vsicurl/https://h.org/a/../b.tif') == 'https://h.org/b.tif'
    assert canonical_url('/vsis3/bucket/S2/B04.tif') == 's3://bucket/S2/B04.tif'
    assert gdal_path('https://h.org/b.tif') == '/vsicurl/https://h.org/b.tif'
    assert gdal_path('s3://bucket/S2/B04.tif') == '/vsis3/bucket/S2/B04.tif'
    assert is_remote('s3://bucket/k') and is_remote('/vsicurl/http://h/x')
    assert not is_remote('/data/x.tif') and not is_remote('file:///data/x.tif')
    with pytest.raises(PathNotAllowedError, match='with a host'):
        canonical_url('https:///no-host.tif')


def test_the_allow_list_cannot_be_stepped_around() -> None:
    # a bare host means the whole host, not every host that starts alike
    assert url_prefix('https://data.example.com') == 'https://data.example.com/'
    assert url_prefix('s3://bucket/cogs') == 's3://bucket/cogs/'
    prefixes = [url_prefix('https://data.example.com/public/')]
    url = 'https://data.example.com/public/S2/B04.tif'
    assert allowed_url(f'/vsicurl/{url}', prefixes) == url
    for outside in (
        'https://data.example.com.evil.org/public/x.tif',
        'https://data.example.com/public/../private/x.tif',
        'http://data.example.com/public/x.tif',
    ):
        with pytest.raises(PathNotAllowedError, match='CSTF_ALLOWED_URL_PREFIXES'):
            allowed_url(outside, prefixes)
    with pytest.raises(ConfigError, match="'ftp://h/'"):
        url_prefix('ftp://h/')


def test_a_geotiff_is_read_over_http_by_ranges(
    tmp_path: Path, serve_files: Callable[[Path], Any]
) -> None:
    scene = tmp_path / 'scene.tif'
    generate_scene(scene, (512, 512), 3, num_objects=4)
    server = serve_files(tmp_path)
    remote = gdal_path(f'{server.url}/scene.tif')
    info = read_raster_info(remote)
    assert info.path == remote
    assert dataclasses.replace(info, path=str(scene)) == read_raster_info(scene)
    with open_raster(remote) as src, rasterio.open(scene) as local:
        window = rasterio.windows.Window(128, 256, 64, 32)
        np.testing.assert_array_equal(
            src.read(window=window), local.read(window=window)
        )
    ranges = [r for method, path, r in server.requests if path == '/scene.tif' and r]
    assert ranges, 'GDAL read the file whole, not by ranges'
    assert scene.stat().st_size > 100_000
    with pytest.raises(InputNotFoundError, match='no such object'):
        read_raster_info(gdal_path(f'{server.url}/missing.tif'))


def test_an_s3_object_is_read_through_vsis3(
    tmp_path: Path, serve_files: Callable[[Path], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # an S3-compatible endpoint on the loopback interface, path-style, no signing
    # (as for MinIO or a public bucket): GDAL asks for bucket/key by ranges
    scene = tmp_path / 'bucket' / 'cogs' / 'scene.tif'
    scene.parent.mkdir(parents=True)
    generate_scene(scene, (512, 512), 5, num_objects=3)
    server = serve_files(tmp_path)
    endpoint = server.url.removeprefix('http://')
    for key, value in {
        'AWS_S3_ENDPOINT': endpoint,
        'AWS_HTTPS': 'NO',
        'AWS_VIRTUAL_HOSTING': 'FALSE',
        'AWS_NO_SIGN_REQUEST': 'YES',
    }.items():
        monkeypatch.setenv(key, value)
    remote = gdal_path('s3://bucket/cogs/scene.tif')
    assert remote == '/vsis3/bucket/cogs/scene.tif'
    info = read_raster_info(remote)
    assert dataclasses.replace(info, path=str(scene)) == read_raster_info(scene)
    assert any(
        path == '/bucket/cogs/scene.tif' and byte_range
        for _, path, byte_range in server.requests
    )
