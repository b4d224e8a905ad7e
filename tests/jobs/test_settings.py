import ssl
from pathlib import Path

import pytest

from torchgeo_cstf.errors import ConfigError
from torchgeo_cstf.jobs import ROUTES, JobSettings
from torchgeo_cstf.jobs.settings import redact


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
    assert config['task_routes']['cstf.merge_detections'] == {'queue': 'light'}
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
        }
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
            {'CSTF_RESULT_BACKEND': 'db+postgresql://u:pw@host/db'},
            r'CSTF_RESULT_BACKEND=db\+postgresql://u:\*\*\*@host/db',
        ),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        JobSettings.from_env(env)
