"""Lost jobs (no message waiting or held) are found and queued again: real Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from torchgeo_cstf.cli import main
from torchgeo_cstf.errors import InputError
from torchgeo_cstf.jobs import JobClient, JobHandle, submit_detection
from torchgeo_cstf.jobs.depth import UNACKED_KEY
from torchgeo_cstf.jobs.recover import (
    find_lost_jobs,
    held_task_ids,
    recover_lost_jobs,
    requeue,
    unfinished_jobs,
)
from torchgeo_cstf.jobs.state import submitted_key
from workers.probe import main as probe

from .conftest import free_port, job_env, write_scene

pytestmark = pytest.mark.redis


def _queued(broker: redis.Redis, queue: str = 'detection') -> list[dict[str, object]]:
    return [json.loads(raw) for raw in broker.lrange(queue, 0, -1)]


def _submitted(client: JobClient, roots: Path) -> tuple[JobHandle, redis.Redis]:
    """One detection job queued (no worker runs), and the broker's client."""
    scene = write_scene(roots / 'scene.tif', seed=3, size=256)
    handle = submit_detection(scene, output_dir=roots / 'out', client=client, tile=256)
    broker = redis.Redis.from_url(client.settings.broker_url)
    (message,) = _queued(broker)
    assert message['headers']['id'] == handle.id  # type: ignore[index]
    return handle, broker


def test_a_waiting_job_is_not_lost(client: JobClient, roots: Path) -> None:
    handle, _ = _submitted(client, roots)
    assert unfinished_jobs(client) == [handle.id]
    assert find_lost_jobs(client) == []
    assert recover_lost_jobs(client, grace=0.0) == []


def test_a_job_whose_message_is_gone_is_queued_again_once(
    client: JobClient, roots: Path
) -> None:
    handle, broker = _submitted(client, roots)
    broker.delete('detection')  # the message lost in Redis's hand-over window
    assert find_lost_jobs(client) == [handle.id]
    assert recover_lost_jobs(client, grace=0.1, dry_run=True) == [handle.id]
    assert broker.llen('detection') == 0  # a dry run sends nothing
    assert recover_lost_jobs(client, grace=0.1) == [handle.id]
    (message,) = _queued(broker)  # the stored spec again, under the same id
    assert message['headers']['id'] == handle.id  # type: ignore[index]
    assert message['headers']['task'] == 'cstf.detect'  # type: ignore[index]
    assert handle.state == 'queued'
    assert recover_lost_jobs(client, grace=0.0) == []  # now it waits: not again


def test_a_job_held_by_a_worker_is_not_lost(client: JobClient, roots: Path) -> None:
    handle, broker = _submitted(client, roots)
    # what kombu does when a worker takes it: off the list, into ``unacked``
    raw = broker.rpop('detection')
    assert raw is not None
    broker.hset(UNACKED_KEY, 'tag-1', json.dumps([json.loads(raw), '', 'detection']))
    assert held_task_ids(broker) == {handle.id}
    assert find_lost_jobs(client) == []


def test_a_chunked_job_lives_while_one_of_its_chunks_does(
    client: JobClient, roots: Path
) -> None:
    handle, broker = _submitted(client, roots)
    broker.delete('detection')
    # the job fanned out into chunks: running, one chunk still waiting
    client.app.backend.store_result(
        handle.id, {'stage': 'detect', 'done': 1, 'total': 4}, 'PROGRESS'
    )
    chunk = {'headers': {'id': f'{handle.id}-chunk-1', 'task': 'cstf.detect_chunk'}}
    broker.lpush('detection', json.dumps(chunk))
    assert handle.state == 'running'
    assert find_lost_jobs(client) == []
    broker.delete('detection')  # that chunk's message lost: the job never ends
    assert find_lost_jobs(client) == [handle.id]
    assert recover_lost_jobs(client, grace=0.0) == [handle.id]
    assert handle.state == 'queued' and handle.progress is None  # from the start
    assert [m['headers']['id'] for m in _queued(broker)] == [handle.id]  # type: ignore[index]


def test_a_lost_job_being_cancelled_stays_cancelled(
    client: JobClient, roots: Path
) -> None:
    handle, broker = _submitted(client, roots)
    handle.cancel()
    broker.delete('detection')
    assert recover_lost_jobs(client, grace=0.0) == [handle.id]
    assert handle.state == 'cancelling'  # the worker that takes it ends it cancelled
    assert len(_queued(broker)) == 1


def test_ended_jobs_are_never_lost(client: JobClient, roots: Path) -> None:
    handle, broker = _submitted(client, roots)
    broker.delete('detection')
    client.app.backend.store_result(
        handle.id, {'job_id': handle.id, 'status': 'succeeded'}, 'SUCCESS'
    )
    assert unfinished_jobs(client) == []
    assert recover_lost_jobs(client, grace=0.0) == []


def test_malformed_messages_are_skipped(redis_url: str) -> None:
    broker = redis.Redis.from_url(redis_url)
    broker.lpush('light', 'not json', json.dumps({'headers': {}}), json.dumps([1]))
    broker.lpush('light', json.dumps({'headers': {'id': 'cstf-match-1'}}))
    broker.hset(UNACKED_KEY, mapping={'a': 'not json', 'b': json.dumps([])})
    assert held_task_ids(broker) == {'cstf-match-1'}


@pytest.mark.parametrize('grace', [-1.0, float('nan'), float('inf')])
def test_a_bad_grace_is_refused(client: JobClient, grace: float) -> None:
    with pytest.raises(InputError, match='grace'):
        recover_lost_jobs(client, grace=grace)


def test_the_command_refuses_bad_settings(
    redis_url: str, roots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in job_env(redis_url, roots).items():
        monkeypatch.setenv(key, value)
    assert main(['recover', '--every', '0']) == 2
    assert main(['recover', '--grace', '-1']) == 2
    assert main(['recover', '--grace', '0']) == 0


def _service(env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, '-m', 'torchgeo_cstf.cli', 'recover', '--every', '0.2']
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def test_the_service_outlives_a_missing_redis(roots: Path, tmp_path: Path) -> None:
    # nothing listens on that port: each look fails, the loop goes on
    beat = tmp_path / 'heartbeat'
    env = job_env(
        f'redis://127.0.0.1:{free_port()}/0', roots, CSTF_HEARTBEAT_FILE=str(beat)
    )
    with _service(env) as run:
        assert run.stdout is not None
        lines = [run.stdout.readline() for _ in range(2)]
        alive = run.poll() is None
        run.kill()
    assert alive, lines
    assert all(
        'cannot reach Redis' in line and 'again in 0.2 s' in line for line in lines
    )
    assert not beat.exists()  # the probe fails: it cannot do its work


def test_the_service_beats_while_it_reaches_redis(
    redis_url: str, roots: Path, tmp_path: Path
) -> None:
    beat = tmp_path / 'heartbeat'
    env = job_env(redis_url, roots, CSTF_HEARTBEAT_FILE=str(beat))
    with _service(env) as run:
        deadline = time.monotonic() + 30
        while not beat.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        run.kill()
    assert beat.read_text() == 'ready\n'
    assert probe(['--file', str(beat), '--max-age', '60']) == 0


def test_a_submission_that_expired_is_not_sent(client: JobClient, roots: Path) -> None:
    handle, broker = _submitted(client, roots)
    broker.delete('detection')
    client.redis.delete(submitted_key(handle.id))  # expired: nothing to send
    assert not requeue(client, handle.id)
    assert broker.llen('detection') == 0
