"""Configuration of the job system, read from environment variables.

Clients (:mod:`torchgeo_cstf.jobs`) and workers (:mod:`workers`) build their
Celery applications from the same :class:`JobSettings`, so both sides agree
on the broker, the serializer, the queues and the routes.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from ..errors import ConfigError
from ..remote import url_prefix

#: queue of each task, by task name
ROUTES = {
    'cstf.match': 'matching',
    'cstf.pipeline': 'matching',
    'cstf.detect': 'detection',
    'cstf.detect_chunk': 'detection',
    'cstf.merge_chunks': 'light',
    'cstf.ping': 'light',
}
#: every queue, GPU work first
QUEUES = ('matching', 'detection', 'light')
#: the queues whose jobs run models (a GPU each in a deployment)
GPU_QUEUES = ('matching', 'detection')

#: every environment variable the job system reads, and what it sets; the
#: deploy files are checked against this table (tests/deploy)
ENVIRONMENT: dict[str, str] = {
    'CSTF_BROKER_URL': 'Redis broker URL (redis:// or rediss://)',
    'CSTF_RESULT_BACKEND': 'Redis for results, progress and job markers',
    'CSTF_REDIS_PASSWORD_FILE': 'file holding the Redis password (put into both URLs)',
    'CSTF_REDIS_CA_CERTS': 'CA bundle that verifies a rediss:// server',
    'CSTF_ALLOWED_ROOTS': 'directories jobs may read and write',
    'CSTF_ALLOWED_URL_PREFIXES': 'URL prefixes of inputs read over the network',
    'CSTF_VISIBILITY_TIMEOUT': 'seconds before an unacknowledged message is redelivered',
    'CSTF_SOFT_TIME_LIMIT': 'seconds before a job is asked to stop',
    'CSTF_TIME_LIMIT': 'seconds before the process running a job is killed',
    'CSTF_RESULT_EXPIRES': 'seconds results, progress and markers are kept',
    'CSTF_MAX_RETRIES': 'retries of a job hit by a transient error',
    'CSTF_RETRY_BACKOFF': 'first retry delay in seconds (doubled each time)',
    'CSTF_CHUNK_TILES': 'tiles per detection chunk',
    'CSTF_RESTORE_INTERVAL': "seconds between sweeps for a dead worker's messages",
    'CSTF_SOFT_SHUTDOWN_TIMEOUT': "Celery's worker_soft_shutdown_timeout (cold shutdown)",
    'CSTF_TASK_EVENTS': '1: workers send task events (Flower)',
    'CSTF_DEVICE': 'device of the worker jobs (cuda, cpu)',
    'CSTF_TORCH_THREADS': 'torch CPU threads per worker process',
    'CSTF_METRICS_PORT': "port of the worker's Prometheus metrics (0: none)",
    'CSTF_HEARTBEAT_FILE': "file the worker's consumer touches (liveness probe)",
    'CSTF_HEARTBEAT_INTERVAL': 'seconds between heartbeats',
}


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, '').strip().lower()
    if text in ('', '0', 'false', 'no', 'off'):
        return False
    if text in ('1', 'true', 'yes', 'on'):
        return True
    raise ConfigError(f'{name}={text!r}: not a flag (use 1 or 0)')


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    text = env.get(name)
    if text is None or text == '':
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f'{name}={text!r}: not an integer') from None
    if value < minimum:
        raise ConfigError(f'{name}={value}: must be at least {minimum}')
    return value


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` as its password (one already there is kept)."""
    parts = urlsplit(url)
    if parts.password is not None or not password:
        return url
    user, _, host = parts.netloc.rpartition('@')  # user as written (escaped)
    netloc = f'{user}:{quote(password, safe="")}@{host}'
    return urlunsplit(parts._replace(netloc=netloc))


def read_password(path: str) -> str:
    """The password in ``path`` (``CSTF_REDIS_PASSWORD_FILE``), without line ends.

    Raises:
        ConfigError: the file cannot be read or is empty.
    """
    try:
        text = Path(path).read_text().strip('\r\n')
    except OSError as err:
        raise ConfigError(
            f'CSTF_REDIS_PASSWORD_FILE={path}: cannot be read ({err.strerror})'
        ) from None
    if not text:
        raise ConfigError(f'CSTF_REDIS_PASSWORD_FILE={path}: the file is empty')
    return text


def redact(url: str) -> str:
    """A broker or backend URL with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f':{parts.password}@', ':***@', 1)
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class JobSettings:
    """Settings shared by job clients and workers.

    Each attribute comes from the environment variable named in brackets.

    Attributes:
        broker_url: Redis broker, ``redis://[:PASSWORD@]HOST:PORT/DB`` or
            ``rediss://`` for TLS (``CSTF_BROKER_URL``, default
            ``redis://127.0.0.1:6379/0``).
        result_backend: where results, progress and job markers live; must be
            Redis (``CSTF_RESULT_BACKEND``, default the broker).
        allowed_roots: the only directories jobs may read from or write to
            (``CSTF_ALLOWED_ROOTS``, ``os.pathsep``-separated; default the
            current directory).
        allowed_url_prefixes: the only ``http(s)://`` and ``s3://`` prefixes
            job inputs may be read from over the network
            (``CSTF_ALLOWED_URL_PREFIXES``, separated by spaces or commas;
            default none: local and mounted files only).
        visibility_timeout: seconds a reserved message may stay unacknowledged
            before Redis hands it to another worker; must exceed
            ``time_limit`` (``CSTF_VISIBILITY_TIMEOUT``, default 7200).
        soft_time_limit: seconds after which a job is asked to stop and fails
            with ``TIME_LIMIT`` (``CSTF_SOFT_TIME_LIMIT``, default 3300).
        time_limit: seconds after which the process running a job is killed
            (``CSTF_TIME_LIMIT``, default 3600).
        result_expires: seconds results, progress and job markers are kept
            (``CSTF_RESULT_EXPIRES``, default 7 days).
        max_retries: retries of a job hit by a transient error (I/O, broken
            connection), with exponential backoff (``CSTF_MAX_RETRIES``, 3).
        retry_backoff: first retry delay in seconds, doubled each time
            (``CSTF_RETRY_BACKOFF``, default 5).
        chunk_tiles: tiles per detection sub-task; larger scenes fan out
            into chunks merged by a chord callback (``CSTF_CHUNK_TILES``, 16).
        restore_interval: seconds between the sweeps that give messages of a
            dead worker to others once ``visibility_timeout`` has passed
            (``CSTF_RESTORE_INTERVAL``, default 10).
        ca_certs: CA bundle to verify a ``rediss://`` server with
            (``CSTF_REDIS_CA_CERTS``; default the system's).
        task_events: workers send task events, which Flower's task views
            need (``CSTF_TASK_EVENTS``, default off: less broker traffic).
        soft_shutdown_timeout: seconds a *cold* shutdown (SIGQUIT) lets the
            running job go on before it is stopped and its message put back
            at once (Celery's ``worker_soft_shutdown_timeout``;
            ``CSTF_SOFT_SHUTDOWN_TIMEOUT``, default 0: off). SIGTERM is a warm
            shutdown, which always lets the job finish.

    ``CSTF_REDIS_PASSWORD_FILE`` names a file holding the Redis password
    (a mounted secret); it is put into both URLs, so the password never
    appears in the environment or in a command line.
    """

    broker_url: str = 'redis://127.0.0.1:6379/0'
    result_backend: str = 'redis://127.0.0.1:6379/0'
    allowed_roots: tuple[Path, ...] = field(default_factory=lambda: (Path.cwd(),))
    allowed_url_prefixes: tuple[str, ...] = ()
    visibility_timeout: int = 7200
    soft_time_limit: int = 3300
    time_limit: int = 3600
    result_expires: int = 7 * 86400
    max_retries: int = 3
    retry_backoff: int = 5
    chunk_tiles: int = 16
    restore_interval: int = 10
    ca_certs: str | None = None
    task_events: bool = False
    soft_shutdown_timeout: int = 0

    def __post_init__(self) -> None:
        """Check that the limits are consistent."""
        for name, url in (
            ('CSTF_BROKER_URL', self.broker_url),
            ('CSTF_RESULT_BACKEND', self.result_backend),
        ):
            if urlsplit(url).scheme not in ('redis', 'rediss'):
                raise ConfigError(
                    f'{name}={redact(url)}: must be a redis:// or rediss:// URL'
                )
        if self.soft_time_limit >= self.time_limit:
            raise ConfigError(
                f'CSTF_SOFT_TIME_LIMIT={self.soft_time_limit} must be below '
                f'CSTF_TIME_LIMIT={self.time_limit}'
            )
        if self.visibility_timeout <= self.time_limit:
            raise ConfigError(
                f'CSTF_VISIBILITY_TIMEOUT={self.visibility_timeout} must exceed '
                f'CSTF_TIME_LIMIT={self.time_limit}: a longer job would be '
                'delivered twice while it runs'
            )
        if not self.allowed_roots:
            raise ConfigError('CSTF_ALLOWED_ROOTS: names no directory')
        object.__setattr__(
            self,
            'allowed_url_prefixes',
            tuple(url_prefix(prefix) for prefix in self.allowed_url_prefixes),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> JobSettings:
        """Settings from environment variables (see the class docstring).

        Args:
            env: the environment (default ``os.environ``).

        Returns:
            The settings.

        Raises:
            ConfigError: a malformed or inconsistent variable.
        """
        env = os.environ if env is None else env
        broker = env.get('CSTF_BROKER_URL') or cls.broker_url
        backend = env.get('CSTF_RESULT_BACKEND') or broker
        password_file = env.get('CSTF_REDIS_PASSWORD_FILE')
        if password_file:
            password = read_password(password_file)
            broker = with_password(broker, password)
            backend = with_password(backend, password)
        roots = env.get('CSTF_ALLOWED_ROOTS', '')
        return cls(
            broker_url=broker,
            result_backend=backend,
            allowed_roots=tuple(
                Path(part).expanduser().resolve()
                for part in roots.split(os.pathsep)
                if part
            )
            or (Path.cwd().resolve(),),
            allowed_url_prefixes=tuple(
                env.get('CSTF_ALLOWED_URL_PREFIXES', '').replace(',', ' ').split()
            ),
            visibility_timeout=_int(
                env, 'CSTF_VISIBILITY_TIMEOUT', cls.visibility_timeout
            ),
            soft_time_limit=_int(env, 'CSTF_SOFT_TIME_LIMIT', cls.soft_time_limit),
            time_limit=_int(env, 'CSTF_TIME_LIMIT', cls.time_limit),
            result_expires=_int(env, 'CSTF_RESULT_EXPIRES', cls.result_expires),
            max_retries=_int(env, 'CSTF_MAX_RETRIES', cls.max_retries, minimum=0),
            retry_backoff=_int(env, 'CSTF_RETRY_BACKOFF', cls.retry_backoff),
            chunk_tiles=_int(env, 'CSTF_CHUNK_TILES', cls.chunk_tiles),
            restore_interval=_int(env, 'CSTF_RESTORE_INTERVAL', cls.restore_interval),
            ca_certs=env.get('CSTF_REDIS_CA_CERTS') or None,
            task_events=_flag(env, 'CSTF_TASK_EVENTS'),
            soft_shutdown_timeout=_int(
                env, 'CSTF_SOFT_SHUTDOWN_TIMEOUT', cls.soft_shutdown_timeout, 0
            ),
        )

    def _ssl(self, url: str) -> dict[str, Any] | None:
        """TLS options for a ``rediss://`` URL without ``ssl_cert_reqs``."""
        parts = urlsplit(url)
        if parts.scheme != 'rediss' or 'ssl_cert_reqs' in parse_qs(parts.query):
            return None
        options: dict[str, Any] = {'ssl_cert_reqs': ssl.CERT_REQUIRED}
        if self.ca_certs:
            options['ssl_ca_certs'] = self.ca_certs
        return options

    def broker_redis(self) -> Any:
        """A ``redis.Redis`` client of the broker's database (TLS as Celery's)."""
        import redis

        return redis.Redis.from_url(
            self.broker_url, **(self._ssl(self.broker_url) or {})
        )

    def celery_config(self) -> dict[str, Any]:
        """The Celery configuration of clients and workers.

        JSON only (pickle refused), late acknowledgement, re-queue when the
        worker process dies, one message reserved per process, and the Redis
        visibility timeout set in the three places Celery reads it.

        Returns:
            Keys for ``app.conf.update``.
        """
        transport = {
            'visibility_timeout': self.visibility_timeout,
            'unacked_restore_interval': self.restore_interval,
            'unacked_restore_throttle': 1,
        }
        config: dict[str, Any] = {
            'broker_url': self.broker_url,
            'result_backend': self.result_backend,
            'task_serializer': 'json',
            'result_serializer': 'json',
            'accept_content': ['json'],
            'result_accept_content': ['json'],
            'task_acks_late': True,
            'task_reject_on_worker_lost': True,
            'worker_prefetch_multiplier': 1,
            'task_track_started': True,
            'broker_transport_options': transport,
            'result_backend_transport_options': {
                'visibility_timeout': self.visibility_timeout
            },
            'visibility_timeout': self.visibility_timeout,
            'task_soft_time_limit': self.soft_time_limit,
            'task_time_limit': self.time_limit,
            'result_expires': self.result_expires,
            'task_default_queue': 'light',
            'task_create_missing_queues': True,
            'task_routes': {name: {'queue': queue} for name, queue in ROUTES.items()},
            'broker_connection_retry_on_startup': True,
            # a result stored while Redis restarts waits for it, not lost
            'result_backend_always_retry': True,
            'result_backend_max_retries': 60,
            'worker_hijack_root_logger': False,
            'worker_send_task_events': self.task_events,
            'task_send_sent_event': self.task_events,
            'worker_soft_shutdown_timeout': float(self.soft_shutdown_timeout),
        }
        broker_ssl = self._ssl(self.broker_url)
        if broker_ssl is not None:
            config['broker_use_ssl'] = broker_ssl
        backend_ssl = self._ssl(self.result_backend)
        if backend_ssl is not None:
            config['redis_backend_use_ssl'] = backend_ssl
        return config


@dataclass(frozen=True)
class WorkerSettings:
    """What only a worker process reads from the environment.

    Attributes:
        device: device of the jobs (``CSTF_DEVICE``; default ``cuda`` when
            present, else ``cpu``).
        torch_threads: torch CPU threads per process (``CSTF_TORCH_THREADS``;
            default torch's own).
        metrics_port: port of the worker's Prometheus metrics, served by the
            main process for all pool processes (``CSTF_METRICS_PORT``;
            0: none).
        heartbeat_file: file the worker's consumer touches every
            ``heartbeat_interval`` seconds and marks ready or stopping; read
            by ``python -m workers.probe`` (``CSTF_HEARTBEAT_FILE``; none by
            default).
        heartbeat_interval: seconds between heartbeats
            (``CSTF_HEARTBEAT_INTERVAL``, default 10).
    """

    device: str | None = None
    torch_threads: int | None = None
    metrics_port: int = 0
    heartbeat_file: Path | None = None
    heartbeat_interval: int = 10

    def __post_init__(self) -> None:
        """Check the port and the device."""
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigError(f'CSTF_METRICS_PORT={self.metrics_port}: not a port')
        if self.device is not None and self.device.split(':')[0] not in (
            'cpu',
            'cuda',
            'mps',
        ):
            raise ConfigError(f'CSTF_DEVICE={self.device}: use cuda, cuda:N or cpu')

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        """Worker settings from environment variables (see the class docstring).

        Raises:
            ConfigError: a malformed variable.
        """
        env = os.environ if env is None else env
        threads = env.get('CSTF_TORCH_THREADS')
        heartbeat = env.get('CSTF_HEARTBEAT_FILE')
        return cls(
            device=env.get('CSTF_DEVICE') or None,
            torch_threads=_int(env, 'CSTF_TORCH_THREADS', 1) if threads else None,
            metrics_port=_int(env, 'CSTF_METRICS_PORT', 0, minimum=0),
            heartbeat_file=Path(heartbeat) if heartbeat else None,
            heartbeat_interval=_int(
                env, 'CSTF_HEARTBEAT_INTERVAL', cls.heartbeat_interval
            ),
        )
