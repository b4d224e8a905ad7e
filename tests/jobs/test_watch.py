"""The ingest watcher against the real Redis (no worker)."""

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from torchgeo_cstf.errors import InputNotFoundError
from torchgeo_cstf.jobs import JobClient, watch
from torchgeo_cstf.jobs.watch import Watcher, looks_like_tiff

from .conftest import write_scene

pytestmark = pytest.mark.redis


def test_each_new_complete_geotiff_becomes_one_job(
    client: JobClient, roots: Path, redis_url: str
) -> None:
    inbox = roots / 'inbox'
    inbox.mkdir()
    reference = write_scene(roots / 'reference.tif', seed=1)
    server = redis.Redis.from_url(redis_url)

    def watcher() -> Watcher:
        return Watcher(inbox, reference, roots / 'out', client, stable_seconds=0.2)

    first = watcher()
    write_scene(inbox / 'a.tif', seed=2)
    (inbox / 'b.tif.part').write_bytes(b'II*\x00partial')  # still downloading
    (inbox / '.c.tif').write_bytes(b'II*\x00hidden')
    (inbox / 'notes.tif').write_text('not a tiff at all')
    assert first.scan() == []  # a.tif seen once: not yet known to be stable
    time.sleep(0.3)
    handles = first.scan()
    assert len(handles) == 1 and handles[0].id.startswith('cstf-pipeline-')
    assert server.llen('matching') == 1
    assert first.scan() == []  # already submitted

    # a copy under another name has the same content: skipped
    shutil.copy(inbox / 'a.tif', inbox / 'a-copy.tif')
    # a file still growing is not taken until it stops changing
    growing = inbox / 'd.tif'
    write_scene(roots / 'd-full.tif', seed=3)
    data = (roots / 'd-full.tif').read_bytes()
    growing.write_bytes(data[: len(data) // 2])
    first.scan()
    time.sleep(0.3)
    with growing.open('ab') as file:
        file.write(data[len(data) // 2 :])
    assert first.scan() == []  # changed since the last look
    time.sleep(0.3)
    assert [h.id for h in first.scan()] != []
    assert server.llen('matching') == 2

    # a restarted watcher keeps the record: nothing is submitted twice
    second = watcher()
    second.scan()
    time.sleep(0.3)
    assert second.scan() == []
    assert len(second.submitted()) == 2
    assert server.llen('matching') == 2
    assert not looks_like_tiff(inbox / 'notes.tif')


def test_watcher_checks_its_inputs(client: JobClient, roots: Path) -> None:
    with pytest.raises(InputNotFoundError, match='no such directory to watch'):
        Watcher(roots / 'nope', roots / 'ref.tif', roots / 'out', client)
    (roots / 'inbox').mkdir()
    with pytest.raises(InputNotFoundError, match='no such reference raster'):
        Watcher(roots / 'inbox', roots / 'ref.tif', roots / 'out', client)


def test_a_file_is_hashed_once_per_version(
    client: JobClient, roots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = roots / 'inbox'
    inbox.mkdir()
    reference = write_scene(roots / 'reference.tif', seed=1)
    hashed: list[str] = []
    real_hash = watch.content_hash

    def counted(path: Path, **kwargs: Any) -> str:
        hashed.append(path.name)
        return real_hash(path, **kwargs)

    monkeypatch.setattr(watch, 'content_hash', counted)
    watcher = Watcher(inbox, reference, roots / 'out', client, stable_seconds=0.1)
    write_scene(inbox / 'a.tif', seed=2)
    watcher.scan()
    time.sleep(0.2)
    assert len(watcher.scan()) == 1
    for _ in range(3):  # already submitted: not read again
        assert watcher.scan() == []
    assert hashed == ['a.tif']
    write_scene(inbox / 'a.tif', seed=3)  # replaced by another acquisition
    watcher.scan()
    time.sleep(0.2)
    assert len(watcher.scan()) == 1
    assert hashed == ['a.tif', 'a.tif']
