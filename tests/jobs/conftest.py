"""Fixtures of the job-queue tests: a Redis database of our own, scenes, real workers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from torchgeo_cstf.jobs import JobClient, JobSettings
from torchgeo_cstf.synthetic import generate_scene

#: the test Redis server (the real one, never a mock)
REDIS_URL = os.environ.get('CSTF_TEST_REDIS_URL', 'redis://127.0.0.1:6379')
#: settings of the test workers: short enough that redelivery takes seconds
FAST_LIMITS = {
    'CSTF_SOFT_TIME_LIMIT': '50',
    'CSTF_TIME_LIMIT': '60',
    'CSTF_VISIBILITY_TIMEOUT': '61',
    'CSTF_RESTORE_INTERVAL': '1',
    'CSTF_RETRY_BACKOFF': '1',
}


def _database(worker_id: str) -> int:
    """A database per xdist worker (10, 11, ...), away from the default 0.

    ``CSTF_TEST_REDIS_DB`` moves the first one (two test runs sharing a server).
    """
    first = int(os.environ.get('CSTF_TEST_REDIS_DB', '10'))
    return first + (int(worker_id[2:]) if worker_id.startswith('gw') else 0)


@pytest.fixture
def redis_url(worker_id: str) -> Iterator[str]:
    """An emptied Redis database on the real server."""
    url = f'{REDIS_URL}/{_database(worker_id)}'
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f'no Redis at {url}: start redis-server (.ci/run does)')
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    """The allowed root of the jobs (inputs and outputs live under it)."""
    root = tmp_path / 'data'
    root.mkdir()
    return root


def job_env(url: str, root: Path, **extra: str) -> dict[str, str]:
    """Environment of clients and workers for the test database."""
    env = dict(os.environ)
    env.update(
        CSTF_BROKER_URL=url,
        CSTF_ALLOWED_ROOTS=str(root),
        CSTF_TORCH_THREADS='1',
        CSTF_DEVICE='cpu',
        **FAST_LIMITS,
    )
    env.update(extra)
    return env


def job_client(url: str, root: Path, **extra: str) -> tuple[dict[str, str], JobClient]:
    """The environment of workers and a client that share it."""
    env = job_env(url, root, **extra)
    return env, JobClient(JobSettings.from_env(env))


@pytest.fixture
def client(redis_url: str, roots: Path) -> JobClient:
    """A job client for the test database."""
    return job_client(redis_url, roots)[1]


def write_scene(path: Path, seed: int, size: int = 256, objects: int = 6) -> Path:
    """A synthetic optical scene with a CRS."""
    generate_scene(path, (size, size), seed, num_objects=objects)
    return path


@dataclass
class Worker:
    """A real ``celery worker`` process (its own process group)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        """The worker's log so far."""
        return self.log.read_text(errors='replace')

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait for the worker to connect and announce itself."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if f'{self.name}@' in self.text() and ' ready.' in self.text():
                return
            if self.process.poll() is not None:
                raise AssertionError(f'worker {self.name} exited:\n{self.text()}')
            time.sleep(0.2)
        raise AssertionError(f'worker {self.name} not ready:\n{self.text()}')

    def kill(self) -> None:
        """kill -9 the worker and its pool children."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then kill what remains."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start real workers (``cstf worker``); all are stopped at the end."""
    workers: list[Worker] = []

    def start(
        name: str,
        env: dict[str, str],
        queues: str = 'matching,detection,light',
        *options: str,
    ) -> Worker:
        log = tmp_path / f'{name}.log'
        command = [
            sys.executable, '-m', 'torchgeo_cstf.cli', 'worker',
            '--queues', queues, '--name', f'{name}@%h', '--loglevel', 'info',
            *options,
        ]  # fmt: skip
        with log.open('wb') as out:
            process = subprocess.Popen(
                command,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(name, process, log)
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivateRedis:
    """A ``redis-server`` of our own, with an append-only file, in a temp dir."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL (database 0)."""
        return f'redis://127.0.0.1:{self.port}/0'

    def start(self) -> None:
        """Start (or restart) it on the same port and directory."""
        binary = shutil.which('redis-server')
        assert binary is not None, 'redis-server is not installed'
        options = {
            '--port': str(self.port),
            '--bind': '127.0.0.1',
            '--dir': str(self.directory),
            '--appendonly': 'yes',
            '--appendfsync': 'always',
            '--save': '',
        }
        command = [binary, *(part for pair in options.items() for part in pair)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise AssertionError('private redis-server did not start')

    def kill(self) -> None:
        """kill -9 it (with appendfsync always, acknowledged writes are on disk)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private Redis server with AOF persistence."""
    server = PrivateRedis(tmp_path / 'redis', free_port())
    server.directory.mkdir()
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.kill()
