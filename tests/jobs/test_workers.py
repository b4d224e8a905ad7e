"""Real ``celery worker`` processes on the real Redis: throughput, faults, bad input."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fiona
import numpy as np
import pytest
import rasterio
import redis
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

from torchgeo_cstf.cli import main
from torchgeo_cstf.inference import detect_scene
from torchgeo_cstf.io import write_geotiff
from torchgeo_cstf.jobs import submit_detection
from torchgeo_cstf.jobs.recover import recover_lost_jobs
from torchgeo_cstf.synthetic import generate_scene

from .conftest import PrivateRedis, Worker, job_client, write_scene

pytestmark = [pytest.mark.redis, pytest.mark.slow]

DETECTOR = 'cstf_detector_regnetx_002'


def _scores(path: str | Path) -> np.ndarray:
    with fiona.open(path) as layer:
        return np.sort([float(f['properties']['score']) for f in layer])


def _expected(scene: Path, **kwargs: Any) -> np.ndarray:
    found = detect_scene(scene, DETECTOR, **kwargs)
    return np.sort(found.scores.numpy())


def _wait_all(handles: list[Any], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    manifests = []
    for handle in handles:
        manifests.append(handle.wait(max(deadline - time.monotonic(), 0.1)))
    return manifests


def test_fifty_jobs_on_two_workers_and_a_chunked_scene(
    redis_url: str, roots: Path, start_worker: Callable[..., Worker]
) -> None:
    env, client = job_client(redis_url, roots, CSTF_CHUNK_TILES='5')
    scenes = [write_scene(roots / f'scene-{i:02d}.tif', seed=i) for i in range(50)]
    big = write_scene(roots / 'big.tif', seed=99, size=768, objects=20)
    start_worker('w1', env)
    start_worker('w2', env)

    handles = [
        submit_detection(scene, output_dir=roots / 'out', client=client, tile=256)
        for scene in scenes
    ]
    chunked = submit_detection(
        big, output_dir=roots / 'out', client=client, tile=256, overlap=64
    )
    # not one of the package's renders: the synthetic weights' domain is left
    untagged = roots / 'untagged.tif'
    with rasterio.open(scenes[0]) as src:
        write_geotiff(untagged, src.read(), crs=src.crs, transform=src.transform)
    outside = submit_detection(
        untagged, output_dir=roots / 'out', client=client, tile=256
    )
    *manifests, outside_manifest = _wait_all([*handles, chunked, outside], timeout=240)
    (reason,) = outside_manifest['summary']['domain_warnings']
    assert 'synthetic renders only' in reason
    assert all(m['summary']['domain_warnings'] == [] for m in manifests)

    assert all(m['status'] == 'succeeded' for m in manifests), manifests
    workers = {m['worker'].split('@')[0] for m in manifests}
    assert workers == {'w1', 'w2'}  # both took jobs
    for scene, manifest in zip(scenes, manifests, strict=False):
        expected = _expected(scene, tile=256)
        assert manifest['summary']['objects'] == len(expected)
        np.testing.assert_allclose(
            _scores(manifest['outputs']['detections']), expected, rtol=1e-5
        )
    # 16 tiles in 4 chunks merged by the chord: the same as one call
    big_manifest = manifests[-1]
    assert big_manifest['summary']['tiles'] == 16
    np.testing.assert_allclose(
        _scores(big_manifest['outputs']['detections']),
        _expected(big, tile=256, overlap=64),
        rtol=1e-5,
    )
    assert sorted(p.name for p in (roots / 'out').iterdir()) == sorted(
        m['job_id'] for m in [*manifests, outside_manifest]
    )  # no temporary or part files left


def test_killed_worker_job_is_redelivered_and_completes_once(
    redis_url: str, roots: Path, start_worker: Callable[..., Worker]
) -> None:
    limits = {
        'CSTF_SOFT_TIME_LIMIT': '19',
        'CSTF_TIME_LIMIT': '20',
        'CSTF_VISIBILITY_TIMEOUT': '22',
        'CSTF_CHUNK_TILES': '1000',
    }
    env, client = job_client(redis_url, roots, **limits)
    scene = write_scene(roots / 'scene.tif', seed=5, size=1024, objects=30)
    first = start_worker('doomed', env)
    job = submit_detection(
        scene, output_dir=roots / 'out', client=client, tile=256, overlap=32
    )
    deadline = time.monotonic() + 60
    while not job.info and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.state == 'running' and 0 <= job.progress < 100
    first.kill()
    killed = time.monotonic()

    second = start_worker('rescuer', env)
    manifest = job.wait(timeout=90)
    assert manifest['status'] == 'succeeded'
    assert manifest['worker'].startswith('rescuer@')
    assert time.monotonic() - killed < 60  # restored after the visibility timeout
    np.testing.assert_allclose(
        _scores(manifest['outputs']['detections']),
        _expected(scene, tile=256, overlap=32),
        rtol=1e-5,
    )
    assert [p.name for p in (roots / 'out').iterdir()] == [job.id]
    assert second.text().count(f'cstf.detect[{job.id}] received') == 1
    # submitting it again returns the finished job; nothing runs twice
    again = submit_detection(
        scene, output_dir=roots / 'out', client=client, tile=256, overlap=32
    )
    assert not again.submitted and again.state == 'succeeded'


def test_no_job_lost_when_redis_restarts(
    private_redis: PrivateRedis, roots: Path, start_worker: Callable[..., Worker]
) -> None:
    limits = {
        'CSTF_SOFT_TIME_LIMIT': '19',
        'CSTF_TIME_LIMIT': '20',
        'CSTF_VISIBILITY_TIMEOUT': '22',
    }
    env, client = job_client(private_redis.url, roots, **limits)
    scenes = [
        write_scene(roots / f'scene-{i:02d}.tif', seed=i, size=512) for i in range(12)
    ]
    handles = [
        submit_detection(scene, output_dir=roots / 'out', client=client, tile=256)
        for scene in scenes
    ]
    start_worker('w1', env)
    deadline = time.monotonic() + 120
    while sum(h.state == 'succeeded' for h in handles) < 3:
        assert time.monotonic() < deadline, 'jobs do not run'
        time.sleep(0.1)
    # killed as a job has just finished: when the worker takes its next message
    private_redis.kill()  # mid-queue: some done, one running, the rest queued
    time.sleep(1.0)
    private_redis.start()  # same port, same append-only file
    deadline = time.monotonic() + 120
    manifests: dict[str, dict[str, Any]] = {}
    stuck = []
    for handle in handles:
        try:
            manifests[handle.id] = handle.wait(max(deadline - time.monotonic(), 0.1))
        except TimeoutError:
            stuck.append(handle)
    # the one window Redis restarts leave (docs/jobs.md): the message a worker
    # was taking off its list (BRPOP) as Redis died, not yet recorded as
    # unacknowledged; its job stays unfinished until ``cstf recover`` finds it
    assert len(stuck) <= 1, [h.id for h in stuck]
    assert recover_lost_jobs(client, grace=1.0) == [h.id for h in stuck]
    for handle in stuck:
        manifests[handle.id] = handle.wait(120)
    statuses = [manifests[h.id]['status'] for h in handles]
    assert statuses == ['succeeded'] * 12, [m['error'] for m in manifests.values()]
    assert len(list((roots / 'out').iterdir())) == 12
    assert redis.Redis.from_url(private_redis.url).llen('detection') == 0


def test_a_job_whose_message_was_lost_completes_when_recovered(
    private_redis: PrivateRedis,
    roots: Path,
    start_worker: Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env, client = job_client(private_redis.url, roots)
    scenes = [write_scene(roots / f'scene-{i}.tif', seed=i, size=256) for i in (3, 4)]
    lost, kept = (
        submit_detection(scene, output_dir=roots / 'out', client=client, tile=256)
        for scene in scenes
    )
    broker = redis.Redis.from_url(private_redis.url)
    broker.lrem('detection', 1, broker.lindex('detection', -1))  # the first one's
    start_worker('w1', env)
    assert kept.wait(60)['status'] == 'succeeded'
    with pytest.raises(TimeoutError):
        lost.wait(3)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(['recover', '--grace', '0.5']) == 0
    assert capsys.readouterr().out == f'{lost.id}: lost, queued again\n'
    assert lost.wait(60)['status'] == 'succeeded'
    assert sorted(p.name for p in (roots / 'out').iterdir()) == sorted(
        (lost.id, kept.id)
    )
    assert main(['recover', '--grace', '0']) == 0
    assert capsys.readouterr().out.startswith('no lost job')


def test_a_job_whose_message_was_lost_completes_when_submitted_again(
    private_redis: PrivateRedis, roots: Path, start_worker: Callable[..., Worker]
) -> None:
    env, client = job_client(private_redis.url, roots)
    scene = write_scene(roots / 'scene.tif', seed=3, size=256)
    handle = submit_detection(scene, output_dir=roots / 'out', client=client, tile=256)
    broker = redis.Redis.from_url(private_redis.url)
    queued = list(broker.scan_iter('detection*'))
    assert queued and sum(broker.llen(key) for key in queued) == 1
    broker.delete(*queued)  # the message lost in Redis's hand-over window
    start_worker('w1', env)
    with pytest.raises(TimeoutError):
        handle.wait(5)
    # submitted again without force: the job is known, nothing is queued
    assert not submit_detection(
        scene, output_dir=roots / 'out', client=client, tile=256
    ).submitted
    again = submit_detection(
        scene, output_dir=roots / 'out', client=client, tile=256, force=True
    )
    assert again.submitted and again.id == handle.id
    manifest = again.wait(120)
    assert manifest['status'] == 'succeeded'
    assert [p.name for p in (roots / 'out').iterdir()] == [handle.id]


def _no_crs_raster(path: Path) -> Path:
    profile = {
        'driver': 'GTiff', 'width': 64, 'height': 64, 'count': 1, 'dtype': 'uint8',
        'transform': Affine.identity(),
    }  # fmt: skip
    with warnings.catch_warnings():  # no georeference on purpose
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        with rasterio.open(path, 'w', **profile) as dst:
            dst.write(np.zeros((1, 64, 64), np.uint8))
    return path


def test_bad_inputs_are_answered_and_the_worker_keeps_serving(
    redis_url: str,
    roots: Path,
    tmp_path: Path,
    start_worker: Callable[..., Worker],
    bad_rasters: Callable[[Path], dict[str, Path]],
) -> None:
    env, client = job_client(redis_url, roots)
    good = write_scene(roots / 'good.tif', seed=1)
    bad = bad_rasters(roots / 'bad')
    far = roots / 'far.tif'
    generate_scene(far, (256, 256), 2, origin=(900000.0, 100000.0))
    (roots / 'fake.tif').write_text('this is not a raster')
    no_crs = _no_crs_raster(roots / 'no_crs.tif')
    out = str(roots / 'out')

    def detect(scene: str, **extra: Any) -> dict[str, Any]:
        return {'kind': 'detect', 'scene': scene, 'output_dir': out, **extra}

    def pair(reference: Path, query: Path) -> dict[str, Any]:
        return {
            'kind': 'match', 'reference': str(reference), 'query': str(query),
            'output_dir': out,
        }  # fmt: skip

    # (code, job, words of the message): a code may answer several inputs
    catalogue = [
        ('INPUT_NOT_FOUND', detect(str(roots / 'missing.tif')), 'no such file'),
        ('NOT_A_RASTER', detect(str(roots / 'fake.tif')), 'not a readable raster'),
        ('NOT_A_RASTER', detect(str(bad['unknown_codec'])), 'missing codec'),
        ('NO_CRS', detect(str(no_crs)), 'no coordinate reference system'),
        ('PATH_NOT_ALLOWED', detect(str(good), output_dir=str(tmp_path / 'x')), ''),
        ('MODEL_NOT_FOUND', detect(
            str(good), parameters={'detector': 'cstf_detector_nonexistent'}
        ), ''),
        ('BAD_JOB_SPEC', {'kind': 'detect', 'output_dir': out}, ''),
        ('CORRUPT_RASTER', detect(str(bad['corrupt']), parameters={'tile': 256}),
         'cannot read rows'),
        # the first ten 256² tiles read; the eleventh, cut off, fails
        ('CORRUPT_RASTER', detect(
            str(bad['truncated']), parameters={'tile': 256, 'overlap': 0}
        ), 'rows 512–767, cols 512–767'),
        ('EMPTY_INPUT', detect(str(bad['nan'])), 'no valid pixel'),
        ('EMPTY_INPUT', detect(str(bad['nodata'])), 'no valid pixel'),
        ('EMPTY_INPUT', pair(bad['good'], bad['nodata']), 'nothing to match'),
        ('BAD_INPUT', detect(str(bad['line'])), 'too small'),
        ('NO_OVERLAP', pair(good, far), 'does not overlap'),
    ]  # fmt: skip
    worker = start_worker('w1', env)
    # a pickle payload: refused by the worker, never run
    client.app.send_task(
        'cstf.detect', args=[detect(str(good))], task_id='pickled', serializer='pickle'
    )
    results = [
        (code, words, client.app.send_task(f'cstf.{spec["kind"]}', args=[spec]))
        for code, spec, words in catalogue
    ]
    for code, words, result in results:
        manifest = result.get(timeout=60)
        assert manifest['status'] == 'failed'
        assert manifest['error']['code'] == code, manifest
        assert manifest['error']['message'], manifest
        assert words in manifest['error']['message'], manifest
    handle = submit_detection(good, output_dir=out, client=client, tile=256)
    assert handle.wait(60)['status'] == 'succeeded'  # still serving
    assert worker.process.poll() is None
    assert 'Refusing to deserialize untrusted content of type pickle' in worker.text()
    assert client.job('pickled').state == 'unknown'
    assert [p.name for p in Path(out).iterdir()] == [handle.id]


def test_cancel_a_queued_and_a_running_job(
    redis_url: str, roots: Path, start_worker: Callable[..., Worker]
) -> None:
    env, client = job_client(redis_url, roots, CSTF_CHUNK_TILES='1000')
    slow = write_scene(roots / 'slow.tif', seed=3, size=1024)
    queued_scene = write_scene(roots / 'queued.tif', seed=4)
    running = submit_detection(
        slow, output_dir=roots / 'out', client=client, tile=128, overlap=16
    )
    queued = submit_detection(queued_scene, output_dir=roots / 'out', client=client)
    queued.cancel()
    start_worker('w1', env)
    deadline = time.monotonic() + 60
    while not running.info and time.monotonic() < deadline:
        time.sleep(0.05)
    running.cancel()
    for handle in (running, queued):
        manifest = handle.wait(60)
        assert manifest['status'] == 'cancelled'
        assert manifest['error']['code'] == 'CANCELLED'
        assert handle.state == 'cancelled'
    assert not (roots / 'out').exists() or not any((roots / 'out').iterdir())


def test_soft_time_limit_fails_the_job_and_the_worker_goes_on(
    redis_url: str, roots: Path, start_worker: Callable[..., Worker]
) -> None:
    limits = {
        'CSTF_SOFT_TIME_LIMIT': '2',
        'CSTF_TIME_LIMIT': '60',
        'CSTF_VISIBILITY_TIMEOUT': '61',
        'CSTF_CHUNK_TILES': '100000',
    }
    env, client = job_client(redis_url, roots, **limits)
    slow = write_scene(roots / 'slow.tif', seed=8, size=2048, objects=10)
    worker = start_worker('w1', env)
    job = submit_detection(
        slow, output_dir=roots / 'out', client=client, tile=128, overlap=16
    )
    manifest = job.wait(60)
    assert manifest['status'] == 'failed'
    assert manifest['error']['code'] == 'TIME_LIMIT', manifest['error']
    assert 'soft time limit of 2 s' in manifest['error']['message']
    assert worker.process.poll() is None
    assert client.app.send_task('cstf.ping').get(timeout=30)['pong'] is True
    assert not (roots / 'out').exists() or not any((roots / 'out').iterdir())


def test_a_wrapped_soft_time_limit_is_still_the_time_limit() -> None:
    from celery.exceptions import SoftTimeLimitExceeded
    from kombu.exceptions import DecodeError

    from workers.tasks import stopped_by_time_limit

    def decode() -> None:
        try:
            raise SoftTimeLimitExceeded()
        except SoftTimeLimitExceeded as err:
            raise DecodeError(err) from err

    with pytest.raises(DecodeError) as wrapped:
        decode()
    assert stopped_by_time_limit(wrapped.value)  # as kombu's decoders raise it
    assert stopped_by_time_limit(SoftTimeLimitExceeded())
    assert not stopped_by_time_limit(DecodeError('bad json'))
    looped = ValueError('a')
    looped.__context__ = ValueError('b')
    looped.__context__.__context__ = looped
    assert not stopped_by_time_limit(looped)
