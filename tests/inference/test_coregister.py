import json
from pathlib import Path

import fiona
import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import Resampling, calculate_default_transform, reproject
from rasterio.windows import Window

from torchgeo_cstf.errors import CRSError, EmptyInputError, InputError, NoOverlapError
from torchgeo_cstf.inference import match
from torchgeo_cstf.inference.coregister import (
    Coregistration,
    coregister,
    overlap_in_reference,
    plan_windows,
    warp_to_reference,
    write_tie_points,
)
from torchgeo_cstf.inference.coregistration_files import write_coregistration
from torchgeo_cstf.io import (
    map_to_pixel,
    pixel_to_map,
    read_raster_info,
    reproject_xy,
    write_geotiff,
)
from torchgeo_cstf.models import Matches, Transform
from torchgeo_cstf.ops.homography import apply_homography
from torchgeo_cstf.options import RegistrationOptions
from torchgeo_cstf.synthetic import generate_pair

REF_TRANSFORM = Affine(1.0, 0.0, 400000.0, 0.0, -1.0, 5200000.0)


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (height // 8 + 2, width // 8 + 2)).astype(np.uint8)
    return np.kron(coarse, np.ones((8, 8), np.uint8))[:height, :width]


def test_overlap_and_window_plan(tmp_path: Path) -> None:
    write_geotiff(
        tmp_path / 'ref.tif',
        _texture(300, 400)[None],
        crs='EPSG:32633',
        transform=REF_TRANSFORM,
    )
    # the query covers the reference's right half (same CRS; another CRS:
    # test_coregister_a_query_in_another_crs)
    write_geotiff(
        tmp_path / 'right.tif',
        _texture(300, 200)[None],
        crs='EPSG:32633',
        transform=REF_TRANSFORM @ Affine.translation(200, 0),
    )
    ref = read_raster_info(tmp_path / 'ref.tif')
    area = overlap_in_reference(ref, read_raster_info(tmp_path / 'right.tif'))
    assert (area.col_off, area.row_off, area.width, area.height) == pytest.approx(
        (200, 0, 200, 300)
    )
    windows = plan_windows(area, 128, 4)
    assert len(windows) == 4
    for window in windows:
        assert window.width == window.height == 128
        assert window.col_off >= 200 and window.col_off + 128 <= 400
    assert plan_windows(area, 512, 9) == [Window(200, 0, 200, 300)]
    write_geotiff(
        tmp_path / 'far.tif',
        _texture(100, 100)[None],
        crs='EPSG:32633',
        transform=REF_TRANSFORM @ Affine.translation(5000, 0),
    )
    with pytest.raises(NoOverlapError, match='does not overlap'):
        overlap_in_reference(ref, read_raster_info(tmp_path / 'far.tif'))


def _result(tmp_path: Path, matrix: np.ndarray) -> Coregistration:
    ref_xy = torch.tensor(
        [[10.0, 10.0], [50.0, 80.0], [120.0, 30.0]], dtype=torch.float64
    )
    homogeneous = np.concatenate([ref_xy.numpy(), np.ones((3, 1))], 1) @ matrix.T
    query_xy = torch.from_numpy(homogeneous[:, :2] / homogeneous[:, 2:])
    query_xy[2] += 10.0  # an outlier
    matches = Matches(ref_xy, query_xy, torch.tensor([0.9, 0.8, 0.7]))
    inliers = np.array([True, True, False])
    residuals = np.array([0.0, 0.0, 10.0])
    return Coregistration(
        read_raster_info(tmp_path / 'ref.tif'),
        read_raster_info(tmp_path / 'query.tif'),
        matches,
        Transform(matrix, inliers, 'homography'),
        [Window(0, 0, 160, 120)],
        residuals,
    )


def test_warp_puts_the_query_on_the_reference_grid(tmp_path: Path) -> None:
    ref = _texture(120, 160, seed=1)
    write_geotiff(
        tmp_path / 'ref.tif', ref[None], crs='EPSG:32633', transform=REF_TRANSFORM
    )
    # the query is the reference shifted by (+7, -5) pixels: query = ref(x - 7, y + 5)
    query = np.zeros((2, 120, 160), np.uint16)
    query[:, 5:, :] = 0
    query[0, :115, 7:] = ref[5:, :153].astype(np.uint16) * 10 + 1
    query[1] = query[0] * 2
    write_geotiff(
        tmp_path / 'query.tif',
        query,
        crs='EPSG:32633',
        transform=REF_TRANSFORM @ Affine.translation(3, 3),  # georeference off
        nodata=0,
    )
    matrix = np.array([[1.0, 0.0, 7.0], [0.0, 1.0, -5.0], [0.0, 0.0, 1.0]])
    result = _result(tmp_path, matrix)
    assert result.inliers == 2 and result.rmse_px == 0.0
    warp_to_reference(result, tmp_path / 'warped.tif', block=50)
    with rasterio.open(tmp_path / 'warped.tif') as src:
        assert src.crs.to_epsg() == 32633 and src.transform == REF_TRANSFORM
        assert (src.count, src.height, src.width) == (2, 120, 160)
        assert src.dtypes[0] == 'uint16' and src.nodata == 0
        assert src.profile['tiled'] and src.profile['compress'] == 'deflate'
        warped = src.read()
    inside = warped[0] > 0
    assert inside[10:110, 10:140].all()  # covered by the query
    np.testing.assert_array_equal(
        warped[0][inside], ref[inside].astype(np.uint16) * 10 + 1
    )
    np.testing.assert_array_equal(warped[1][inside], warped[0][inside] * 2)
    assert not inside[:, 153:].any()  # beyond the query's data: nodata


def _shifted_pair(tmp_path: Path) -> Coregistration:
    """A reference and a query 2 px off in its georeference, co-registered by identity."""
    ref = _texture(120, 160)
    write_geotiff(
        tmp_path / 'ref.tif', ref[None], crs='EPSG:32633', transform=REF_TRANSFORM
    )
    write_geotiff(
        tmp_path / 'query.tif',
        ref[None],
        crs='EPSG:32633',
        transform=REF_TRANSFORM @ Affine.translation(2, 0),
    )
    return _result(tmp_path, np.eye(3))


def test_tie_points_and_errors(tmp_path: Path) -> None:
    result = _shifted_pair(tmp_path)
    write_tie_points(result, tmp_path / 'ties.gpkg')
    with fiona.open(tmp_path / 'ties.gpkg') as layer:
        assert layer.crs.to_epsg() == 32633 and len(layer) == 3
        points = list(layer)
    first = points[0]
    assert first['geometry']['coordinates'] == pytest.approx((400010.0, 5199990.0))
    # where the query's (2 px off) georeference puts the same feature
    assert first['properties']['query_x'] == pytest.approx(400012.0)
    assert [p['properties']['inlier'] for p in points] == [True, True, False]
    report = result.report()
    assert report['inliers'] == 2 and report['matches'] == 3
    failed = Coregistration(
        result.reference, result.query, result.matches, None, [], np.full(3, np.nan)
    )
    assert np.isnan(failed.rmse_px)
    with pytest.raises(InputError, match='no transform'):
        warp_to_reference(failed, tmp_path / 'never.tif')
    assert not (tmp_path / 'never.tif').exists()


def test_write_coregistration_writes_every_output_once(tmp_path: Path) -> None:
    result = _shifted_pair(tmp_path)
    files = write_coregistration(result, tmp_path / 'out')
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == [
        'matches.png',
        'query_on_reference.tif',
        'report.json',
        'tie_points.gpkg',
    ]
    assert files.as_dict()['report'] == str(tmp_path / 'out' / 'report.json')
    assert json.loads(files.report.read_text()) == json.loads(
        json.dumps(result.report())
    )
    with rasterio.open(files.warped) as src:
        assert src.transform == REF_TRANSFORM
    # no transform: the tie points, the plot and the report explain why
    failed = Coregistration(
        result.reference, result.query, result.matches, None, [], np.full(3, np.nan)
    )
    none = write_coregistration(failed, tmp_path / 'failed')
    assert none.warped is None and 'query_on_reference' not in none.as_dict()
    assert sorted(p.name for p in (tmp_path / 'failed').iterdir()) == [
        'matches.png',
        'report.json',
        'tie_points.gpkg',
    ]
    assert json.loads(none.report.read_text())['matrix'] is None


DENSE = RegistrationOptions(method='dense', windows=1)


def _reprojected(source: Path, target: Path, crs: str) -> Path:
    """``source`` resampled (bilinear) into ``crs`` on GDAL's default grid."""
    with rasterio.open(source) as src:
        transform, width, height = calculate_default_transform(
            src.crs, crs, src.width, src.height, *src.bounds
        )
        profile = src.profile | {
            'crs': crs,
            'transform': transform,
            'width': width,
            'height': height,
        }
        with rasterio.open(target, 'w', **profile) as dst:
            for band in range(1, src.count + 1):
                reproject(
                    rasterio.band(src, band),
                    rasterio.band(dst, band),
                    resampling=Resampling.bilinear,
                )
    return target


def test_coregister_a_query_in_another_crs(tmp_path: Path) -> None:
    truth = generate_pair(
        tmp_path / 'ref.tif', tmp_path / 'query.tif', 0, size=(256, 256),
        modality='optical', warp='similarity', rotation=(-2, 2), scale=(0.98, 1.02),
    )  # fmt: skip
    # the query delivered in geographic coordinates (degrees, non-square
    # pixels) while the reference is in UTM 33N
    geographic = _reprojected(
        tmp_path / 'query.tif', tmp_path / 'query-4326.tif', 'EPSG:4326'
    )
    result = coregister(tmp_path / 'ref.tif', geographic, options=DENSE)
    assert result.query.crs == CRS.from_epsg(4326)
    assert result.transform is not None and result.inliers >= 20
    assert result.rmse_px < 1.0
    # the truth, carried into the reprojected query's pixels: reference pixel
    # → original query pixel (exact warp) → its map position in UTM (the
    # header the reprojection used) → degrees → reprojected query pixel
    ref_xy, query_xy = truth.check_points(9)
    original = read_raster_info(tmp_path / 'query.tif')
    x, y = pixel_to_map(original.transform, query_xy[:, 0], query_xy[:, 1])
    lon, lat = reproject_xy(x, y, original.crs, 'EPSG:4326')
    expected = np.stack(map_to_pixel(result.query.transform, lon, lat), axis=1)
    errors = np.linalg.norm(
        apply_homography(result.transform.matrix, ref_xy) - expected, axis=1
    )
    assert np.median(errors) < 1.0 and errors.max() < 3.0, errors


#: a site grid: a local engineering CRS, which no operation ties to the Earth
SITE_GRID = (
    'ENGCRS["site grid",EDATUM["site"],CS[Cartesian,2],'
    'AXIS["easting (x)",east,ORDER[1],LENGTHUNIT["metre",1]],'
    'AXIS["northing (y)",north,ORDER[2],LENGTHUNIT["metre",1]]]'
)


def test_a_crs_that_does_not_transform_is_a_crs_error(tmp_path: Path) -> None:
    texture = _texture(128, 128)[None]
    ref = tmp_path / 'ref.tif'
    write_geotiff(ref, texture, crs='EPSG:32633', transform=REF_TRANSFORM)
    site = tmp_path / 'site.tif'
    write_geotiff(site, texture, crs=SITE_GRID, transform=REF_TRANSFORM)
    words = (
        r'its CRS "site grid" \(Engineering CRS\) cannot be transformed to the '
        r'CRS EPSG:32633 of .*ref\.tif: PROJ knows no coordinate operation'
    )
    with pytest.raises(CRSError, match=words) as info:
        coregister(ref, site, options=DENSE)
    assert info.value.code == 'BAD_CRS' and info.value.subject == str(site)
    with pytest.raises(CRSError, match=words):
        overlap_in_reference(read_raster_info(ref), read_raster_info(site))
    # match() relates the georeferences too (for its prior and tie points)
    with pytest.raises(CRSError, match=words):
        match(ref, site, method='dense')


def test_empty_rasters_are_refused_before_matching(tmp_path: Path) -> None:
    ref = tmp_path / 'ref.tif'
    write_geotiff(
        ref, _texture(128, 128)[None], crs='EPSG:32633', transform=REF_TRANSFORM
    )
    # on the reference's ground: without the check, "no transform" (0 matches)
    nodata, nan = tmp_path / 'nodata.tif', tmp_path / 'nan.tif'
    write_geotiff(
        nodata,
        np.zeros((3, 128, 128), np.uint8),
        crs='EPSG:32633',
        transform=REF_TRANSFORM,
        nodata=0,
    )
    write_geotiff(
        nan,
        np.full((1, 128, 128), np.nan, np.float32),
        crs='EPSG:32633',
        transform=REF_TRANSFORM,
    )
    for empty in (nodata, nan):
        for pair in ((ref, empty), (empty, ref)):
            with pytest.raises(EmptyInputError, match='no valid pixel') as info:
                coregister(*pair, options=DENSE)
            assert info.value.code == 'EMPTY_INPUT'
            assert info.value.subject == str(empty)
            assert str(info.value).endswith(
                'has no valid pixel (all nodata or NaN): nothing to match'
            )
            with pytest.raises(EmptyInputError, match='nothing to match'):
                match(*pair, method='dense')
