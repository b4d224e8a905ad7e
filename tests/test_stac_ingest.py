import datetime as dt

import pystac
import pytest

from torchgeo_cstf.errors import CRSError, NoUsableAssetError, PathNotAllowedError
from torchgeo_cstf.stac import check_crs, item_crs, resolve_href, select_asset

TIFF = pystac.MediaType.COG


def _item(**assets: pystac.Asset) -> pystac.Item:
    item = pystac.Item(
        'S2A_T33',
        {'type': 'Point', 'coordinates': [15.0, 36.1]},
        [15.0, 36.1, 15.0, 36.1],
        dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        {},
    )
    for key, asset in assets.items():
        item.add_asset(key, asset)
    return item


def _bands(*names: str) -> dict[str, object]:
    return {'bands': [{'name': n, 'eo:common_name': n} for n in names]}


def test_the_data_raster_asset_is_chosen() -> None:
    item = _item(
        thumbnail=pystac.Asset('t.png', media_type='image/png', roles=['thumbnail']),
        metadata=pystac.Asset(
            'm.xml', media_type='application/xml', roles=['metadata']
        ),
        overview=pystac.Asset('o.tif', media_type=TIFF, roles=['overview']),
        visual=pystac.Asset(
            'v.tif',
            media_type=TIFF,
            roles=['data'],
            extra_fields=_bands('red', 'green', 'blue'),
        ),
        nir=pystac.Asset(
            'n.tif', media_type=TIFF, roles=['data'], extra_fields=_bands('nir')
        ),
    )
    assert select_asset(item)[0] == 'visual'  # data rasters; visual preferred
    assert select_asset(item, common_names=['nir'])[0] == 'nir'
    assert select_asset(item, common_names=['red'])[0] == 'visual'
    assert select_asset(item, asset='overview')[0] == 'overview'
    with pytest.raises(NoUsableAssetError, match="S2A_T33: has no asset 'B12'"):
        select_asset(item, asset='B12')
    with pytest.raises(NoUsableAssetError, match=r"with bands \['swir16'\]"):
        select_asset(item, common_names=['swir16'])
    # without roles anywhere, any raster (by suffix when there is no media type)
    plain = _item(readme=pystac.Asset('README.txt'), image=pystac.Asset('scene.TIF'))
    assert select_asset(plain)[0] == 'image'
    empty = _item(readme=pystac.Asset('README.txt'))
    with pytest.raises(NoUsableAssetError, match='no raster asset'):
        select_asset(empty)


def test_the_crs_comes_from_the_projection_fields() -> None:
    asset = pystac.Asset('a.tif', media_type=TIFF, roles=['data'])
    item = _item(data=asset)
    assert item_crs(item, asset) is None
    item.properties['proj:epsg'] = 32633  # an older Item (projection v1)
    assert item_crs(item, asset).to_epsg() == 32633
    item.properties['proj:code'] = 'EPSG:32634'  # v2 wins over v1
    assert item_crs(item, asset).to_epsg() == 32634
    asset.extra_fields['proj:code'] = 'EPSG:4326'  # the asset's own wins
    assert item_crs(item, asset).to_epsg() == 4326
    check_crs(item, asset, 'EPSG:4326')
    with pytest.raises(
        CRSError, match='states EPSG:4326 but its file is in EPSG:32633'
    ):
        check_crs(item, asset, 'EPSG:32633')
    asset.extra_fields['proj:code'] = 'EPSG:999999'
    with pytest.raises(CRSError, match='S2A_T33 proj:code'):
        item_crs(item, asset)
    bare = _item(data=pystac.Asset('b.tif', media_type=TIFF))
    check_crs(bare, bare.assets['data'], 'EPSG:32633')  # the file's CRS is used
    with pytest.raises(CRSError, match='neither the Item nor its asset file'):
        check_crs(bare, bare.assets['data'], None)


def test_hrefs_resolve_locally_and_remotely_only_when_allowed(tmp_path) -> None:
    base = str(tmp_path / 'items' / 'S2A_T33.json')
    assert resolve_href('./B04.tif', base=base) == str(tmp_path / 'items' / 'B04.tif')
    assert resolve_href('../cogs/B04.tif', base=base) == str(
        tmp_path / 'cogs' / 'B04.tif'
    )
    assert resolve_href('file:///data/a%20b.tif') == '/data/a b.tif'
    assert resolve_href('/data/x.tif', base=base) == '/data/x.tif'
    allowed = ('https://data.example.com/', 's3://sentinel-cogs/')
    url = 'https://data.example.com/S2/B04.tif'
    # remote hrefs stay URLs (jobs carry them); GDAL's paths are made to read
    assert resolve_href(url, allowed_prefixes=allowed) == url
    assert resolve_href(f'/vsicurl/{url}', allowed_prefixes=allowed) == url
    assert (
        resolve_href('s3://sentinel-cogs/T33/B04.tif', allowed_prefixes=allowed)
        == 's3://sentinel-cogs/T33/B04.tif'
    )
    relative_remote = resolve_href(
        'B04.tif',
        base='https://data.example.com/S2/item.json',
        allowed_prefixes=allowed,
    )
    assert relative_remote == 'https://data.example.com/S2/B04.tif'
    with pytest.raises(PathNotAllowedError, match='under no allowed URL prefix'):
        resolve_href('https://elsewhere.org/B04.tif', allowed_prefixes=allowed)
    with pytest.raises(PathNotAllowedError, match='ftp:// hrefs cannot be read'):
        resolve_href('ftp://data.example.com/B04.tif', allowed_prefixes=allowed)
