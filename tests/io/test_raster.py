from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from torchgeo_cstf.errors import (
    BandCountError,
    CorruptRasterError,
    InputError,
    InputNotFoundError,
    NoCRSError,
    NotARasterError,
    UnsupportedDtypeError,
)
from torchgeo_cstf.io import (
    open_raster,
    read_raster_info,
    read_window,
    tile_windows,
    write_geotiff,
)

TRANSFORM = Affine(0.5, 0.0, 500_000.0, 0.0, -0.5, 4_600_000.0)


def _write(path: Path, array: np.ndarray, **kw: object) -> Path:
    write_geotiff(path, array, crs='EPSG:32633', transform=TRANSFORM, **kw)
    return path


def test_write_and_read_back(tmp_path: Path) -> None:
    array = np.arange(3 * 300 * 280, dtype=np.uint16).reshape(3, 300, 280)
    path = _write(tmp_path / 'a.tif', array, nodata=0, band_names=['r', 'g', 'b'])
    info = read_raster_info(path)
    assert (info.width, info.height, info.count, info.dtype) == (280, 300, 3, 'uint16')
    assert info.crs is not None and info.crs.to_epsg() == 32633
    assert info.transform == TRANSFORM
    assert info.nodata == 0
    assert info.bounds == (500_000.0, 4_600_000.0 - 150.0, 500_140.0, 4_600_000.0)
    assert info.resolution == (0.5, 0.5)
    with rasterio.open(path) as src:
        assert src.descriptions == ('r', 'g', 'b')
        np.testing.assert_array_equal(src.read(), array)


def test_read_window_pads_outside_and_masks_nodata(tmp_path: Path) -> None:
    array = np.full((2, 40, 50), 7, dtype=np.uint8)
    array[:, 0, 0] = 0  # a nodata pixel
    path = _write(tmp_path / 'b.tif', array, nodata=0)
    with open_raster(path) as src:
        data = read_window(src, Window(-5, -5, 20, 20))
    assert data.array.shape == (2, 20, 20)
    assert data.valid.shape == (20, 20)
    assert not data.valid[:5].any() and not data.valid[:, :5].any()
    assert not data.valid[5, 5]  # nodata pixel
    assert data.valid[5:, 6:].all() and data.valid[6:, 5:].all()
    np.testing.assert_array_equal(data.array[:, 6:, 6:], 7)
    with open_raster(path) as src:
        one = read_window(src, Window(10, 10, 4, 4), bands=[2])
    assert one.array.shape == (1, 4, 4)


def test_read_window_keeps_pixels_of_a_rotated_geotransform(tmp_path: Path) -> None:
    # rasterio's boundless reads resample rotated rasters north-up; ours must not
    array = np.arange(3 * 64 * 80, dtype=np.uint16).reshape(3, 64, 80)
    rotated = Affine.rotation(12.0) * Affine(0.5, 0.0, 0.0, 0.0, -0.5, 0.0)
    path = tmp_path / 'rotated.tif'
    write_geotiff(
        path, array, crs='EPSG:32633', transform=Affine.translation(5e5, 5e6) * rotated
    )
    with open_raster(path) as src:
        inner = read_window(src, Window(10, 20, 32, 32))
        edge = read_window(src, Window(60, 50, 32, 32))
    np.testing.assert_array_equal(inner.array, array[:, 20:52, 10:42])
    assert inner.valid.all()
    np.testing.assert_array_equal(edge.array[:, :14, :20], array[:, 50:, 60:])
    assert edge.valid[:14, :20].all() and not edge.valid[14:].any()
    assert not edge.valid[:, 20:].any() and (edge.array[:, 14:] == 0).all()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match='no such file'):
        open_raster(tmp_path / 'nope.tif')


def test_not_a_raster(tmp_path: Path) -> None:
    text = tmp_path / 'notes.tif'
    text.write_text('hello')
    with pytest.raises(NotARasterError, match='notes.tif'):
        open_raster(text)
    with pytest.raises(NotARasterError, match='directory'):
        open_raster(tmp_path)


def test_no_crs(tmp_path: Path) -> None:
    path = tmp_path / 'nocrs.tif'
    with rasterio.open(
        path, 'w', driver='GTiff', width=8, height=8, count=1, dtype='uint8'
    ) as dst:
        dst.write(np.ones((1, 8, 8), dtype=np.uint8))
    with pytest.raises(NoCRSError, match='nocrs.tif: has no coordinate'):
        open_raster(path)
    with open_raster(path, require_crs=False) as src:
        assert src.crs is None


def test_unsupported_dtype_and_band_count(tmp_path: Path) -> None:
    path = tmp_path / 'complex.tif'
    with rasterio.open(
        path,
        'w',
        driver='GTiff',
        width=4,
        height=4,
        count=1,
        dtype='complex64',
        crs='EPSG:32633',
        transform=TRANSFORM,
    ) as dst:
        dst.write(np.ones((1, 4, 4), dtype=np.complex64))
    with pytest.raises(UnsupportedDtypeError, match='complex64'):
        open_raster(path)
    five = _write(tmp_path / 'five.tif', np.zeros((5, 8, 8), dtype=np.uint8))
    with pytest.raises(BandCountError, match='has 5 bands, needs 1–4'):
        open_raster(five, max_bands=4)
    with pytest.raises(BandCountError, match='exactly 3'):
        open_raster(five, min_bands=3, max_bands=3)


def test_write_rejects_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(InputError, match='array'):
        write_geotiff(
            tmp_path / 'x.tif', np.zeros(5), crs='EPSG:32633', transform=TRANSFORM
        )
    with pytest.raises(UnsupportedDtypeError):
        write_geotiff(
            tmp_path / 'x.tif',
            np.zeros((1, 4, 4), dtype=bool),
            crs='EPSG:32633',
            transform=TRANSFORM,
        )
    with pytest.raises(InputError, match='band_names'):
        write_geotiff(
            tmp_path / 'x.tif',
            np.zeros((2, 4, 4), dtype=np.uint8),
            crs='EPSG:32633',
            transform=TRANSFORM,
            band_names=['a'],
        )
    assert list(tmp_path.iterdir()) == []


def test_tile_windows_cover_the_image() -> None:
    windows = list(tile_windows(2500, 3000, 1024, 200))
    cols = sorted({w.col_off for w in windows})
    rows = sorted({w.row_off for w in windows})
    assert cols == [0, 824, 1648, 1976]
    assert rows == [0, 824, 1476]
    assert all(w.width == 1024 and w.height == 1024 for w in windows)
    covered = np.zeros((2500, 3000), dtype=bool)
    for w in windows:
        covered[w.row_off : w.row_off + 1024, w.col_off : w.col_off + 1024] = True
    assert covered.all()
    assert list(tile_windows(100, 80, 128)) == [Window(0, 0, 128, 128)]
    with pytest.raises(InputError, match='overlap'):
        list(tile_windows(100, 100, 64, 64))
    with pytest.raises(InputError, match='size'):
        list(tile_windows(100, 100, 0))


def test_read_window_counts_nan_as_nodata(tmp_path: Path) -> None:
    image = np.ones((2, 8, 8), np.float32)
    image[0, 2, 3] = np.nan
    image[1, 5, 5] = np.inf
    write_geotiff(tmp_path / 'f.tif', image, crs='EPSG:32633', transform=TRANSFORM)
    with open_raster(tmp_path / 'f.tif') as src:
        data = read_window(src, Window(0, 0, 8, 8))
    assert data.valid.sum() == 62
    assert not data.valid[2, 3] and not data.valid[5, 5]


def test_unreadable_pixels_name_the_file_and_the_window(
    tmp_path: Path, bad_rasters: Callable[[Path], dict[str, Path]]
) -> None:
    bad = bad_rasters(tmp_path)
    with open_raster(bad['corrupt']) as src:
        assert read_window(src, Window(0, 0, 256, 256)).valid.all()  # intact block
        with pytest.raises(CorruptRasterError) as info:
            read_window(src, Window(200, 200, 100, 100))
    message = str(info.value)
    assert message.startswith(
        f'{bad["corrupt"]}: cannot read rows 200–299, cols 200–299'
    )
    assert 'compression DEFLATE' in message


def test_a_compression_without_codec_is_not_a_raster(
    tmp_path: Path, bad_rasters: Callable[[Path], dict[str, Path]]
) -> None:
    path = bad_rasters(tmp_path)['unknown_codec']
    with pytest.raises(NotARasterError, match='missing codec of code 65000'):
        open_raster(path)
