"""The submit client against the real Redis (no worker: jobs stay queued)."""

import json
from pathlib import Path

import pytest
import redis

from torchgeo_cstf.errors import (
    BrokerUnavailableError,
    InputNotFoundError,
    JobSpecError,
    PathNotAllowedError,
)
from torchgeo_cstf.jobs import (
    DetectionParameters,
    JobClient,
    JobSettings,
    get_job,
    submit_detection,
    submit_matching,
    submit_pipeline,
)

from .conftest import free_port, job_env, write_scene

pytestmark = pytest.mark.redis


def test_submit_queues_once_and_routes_by_kind(
    client: JobClient, roots: Path, redis_url: str
) -> None:
    scene = write_scene(roots / 'scene.tif', seed=1)
    other = write_scene(roots / 'other.tif', seed=2)
    server = redis.Redis.from_url(redis_url)

    job = submit_detection(scene, output_dir=roots / 'out', client=client, tile=256)
    assert job.submitted and job.id.startswith('cstf-detect-')
    assert server.llen('detection') == 1
    message = json.loads(server.lindex('detection', 0))
    assert message['content-type'] == 'application/json'
    assert message['headers']['task'] == 'cstf.detect'
    assert message['headers']['id'] == job.id
    assert job.state == 'queued' and job.progress is None and job.manifest is None

    again = submit_detection(scene, output_dir=roots / 'out', client=client, tile=256)
    assert again.id == job.id and not again.submitted
    assert server.llen('detection') == 1  # not queued twice
    forced = submit_detection(
        scene, output_dir=roots / 'out', client=client, tile=256, force=True
    )
    assert forced.submitted and server.llen('detection') == 2
    # the parameters as submit_pipeline takes them: the same job
    same = [
        submit_detection(scene, output_dir=roots / 'out', client=client, parameters=p)
        for p in ({'tile': 256}, DetectionParameters(tile=256))
    ]
    assert [h.id for h in same] == [job.id] * 2
    # keyword fields override the parameters
    other_tile = submit_detection(
        scene,
        output_dir=roots / 'out',
        client=client,
        parameters={'tile': 256},
        tile=512,
    )
    assert other_tile.id != job.id and other_tile.submitted
    assert server.llen('detection') == 3

    match = submit_matching(scene, other, output_dir=roots / 'out', client=client)
    pipeline = submit_pipeline(
        scene, other, output_dir=roots / 'out', client=client, parameters={'tile': 512}
    )
    assert match.id.startswith('cstf-match-')
    assert pipeline.id.startswith('cstf-pipeline-')
    assert server.llen('matching') == 2
    spec = json.loads(server.get(f'cstf:job:{pipeline.id}'))
    assert spec['parameters']['tiling']['tile'] == 512
    assert spec['query'] == str(other.resolve())

    unknown = get_job('cstf-detect-000000000000000000000000', client)
    assert unknown.state == 'unknown'
    job.cancel()
    assert job.state == 'cancelling'
    with pytest.raises(TimeoutError, match='still cancelling after 0.2 s'):
        job.wait(timeout=0.2, poll=0.05)


def test_bad_submissions_are_refused_before_queueing(
    client: JobClient, roots: Path, redis_url: str, tmp_path: Path
) -> None:
    scene = write_scene(roots / 'scene.tif', seed=1)
    outside = write_scene(tmp_path / 'outside.tif', seed=1)
    with pytest.raises(InputNotFoundError, match='missing.tif: no such file'):
        submit_detection(roots / 'missing.tif', output_dir=roots, client=client)
    with pytest.raises(PathNotAllowedError, match='outside the allowed roots'):
        submit_detection(outside, output_dir=roots, client=client)
    with pytest.raises(PathNotAllowedError, match='outside the allowed roots'):
        submit_detection(scene, output_dir=tmp_path / 'elsewhere', client=client)
    with pytest.raises(JobSpecError, match=r'overlap: must be in \[0, tile=100\)'):
        submit_detection(scene, output_dir=roots, client=client, tile=100)
    with pytest.raises(JobSpecError, match='colour: Extra inputs'):
        submit_detection(scene, output_dir=roots, client=client, colour='red')
    assert redis.Redis.from_url(redis_url).dbsize() == 0  # nothing queued


def test_unreachable_redis_is_a_clear_error(roots: Path) -> None:
    scene = write_scene(roots / 'scene.tif', seed=1)
    url = f'redis://127.0.0.1:{free_port()}/0'
    client = JobClient(JobSettings.from_env(job_env(url, roots)))
    with pytest.raises(BrokerUnavailableError, match=f'cannot reach Redis at {url}'):
        submit_detection(scene, output_dir=roots, client=client)
    assert BrokerUnavailableError.code == 'BROKER_UNAVAILABLE'
