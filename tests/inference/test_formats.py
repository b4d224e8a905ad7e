"""``cstf detect`` and ``cstf match`` on GeoTIFFs as they come from real sensors.

Any CRS (projected, geographic, web mercator), 1–4 bands, uint8 / uint16 /
float32, nodata borders; every output is read back by GDAL's own command-line
tools (``ogrinfo``, ``gdalinfo``) when they are installed (``.ci/run``
installs them), else by fiona and rasterio.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import fiona
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject

from torchgeo_cstf.cli import main
from torchgeo_cstf.io import write_geotiff
from torchgeo_cstf.synthetic import generate_pair, synthesize_scene

#: one 0.5 m pixel at 45° N, in degrees of longitude and latitude
DEG_X, DEG_Y = 0.5 / 78846.8, 0.5 / 111131.7

UTM = Affine(0.5, 0, 500000, 0, -0.5, 5000000)
CASES: dict[str, dict[str, Any]] = {
    'utm-rgb-uint8': {'crs': 'EPSG:32633', 'transform': UTM},
    'geographic-rgb-uint8': {
        'crs': 'EPSG:4326',
        'transform': Affine(DEG_X, 0, 15.0, 0, -DEG_Y, 45.0),
    },
    'mercator-4band-uint16-nodata': {
        'crs': 'EPSG:3857',
        'transform': Affine(0.7, 0, 1669792.0, 0, -0.7, 5621521.0),
        'bands': 4,
        'dtype': 'uint16',
    },
    'laea-1band-float32-nan': {
        'crs': 'EPSG:3035',
        'transform': Affine(0.5, 0, 4500000, 0, -0.5, 2600000),
        'bands': 1,
        'dtype': 'float32',
    },
    'utm-2band-float32': {
        'crs': 'EPSG:32633',
        'transform': UTM,
        'bands': 2,
        'dtype': 'float32',
    },
}


def _gdal(tool: str, *args: str) -> str | None:
    """Output of a GDAL command-line tool, or None when it is not installed."""
    if shutil.which(tool) is None:
        return None
    done = subprocess.run(
        [tool, *args], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def _layer_facts(path: Path) -> tuple[int, int]:
    """(feature count, EPSG code) of a single-layer vector file."""
    summary = _gdal('ogrinfo', '-ro', '-so', '-al', str(path))
    if summary is None:  # no GDAL tools: the same facts through fiona
        with fiona.open(path) as layer:
            return len(layer), int(layer.crs.to_epsg())
    count = int(re.search(r'Feature Count: (\d+)', summary).group(1))  # type: ignore[union-attr]
    epsg = re.findall(r'ID\["EPSG",(\d+)\]\]\s*$', summary, flags=re.MULTILINE)
    return count, int(epsg[-1])


def _raster_facts(path: Path) -> dict[str, Any]:
    """CRS, size, layout and overviews of a raster, as gdalinfo reports them."""
    info = _gdal('gdalinfo', '-json', str(path))
    if info is None:
        with rasterio.open(path) as src:
            return {
                'epsg': src.crs.to_epsg(),
                'size': [src.width, src.height],
                'layout': src.tags(ns='IMAGE_STRUCTURE').get('LAYOUT'),
                'overviews': len(src.overviews(1)),
            }
    facts = json.loads(info)
    epsg = re.findall(r'ID\["EPSG",(\d+)\]\]$', facts['coordinateSystem']['wkt'])
    return {
        'epsg': int(epsg[-1]),
        'size': facts['size'],
        'layout': facts['metadata'].get('IMAGE_STRUCTURE', {}).get('LAYOUT'),
        'overviews': len(facts['bands'][0].get('overviews', [])),
    }


def _scene(path: Path, case: dict[str, Any]) -> int:
    """Write one case's GeoTIFF from the same synthetic scene; returns its truth count."""
    scene = synthesize_scene((512, 512), seed=5, bands=4)
    rgbn = scene.image.astype(np.float64)
    bands, dtype = case.get('bands', 3), case.get('dtype', 'uint8')
    pixels = {1: rgbn[:3].mean(0, keepdims=True), 2: rgbn[[0, 3]], 3: rgbn[:3]}
    data = pixels.get(bands, rgbn)
    nodata: float | None = None
    if dtype == 'uint16':  # 12-bit digital numbers, a nodata border
        data = np.round(data * 16 + 100)
        data[:, :, :48] = nodata = 0
    elif dtype == 'float32':  # reflectance, NaN outside the footprint
        data = data / 255 * 0.6
        if bands == 1:
            data[:, -40:, :] = nodata = np.nan
    write_geotiff(
        path,
        data.astype(dtype),
        crs=case['crs'],
        transform=case['transform'],
        nodata=nodata,
    )
    return len(scene.truth.objects)


@pytest.mark.slow
def test_detect_any_crs_bands_and_dtype(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lengths: dict[str, list[float]] = {}
    for name, case in CASES.items():
        scene = tmp_path / f'{name}.tif'
        truth = _scene(scene, case)
        out = tmp_path / f'{name}.gpkg'
        argv = ['detect', str(scene), '--out', str(out), '--tile', '512', '--quiet']
        assert main(argv) == 0, name
        printed = capsys.readouterr().out
        count, epsg = _layer_facts(out)
        assert epsg == int(case['crs'].split(':')[1]), name
        assert f': {count} objects' in printed, name
        with fiona.open(out) as layer:
            features = list(layer)
        with rasterio.open(scene) as src:
            left, bottom, right, top = src.bounds
        # object centres lie in the scene (boxes may cross its edge)
        for feature in features:
            x, y = feature['properties']['centre_x'], feature['properties']['centre_y']
            assert left <= x <= right and bottom <= y <= top, name
        lengths[name] = sorted(f['properties']['length_m'] for f in features)
        # the shipped detector learnt colour: grey and two-band scenes run
        # through the same pipeline but are outside what it can recognise
        if case.get('bands', 3) >= 3:
            assert abs(count - truth) <= truth // 3, (name, count, truth)
    # the same pixels in degrees: the same objects, with the same ground sizes
    utm, geographic = lengths['utm-rgb-uint8'], lengths['geographic-rgb-uint8']
    assert len(utm) == len(geographic)
    np.testing.assert_allclose(geographic, utm, rtol=0.01)


@pytest.mark.slow
def test_match_a_reprojected_single_band_uint16_query(tmp_path: Path) -> None:
    generate_pair(
        tmp_path / 'ref.tif',
        tmp_path / 'utm.tif',
        3,
        size=(640, 640),
        modality='optical',
        warp='similarity',
        scale=(0.95, 1.05),
        rotation=(-5.0, 5.0),
    )
    # the query as a 12-bit panchromatic band delivered in geographic coordinates
    with rasterio.open(tmp_path / 'utm.tif') as src:
        grey = src.read().astype(np.float64).mean(0)
        pan = np.where(src.read_masks(1) > 0, np.round(grey * 16 + 100), 0)
        transform, width, height = calculate_default_transform(
            src.crs, 'EPSG:4326', src.width, src.height, *src.bounds
        )
        warped = np.zeros((height, width), np.uint16)
        reproject(
            pan.astype(np.uint16),
            warped,
            src_transform=src.transform,
            src_crs=src.crs,
            src_nodata=0,
            dst_transform=transform,
            dst_crs='EPSG:4326',
            dst_nodata=0,
            resampling=Resampling.bilinear,
        )
    write_geotiff(
        tmp_path / 'query.tif', warped, crs='EPSG:4326', transform=transform, nodata=0
    )
    out = tmp_path / 'coreg'
    argv = ['match', str(tmp_path / 'ref.tif'), str(tmp_path / 'query.tif')]
    assert main([*argv, '--out', str(out), '--quiet']) == 0
    report = json.loads((out / 'report.json').read_text())
    assert report['inliers'] >= 8 and report['rmse_px'] < 3
    assert _layer_facts(out / 'tie_points.gpkg') == (report['matches'], 32633)
    warped_facts = _raster_facts(out / 'query_on_reference.tif')
    assert warped_facts['epsg'] == 32633 and warped_facts['size'] == [640, 640]
    assert warped_facts['layout'] == 'COG' and warped_facts['overviews'] >= 1
