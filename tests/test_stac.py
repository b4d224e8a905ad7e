import dataclasses
import json
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import rasterio.warp

from torchgeo_cstf.errors import InputError, InputNotFoundError, NoCRSError
from torchgeo_cstf.io.raster import read_raster_info
from torchgeo_cstf.stac import (
    ITEM,
    footprint,
    result_item,
    validate,
    write_catalog,
    write_item,
)
from torchgeo_cstf.synthetic import generate_scene


def test_a_result_item_is_valid_stac_with_footprint_and_projection(
    tmp_path: Path,
) -> None:
    scene = tmp_path / 'scene.tif'
    generate_scene(scene, (256, 384), 0, num_objects=3)
    info = read_raster_info(scene)
    (tmp_path / 'detections.gpkg').write_bytes(b'')
    item = result_item(
        'cstf-detect-abc',
        'detect',
        info,
        {'detections': tmp_path / 'detections.gpkg', 'quicklook': 'x/quicklook.png'},
        sources=[str(scene)],
        properties={'cstf:objects': 3},
        source_item='https://example.com/items/S2A.json',
    )
    validate(item)
    assert item.properties['proj:code'] == 'EPSG:32633'
    assert item.properties['proj:shape'] == [256, 384]
    assert item.properties['cstf:datetime_source'] == 'processing'
    assert item.assets['detections'].roles == ['data']
    assert item.assets['detections'].href == './detections.gpkg'
    assert item.assets['quicklook'].roles == ['overview']
    assert item.assets['quicklook'].media_type == pystac.MediaType.PNG
    (link,) = item.get_links('derived_from')
    assert link.href == 'https://example.com/items/S2A.json'
    # the footprint in lon/lat holds the scene's centre, and the bbox the ring
    geometry, bbox = footprint(info)
    with rasterio.open(scene) as src:
        cx, cy = src.xy(128, 192)
    lon, lat = rasterio.warp.transform(src.crs, 'EPSG:4326', [cx], [cy])
    assert bbox[0] < lon[0] < bbox[2] and bbox[1] < lat[0] < bbox[3]
    ring = np.array(geometry['coordinates'][0])
    assert ring.shape == (33, 2) and (ring[0] == ring[-1]).all()
    # a broken property is refused, named
    item.properties['proj:shape'] = 'tall'
    with pytest.raises(InputError, match='cstf-detect-abc: is not valid STAC'):
        validate(item)


def test_the_acquisition_time_comes_from_the_geotiff(tmp_path: Path) -> None:
    path = tmp_path / 'dated.tif'
    generate_scene(path, (64, 64), 1, num_objects=0)
    with rasterio.open(path, 'r+') as dst:
        dst.update_tags(TIFFTAG_DATETIME='2024:05:01 10:30:00')
    item = result_item('j', 'detect', read_raster_info(path), {}, sources=[str(path)])
    assert item.datetime is not None and item.datetime.isoformat() == (
        '2024-05-01T10:30:00+00:00'
    )
    assert item.properties['cstf:datetime_source'] == 'acquisition'


def test_a_raster_without_crs_has_no_footprint(tmp_path: Path) -> None:
    path = tmp_path / 'scene.tif'
    generate_scene(path, (64, 64), 1, num_objects=0)
    info = dataclasses.replace(read_raster_info(path), crs=None)
    with pytest.raises(NoCRSError, match='needs its footprint'):
        footprint(info)


def test_the_catalogue_links_every_item(tmp_path: Path) -> None:
    scene = tmp_path / 'scene.tif'
    generate_scene(scene, (64, 64), 2, num_objects=0)
    out = tmp_path / 'out'
    for job in ('cstf-detect-1', 'cstf-match-2'):
        (out / job).mkdir(parents=True)
        item = result_item(job, job.split('-')[1], read_raster_info(scene), {})
        assert write_item(item, out / job) == out / job / ITEM
    (out / 'not-a-job').mkdir()
    path, count = write_catalog(out)
    assert count == 2
    catalog = pystac.Catalog.from_file(str(path))
    assert sorted(i.id for i in catalog.get_items()) == [
        'cstf-detect-1',
        'cstf-match-2',
    ]
    validate(json.loads(path.read_text()))
    (out / 'cstf-detect-1' / ITEM).write_text('{"type": "Feature"')
    with pytest.raises(InputError, match='is not JSON'):
        write_catalog(out)
    with pytest.raises(InputNotFoundError):
        write_catalog(tmp_path / 'missing')


def test_cstf_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from torchgeo_cstf.cli import main

    scene = tmp_path / 'scene.tif'
    generate_scene(scene, (64, 64), 3, num_objects=0)
    (tmp_path / 'out' / 'cstf-detect-9').mkdir(parents=True)
    write_item(
        result_item('cstf-detect-9', 'detect', read_raster_info(scene), {}),
        tmp_path / 'out' / 'cstf-detect-9',
    )
    assert main(['catalog', str(tmp_path / 'out')]) == 0
    assert capsys.readouterr().out.endswith('catalog.json: 1 result items\n')
    assert main(['catalog', str(tmp_path / 'nothing')]) == 2
    assert 'no such directory' in capsys.readouterr().err
