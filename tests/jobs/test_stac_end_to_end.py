"""A STAC catalogue of new acquisitions drives real workers end to end.

The catalogue and its GeoTIFFs are served over loopback HTTP; the assets are
``http://`` URLs, allowed by ``CSTF_ALLOWED_URL_PREFIXES``, which the worker
reads through GDAL's ``/vsicurl/`` by byte ranges. The first acquisition is
detected; the next is co-registered onto it, then detected with temporal
fusion; each result is a valid STAC Item derived from its source Item.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pystac
import pytest

from torchgeo_cstf.jobs import DetectionParameters
from torchgeo_cstf.jobs.stac_watch import StacWatcher
from torchgeo_cstf.options import RegistrationOptions, TilingOptions
from torchgeo_cstf.stac import validate
from torchgeo_cstf.synthetic import generate_pair

from .conftest import Worker, job_client
from .test_stac_watch import _catalog, _item

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_a_served_catalogue_runs_through_a_worker(
    redis_url: str,
    roots: Path,
    serve_files: Callable[[Path], Any],
    start_worker: Callable[..., Worker],
) -> None:
    served = roots / 'served'
    served.mkdir()
    truth = generate_pair(
        served / 'ref.tif', served / 'new.tif', 4, size=(256, 256), modality='optical',
        warp='similarity', rotation=(-2, 2), scale=(0.98, 1.02),
    )  # fmt: skip
    server = serve_files(served)
    items = [
        _item('S2-0501', served / 'ref.tif', 1, **{'file:checksum': '1220aa'}),
        _item('S2-0502', served / 'new.tif', 2, **{'file:checksum': '1220bb'}),
    ]
    for item in items:  # the assets are the served objects, not the files
        name = Path(item.assets['data'].href).name
        item.assets['data'].href = f'{server.url}/{name}'
    _catalog(served / 'stac', items)
    env, client = job_client(
        redis_url, roots, CSTF_ALLOWED_URL_PREFIXES=f'{server.url}/'
    )
    start_worker('stac', env)

    watcher = StacWatcher(
        f'{server.url}/stac/catalog.json',
        roots / 'out',
        client,
        parameters=DetectionParameters(tiling=TilingOptions(tile=256, overlap=64)),
        options={
            'registration': RegistrationOptions(method='dense', window=256, windows=1)
        },
    )
    detect, pipeline = watcher.scan()
    manifests = [handle.wait(timeout=240) for handle in (detect, pipeline)]
    assert [m['status'] for m in manifests] == ['succeeded'] * 2, manifests

    for manifest, source in zip(manifests, items, strict=True):
        item = pystac.Item.from_file(manifest['outputs']['stac_item'])
        validate(item)
        derived = [link.href for link in item.links if link.rel == 'derived_from']
        assert derived == [f'{server.url}/stac/{source.id}/{source.id}.json']
    result = pystac.Item.from_file(manifests[1]['outputs']['stac_item'])
    assert result.properties['proj:code'] == truth.reference.crs
    assert result.properties['cstf:objects'] == manifests[1]['summary']['objects']
    assert result.properties['cstf:registration_rmse_px'] < 2.0
    # the worker read both acquisitions over HTTP, by byte ranges
    ranged = {path for _, path, byte_range in server.requests if byte_range}
    assert {'/ref.tif', '/new.tif'} <= ranged
    # a restarted watcher submits nothing again
    assert (
        StacWatcher(f'{server.url}/stac/catalog.json', roots / 'out', client).scan()
        == []
    )
