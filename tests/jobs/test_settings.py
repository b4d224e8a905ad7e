import re
import ssl
from pathlib import Path

import pytest

from torchgeo_cstf.errors import ConfigError
from torchgeo_cstf.jobs import ROUTES, JobSettings, WorkerSettings
from torchgeo_cstf.jobs.settings import ENVIRONMENT, redact


def test_defaults_and_celery_guarantees(tmp_path: Path) -> None:
    settings = JobSettings.from_env({'CSTF_ALLOWED_ROOTS': f'{tmp_path}:/data'})
    assert settings.broker_url == settings.result_backend == 'redis://127.0.0.1:6379/0'
    assert settings.allowed_roots == (tmp_path.resolve(), Path('/data'))
    config = settings.celery_config()
    assert config['accept_content'] == ['json']
    assert config['result_accept_content'] == ['json']
    assert config['task_serializer'] == config['result_serializer'] == 'json'
    assert config['task_acks_late'] is True
    assert config['task_reject_on_worker_lost'] is True
    assert config['worker_prefetch_multiplier'] == 1
    # the visibility timeout in all three places, above the hard limit
    assert config['broker_transport_options']['visibility_timeout'] == 7200
    assert config['result_backend_transport_options']['visibility_timeout'] == 7200
    assert config['visibility_timeout'] == 7200
    assert config['task_time_limit'] == 3600
    assert config['task_soft_time_limit'] == 3300
    assert config['broker_transport_options']['unacked_restore_throttle'] == 1
    assert config['task_routes']['cstf.detect'] == {'queue': 'detection'}
    assert config['task_routes']['cstf.match'] == {'queue': 'matching'}
    assert config['task_routes']['cstf.merge_chunks'] == {'queue': 'light'}
    assert set(ROUTES.values()) == {'matching', 'detection', 'light'}
    assert 'broker_use_ssl' not in config


def test_environment_overrides() -> None:
    settings = JobSettings.from_env(
        {
            'CSTF_BROKER_URL': 'redis://:s3cret@queue.example:6380/2',
            'CSTF_RESULT_BACKEND': 'redis://results.example:6379/3',
            'CSTF_TIME_LIMIT': '100',
            'CSTF_SOFT_TIME_LIMIT': '90',
            'CSTF_VISIBILITY_TIMEOUT': '150',
            'CSTF_CHUNK_TILES': '8',
            'CSTF_MAX_RETRIES': '0',
            'CSTF_ALLOWED_URL_PREFIXES': 'https://data.example.com, s3://cogs/S2',
        }
    )
    assert settings.allowed_url_prefixes == (
        'https://data.example.com/',
        's3://cogs/S2/',
    )
    assert settings.result_backend == 'redis://results.example:6379/3'
    assert (settings.time_limit, settings.soft_time_limit) == (100, 90)
    assert settings.chunk_tiles == 8 and settings.max_retries == 0
    assert redact(settings.broker_url) == 'redis://:***@queue.example:6380/2'
    assert redact(settings.result_backend) == settings.result_backend


def test_tls_urls_verify_certificates() -> None:
    settings = JobSettings.from_env(
        {
            'CSTF_BROKER_URL': 'rediss://:pw@queue.example:6380/0',
            'CSTF_REDIS_CA_CERTS': '/etc/ssl/ca.pem',
        }
    )
    config = settings.celery_config()
    expected = {'ssl_cert_reqs': ssl.CERT_REQUIRED, 'ssl_ca_certs': '/etc/ssl/ca.pem'}
    assert config['broker_use_ssl'] == expected
    assert config['redis_backend_use_ssl'] == expected
    explicit = JobSettings.from_env(
        {'CSTF_BROKER_URL': 'rediss://queue.example:6380/0?ssl_cert_reqs=required'}
    )
    assert 'broker_use_ssl' not in explicit.celery_config()


@pytest.mark.parametrize(
    ('env', 'message'),
    [
        ({'CSTF_TIME_LIMIT': 'soon'}, 'CSTF_TIME_LIMIT=.soon.: not an integer'),
        ({'CSTF_CHUNK_TILES': '0'}, 'CSTF_CHUNK_TILES=0: must be at least 1'),
        (
            {'CSTF_TIME_LIMIT': '7200'},
            'CSTF_VISIBILITY_TIMEOUT=7200 must exceed CSTF_TIME_LIMIT=7200',
        ),
        ({'CSTF_SOFT_TIME_LIMIT': '3600'}, 'SOFT_TIME_LIMIT=3600 must be below'),
        ({'CSTF_BROKER_URL': 'amqp://guest@localhost//'}, 'must be a redis://'),
        (
            {'CSTF_ALLOWED_URL_PREFIXES': 'https://ok.org/ /mnt/data'},
            "CSTF_ALLOWED_URL_PREFIXES: '/mnt/data' is not an http",
        ),
        (
            {'CSTF_RESULT_BACKEND': 'db+postgresql://u:pw@host/db'},
            r'CSTF_RESULT_BACKEND=db\+postgresql://u:\*\*\*@host/db',
        ),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        JobSettings.from_env(env)


def test_password_file_goes_into_both_urls(tmp_path: Path) -> None:
    secret = tmp_path / 'redis_password'
    secret.write_text('p@ss:w/rd\n')  # a mounted secret often ends with a newline
    settings = JobSettings.from_env(
        {
            'CSTF_BROKER_URL': 'redis://redis:6379/0',
            'CSTF_RESULT_BACKEND': 'redis://results:6379/1',
            'CSTF_REDIS_PASSWORD_FILE': str(secret),
        }
    )
    assert settings.broker_url == 'redis://:p%40ss%3Aw%2Frd@redis:6379/0'
    assert settings.result_backend == 'redis://:p%40ss%3Aw%2Frd@results:6379/1'
    assert redact(settings.broker_url) == 'redis://:***@redis:6379/0'
    # redis-py reads the escaped password back as it was written
    client = settings.broker_redis()
    assert client.connection_pool.connection_kwargs['password'] == 'p@ss:w/rd'
    client.close()
    # a password already in a URL wins; an ACL user keeps its name
    kept = JobSettings.from_env(
        {
            'CSTF_BROKER_URL': 'redis://worker:other@redis:6379/0',
            'CSTF_RESULT_BACKEND': 'redis://worker@redis:6379/1',
            'CSTF_REDIS_PASSWORD_FILE': str(secret),
        }
    )
    assert kept.broker_url == 'redis://worker:other@redis:6379/0'
    assert kept.result_backend == 'redis://worker:p%40ss%3Aw%2Frd@redis:6379/1'


def test_password_file_errors_name_the_variable(tmp_path: Path) -> None:
    empty = tmp_path / 'empty'
    empty.write_text('\n')
    for path, message in (
        (tmp_path / 'missing', 'cannot be read'),
        (empty, 'the file is empty'),
    ):
        with pytest.raises(ConfigError, match=message) as info:
            JobSettings.from_env({'CSTF_REDIS_PASSWORD_FILE': str(path)})
        assert f'CSTF_REDIS_PASSWORD_FILE={path}' in str(info.value)


def test_events_and_soft_shutdown() -> None:
    config = JobSettings.from_env(
        {'CSTF_TASK_EVENTS': 'yes', 'CSTF_SOFT_SHUTDOWN_TIMEOUT': '25'}
    ).celery_config()
    assert config['worker_send_task_events'] is True
    assert config['task_send_sent_event'] is True
    assert config['worker_soft_shutdown_timeout'] == 25.0
    default = JobSettings.from_env({}).celery_config()
    assert default['worker_send_task_events'] is False
    assert default['worker_soft_shutdown_timeout'] == 0.0
    with pytest.raises(ConfigError, match="CSTF_TASK_EVENTS='maybe': not a flag"):
        JobSettings.from_env({'CSTF_TASK_EVENTS': 'maybe'})


def test_worker_settings() -> None:
    settings = WorkerSettings.from_env(
        {
            'CSTF_DEVICE': 'cuda:1',
            'CSTF_TORCH_THREADS': '2',
            'CSTF_METRICS_PORT': '9808',
            'CSTF_HEARTBEAT_FILE': '/tmp/cstf/heartbeat',
            'CSTF_HEARTBEAT_INTERVAL': '5',
        }
    )
    assert settings.device == 'cuda:1' and settings.torch_threads == 2
    assert settings.metrics_port == 9808 and settings.heartbeat_interval == 5
    assert settings.heartbeat_file == Path('/tmp/cstf/heartbeat')
    assert WorkerSettings.from_env({}) == WorkerSettings()
    for env, message in (
        ({'CSTF_DEVICE': 'tpu'}, 'CSTF_DEVICE=tpu: use cuda'),
        ({'CSTF_METRICS_PORT': '-1'}, 'CSTF_METRICS_PORT=-1: must be at least 0'),
        ({'CSTF_HEARTBEAT_INTERVAL': 'often'}, 'not an integer'),
    ):
        with pytest.raises(ConfigError, match=message):
            WorkerSettings.from_env(env)


def test_environment_table_lists_every_variable_the_code_reads() -> None:
    root = Path(__file__).parents[2]
    sources = [*root.glob('torchgeo_cstf/**/*.py'), *root.glob('workers/*.py')]
    table = re.compile(r'^ENVIRONMENT: dict.*?^}$', re.MULTILINE | re.DOTALL)
    read = {
        name
        for path in sources
        # the table itself does not count as reading a variable
        for name in re.findall(r"'(CSTF_[A-Z_]+)'", table.sub('', path.read_text()))
    }
    # the base error code and a GeoTIFF tag, not variables
    read -= {'CSTF_ERROR', 'CSTF_IMAGERY'}
    assert read == set(ENVIRONMENT)
