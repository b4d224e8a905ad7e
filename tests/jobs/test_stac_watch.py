"""The STAC watcher against the real Redis (no worker): Items in, jobs out."""

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pystac
import pytest
import redis

from torchgeo_cstf.errors import InputError, InputNotFoundError
from torchgeo_cstf.io.raster import read_raster_info
from torchgeo_cstf.jobs import JobClient
from torchgeo_cstf.jobs.stac_watch import StacWatcher
from torchgeo_cstf.stac import footprint
from torchgeo_cstf.synthetic import generate_pair

pytestmark = pytest.mark.redis


def _item(item_id: str, path: Path, day: int, **fields: object) -> pystac.Item:
    geometry, bbox = footprint(read_raster_info(path))
    item = pystac.Item(
        item_id, geometry, bbox, dt.datetime(2024, 5, day, tzinfo=dt.UTC), {}
    )
    item.properties['proj:code'] = 'EPSG:32633'
    item.add_asset(
        'data', pystac.Asset(str(path), media_type=pystac.MediaType.COG, roles=['data'])
    )
    item.assets['data'].extra_fields.update(fields)
    return item


def _catalog(folder: Path, items: list[pystac.Item]) -> Path:
    catalog = pystac.Catalog('acquisitions', 'new acquisitions')
    for item in items:
        catalog.add_item(item)
    catalog.normalize_hrefs(str(folder))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return folder / 'catalog.json'


@pytest.fixture
def acquisitions(roots: Path) -> dict[str, Path]:
    generate_pair(
        roots / 'ref.tif', roots / 'new.tif', 0, size=(256, 256), modality='optical',
        warp='similarity', rotation=(-2, 2), scale=(0.98, 1.02),
    )  # fmt: skip
    generate_pair(roots / 'later.tif', roots / 'other.tif', 1, size=(256, 256))
    return {name: roots / f'{name}.tif' for name in ('ref', 'new', 'later')}


def test_new_items_become_jobs_once(
    client: JobClient, roots: Path, redis_url: str, acquisitions: dict[str, Path]
) -> None:
    server = redis.Redis.from_url(redis_url)
    bad_crs = _item('wrong-crs', acquisitions['new'], 3)
    bad_crs.properties['proj:code'] = 'EPSG:4326'
    remote = _item('remote', acquisitions['new'], 4)
    remote.assets['data'].href = 'https://elsewhere.org/new.tif'
    no_raster = _item('no-raster', acquisitions['new'], 5)
    no_raster.assets['data'].media_type = 'application/xml'
    unknown_crs = _item('unknown-crs', acquisitions['new'], 6)
    unknown_crs.properties['proj:code'] = 'EPSG:999999'
    broken = _item('broken-href', acquisitions['new'], 7)
    broken.assets['data'].href = str(roots / 'gone.tif')
    items = [
        _item('S2-0501', acquisitions['ref'], 1, **{'file:checksum': '1220aa'}),
        _item('S2-0502', acquisitions['new'], 2),
        bad_crs,
        remote,
        no_raster,
        unknown_crs,
        broken,
    ]
    source = _catalog(roots / 'stac', items)

    def watcher() -> StacWatcher:
        return StacWatcher(str(source), roots / 'out', client)

    first = watcher()
    handles = first.scan()
    # the first acquisition of the place is detected; the next co-registered onto it
    assert [h.id.split('-')[1] for h in handles] == ['detect', 'pipeline']
    assert server.llen('detection') == 1 and server.llen('matching') == 1
    pipeline = json.loads(server.get(f'cstf:job:{handles[1].id}'))
    assert pipeline['reference'] == str(acquisitions['ref'])
    assert pipeline['query'] == str(acquisitions['new'])
    assert pipeline['source_item'] == str(roots / 'stac' / 'S2-0502' / 'S2-0502.json')
    errors = {
        key.split('|')[0]: value['error']
        for key, value in first.state().items()
        if isinstance(value, dict)
    }
    assert errors == {
        'wrong-crs': 'BAD_CRS',
        'remote': 'PATH_NOT_ALLOWED',
        'no-raster': 'NO_USABLE_ASSET',
        'unknown-crs': 'BAD_CRS',
        'broken-href': 'INPUT_NOT_FOUND',
    }
    # a restarted watcher submits nothing again, and opens no submitted raster:
    # the reference gone from disk is no new error
    assert watcher().scan() == []
    moved = acquisitions['ref'].rename(roots / 'moved.tif')
    assert watcher().scan() == []
    assert len(first.state()) == 7
    moved.rename(acquisitions['ref'])
    # an Item added while it runs is found; a changed checksum is a new version
    later = _item('S2-0510', acquisitions['later'], 10)
    changed = _item('S2-0501', acquisitions['ref'], 1, **{'file:checksum': '1220bb'})
    _catalog(roots / 'stac', [changed, *items[1:], later])
    again = first.scan()
    assert len(again) == 2
    assert first.scan() == []
    # filters: the datetime window leaves the later Item out
    windowed = StacWatcher(
        str(source),
        roots / 'other-out',
        client,
        datetime='2024-05-01T00:00:00Z/2024-05-05T00:00:00Z',
    )
    assert 'S2-0510' not in {item.id for item in windowed.items()}


def test_a_catalogue_served_over_http(
    client: JobClient,
    roots: Path,
    acquisitions: dict[str, Path],
    serve_files: Callable[[Path], Any],
) -> None:
    _catalog(roots / 'stac', [_item('S2-0501', acquisitions['ref'], 1)])
    server = serve_files(roots / 'stac')
    handles = StacWatcher(f'{server.url}/catalog.json', roots / 'out', client).scan()
    assert len(handles) == 1 and handles[0].id.startswith('cstf-detect-')
    assert ('GET', '/catalog.json', '') in server.requests


def test_a_missing_catalogue_is_named(client: JobClient, roots: Path) -> None:
    with pytest.raises(InputNotFoundError, match='no such STAC catalogue'):
        StacWatcher(str(roots / 'nope.json'), roots / 'out', client)


def test_a_stac_api_is_searched_by_window_sorted_and_paged(
    client: JobClient,
    roots: Path,
    redis_url: str,
    acquisitions: dict[str, Path],
    stac_api: Callable[[list[pystac.Item]], Any],
) -> None:
    def in_collection(item: pystac.Item, collection: str) -> pystac.Item:
        item.collection_id = collection
        return item

    items = [  # served newest first: the watcher asks for datetime order
        in_collection(_item('S2-0502', acquisitions['new'], 2), 'sentinel-2'),
        in_collection(_item('L8-0503', acquisitions['new'], 3), 'landsat'),
        in_collection(_item('S2-0501', acquisitions['ref'], 1), 'sentinel-2'),
        in_collection(_item('S2-0401', acquisitions['ref'], 1), 'sentinel-2'),
    ]
    items[3].datetime = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
    api = stac_api(items)

    def watcher() -> StacWatcher:
        return StacWatcher(
            f'{api.url}/',
            roots / 'out',
            client,
            collection='sentinel-2',
            datetime='2024-05-01T00:00:00Z/..',
        )

    first = watcher()
    assert [item.id for item in first.items()] == ['S2-0501', 'S2-0502']
    searches = [path for method, path, _ in api.requests if path.startswith('/search')]
    assert searches, 'the API was not searched'
    handles = first.scan()
    assert [h.id.split('-')[1] for h in handles] == ['detect', 'pipeline']
    server = redis.Redis.from_url(redis_url)
    pipeline = json.loads(server.get(f'cstf:job:{handles[1].id}'))
    assert pipeline['reference'] == str(acquisitions['ref'])
    # pages of two Items: a new Item on the second page is found
    before = len(api.requests)
    items.append(
        in_collection(_item('S2-0520', acquisitions['later'], 20), 'sentinel-2')
    )
    items.append(in_collection(_item('L8-0521', acquisitions['later'], 21), 'landsat'))
    restarted = watcher()
    assert [h.id.split('-')[1] for h in restarted.scan()] == ['detect']
    assert len(api.requests) - before >= 3  # landing page, then two pages
    assert restarted.scan() == []


def test_a_rewritten_local_file_is_a_new_version(
    client: JobClient, roots: Path, acquisitions: dict[str, Path]
) -> None:
    # no checksum stated: a local file is known by its size and mtime
    source = _catalog(roots / 'stac', [_item('S2-0501', acquisitions['ref'], 1)])
    watcher = StacWatcher(str(source), roots / 'out', client)
    assert len(watcher.scan()) == 1
    assert watcher.scan() == []
    generate_pair(acquisitions['ref'], roots / 'other.tif', 7, size=(256, 256))
    assert len(watcher.scan()) == 1


def test_an_unreadable_reference_item_is_recorded(
    client: JobClient, roots: Path, acquisitions: dict[str, Path]
) -> None:
    source = _catalog(roots / 'stac', [_item('S2-0502', acquisitions['new'], 2)])
    watcher = StacWatcher(
        str(source), roots / 'out', client, reference=str(roots / 'gone.json')
    )
    assert watcher.scan() == []  # the watcher goes on
    [(key, record)] = watcher.state().items()
    assert key.startswith('S2-0502|') and record['error'] == 'INPUT_NOT_FOUND'
    assert 'the reference Item cannot be read' in record['message']


def test_a_bad_datetime_window_is_refused_at_once(
    client: JobClient, roots: Path
) -> None:
    source = _catalog(roots / 'stac', [])
    with pytest.raises(InputError, match='ends before it starts'):
        StacWatcher(
            str(source), roots / 'out', client, datetime='2024-05-02/2024-05-01'
        )


def test_the_reference_covers_the_whole_footprint_first(
    client: JobClient, roots: Path, redis_url: str, acquisitions: dict[str, Path]
) -> None:
    wide = _item('A-wide', acquisitions['ref'], 1)
    wide.bbox = [9.5, 39.5, 11.5, 41.5]
    shifted = _item('B-shifted', acquisitions['later'], 2)
    shifted.bbox = [10.4, 40.4, 12.0, 42.0]
    new = _item('C-new', acquisitions['new'], 3)
    new.bbox = [10.0, 40.0, 11.0, 41.0]
    source = _catalog(roots / 'stac', [wide, shifted, new])
    handles = StacWatcher(str(source), roots / 'out', client).scan()
    assert [h.id.split('-')[1] for h in handles] == ['detect', 'pipeline', 'pipeline']
    server = redis.Redis.from_url(redis_url)
    jobs = [json.loads(server.get(f'cstf:job:{h.id}')) for h in handles[1:]]
    # B only has A under its centre; C is wholly inside A but only its centre
    # is under the later B: the whole cover wins
    assert [job['reference'] for job in jobs] == [str(acquisitions['ref'])] * 2
