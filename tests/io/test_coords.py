import numpy as np
import pytest
from affine import Affine

from torchgeo_cstf.errors import CRSError
from torchgeo_cstf.io import map_to_pixel, parse_crs, pixel_to_map, reproject_xy


def test_pixel_map_round_trip_with_rotation() -> None:
    transform = (
        Affine.translation(400_000, 5_000_000)
        @ Affine.rotation(17)
        @ Affine.scale(0.7, -0.7)
    )
    cols = np.array([0.0, 0.5, 123.25, 999.0])
    rows = np.array([0.0, 0.5, 77.75, 5.0])
    x, y = pixel_to_map(transform, cols, rows)
    assert (x[0], y[0]) == (400_000, 5_000_000)
    ex, ey = transform @ (cols[2], rows[2])
    assert x[2] == pytest.approx(ex) and y[2] == pytest.approx(ey)
    back_c, back_r = map_to_pixel(transform, x, y)
    np.testing.assert_allclose(back_c, cols, atol=1e-8)
    np.testing.assert_allclose(back_r, rows, atol=1e-8)


def test_reproject_known_points() -> None:
    # the central meridian of UTM 33N is 15°E; the equator has northing 0
    lon, lat = reproject_xy([500_000.0], [0.0], 'EPSG:32633', 4326)
    assert lon[0] == pytest.approx(15.0, abs=1e-9)
    assert lat[0] == pytest.approx(0.0, abs=1e-9)
    x, _ = reproject_xy(lon, lat, 'EPSG:4326', 'EPSG:32633')
    assert x[0] == pytest.approx(500_000.0, abs=1e-6)
    # a point 100 km north, round trip through UTM 32N
    x2, y2 = reproject_xy([500_000.0], [4_600_000.0], 32633, 32632)
    x3, y3 = reproject_xy(x2, y2, 32632, 32633)
    assert x3[0] == pytest.approx(500_000.0, abs=1e-4)
    assert y3[0] == pytest.approx(4_600_000.0, abs=1e-4)
    assert x2[0] > 900_000  # 15°E lies far east of zone 32's meridian (9°E)


def test_parse_crs_errors() -> None:
    assert parse_crs(32633).to_epsg() == 32633
    assert parse_crs('EPSG:4326').is_geographic
    with pytest.raises(CRSError, match='no CRS'):
        parse_crs('')
    with pytest.raises(CRSError, match='not a valid CRS'):
        parse_crs('EPSG:999999999')
    with pytest.raises(CRSError, match='src_crs'):
        reproject_xy([0], [0], 'bogus', 4326)
