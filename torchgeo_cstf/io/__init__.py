"""Geospatial input/output: rasters by windows, coordinates, vector features."""

from .atomic import atomic_output
from .coords import map_to_pixel, parse_crs, pixel_to_map, reproject_xy
from .radiometry import percentile_stretch
from .raster import (
    SUPPORTED_DTYPES,
    RasterInfo,
    WindowData,
    open_raster,
    read_raster_info,
    read_window,
    tile_windows,
    write_geotiff,
)
from .vector import (
    Feature,
    driver_for,
    infer_schema,
    list_layers,
    read_features,
    write_features,
    write_layers,
)

__all__ = (
    'SUPPORTED_DTYPES',
    'Feature',
    'RasterInfo',
    'WindowData',
    'atomic_output',
    'driver_for',
    'infer_schema',
    'list_layers',
    'map_to_pixel',
    'open_raster',
    'parse_crs',
    'percentile_stretch',
    'pixel_to_map',
    'read_features',
    'read_raster_info',
    'read_window',
    'reproject_xy',
    'tile_windows',
    'write_features',
    'write_geotiff',
    'write_layers',
)
