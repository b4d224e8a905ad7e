"""deploy/compose.yaml: the compose specification and the code's interface."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / 'deploy'
COMPOSE = DEPLOY / 'compose.yaml'
PROMETHEUS = DEPLOY / 'prometheus' / 'prometheus.yml'

_DURATION = re.compile(r'(\d+(?:\.\d+)?)(ns|us|ms|h|m|s)')
_UNIT = {'h': 3600.0, 'm': 60.0, 's': 1.0, 'ms': 1e-3, 'us': 1e-6, 'ns': 1e-9}


def seconds(duration: str | int) -> float:
    """A compose duration (``1h5m``, ``90s``) in seconds."""
    text = str(duration)
    if text.isdigit():
        return float(text)
    parts = _DURATION.findall(text)
    assert parts and ''.join(a + b for a, b in parts) == text, f'bad duration {text}'
    return sum(float(number) * _UNIT[unit] for number, unit in parts)


def check_compose_spec(path: Path) -> subprocess.CompletedProcess[str]:
    """Validate a compose file against the compose specification (vendored)."""
    return subprocess.run(
        [
            sys.executable,
            '-m',
            'check_jsonschema',
            '--builtin-schema',
            'vendor.compose-spec',
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope='module')
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope='module')
def services(compose: dict) -> dict[str, dict]:
    return compose['services']


@pytest.fixture(scope='module')
def workers(services, worker_queues) -> dict[str, tuple[str, ...]]:
    """Worker services and the queues each consumes."""
    found = {}
    for name, service in services.items():
        queues = worker_queues(service.get('command') or [])
        if queues is not None:
            found[name] = queues
    assert found, 'no `cstf worker` service'
    return found


def environment(service: dict) -> dict[str, str]:
    env = service.get('environment') or {}
    assert isinstance(env, dict), 'environment: use the mapping form'
    return {key: str(value) for key, value in env.items()}


def test_compose_spec() -> None:
    done = check_compose_spec(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_spec_check_sees_merged_anchors(tmp_path: Path) -> None:
    # a key the spec does not know, put into the anchor the workers merge:
    # the validator must see it through `<<:`
    text = COMPOSE.read_text()
    anchor = 'x-worker: &worker\n'
    assert anchor in text
    broken = tmp_path / 'compose.yaml'
    broken.write_text(text.replace(anchor, anchor + '  stop_grace: 65m\n'))
    done = check_compose_spec(broken)
    assert done.returncode != 0
    assert 'stop_grace' in done.stdout + done.stderr


def test_cstf_variables_are_read_by_the_code(compose, services, settings) -> None:
    known = set(settings.ENVIRONMENT)
    shared = compose['x-cstf-env']
    assert set(shared) <= known, sorted(set(shared) - known)
    for name, service in services.items():
        env = environment(service)
        unknown = {key for key in env if key.startswith('CSTF_')} - known
        assert not unknown, f'{name}: variables the code does not read: {unknown}'
        if any(key.startswith('CSTF_') for key in env):
            # the shared block is merged whole, not copied in part
            missing = set(shared) - set(env)
            assert not missing, f'{name}: does not merge x-cstf-env: {missing}'


def test_worker_commands(services, workers, parse_cstf, settings) -> None:
    for name, queues in workers.items():
        args = parse_cstf(services[name]['command'])
        assert set(queues) <= set(settings.QUEUES), f'{name}: {queues}'
        assert len(queues) == len(set(queues)), f'{name}: {queues}'
        assert args.pool == 'prefork', name
        assert args.concurrency == 1, f'{name}: one job per worker (GPU memory)'
        assert args.name and args.name.endswith('@%h'), f'{name}: {args.name}'
        metrics_port = environment(services[name])['CSTF_METRICS_PORT']
        assert args.metrics_port == int(metrics_port), name


def test_every_queue_has_a_worker(workers, settings) -> None:
    consumed = {queue for queues in workers.values() for queue in queues}
    assert consumed == set(settings.QUEUES)


def test_gpus_exactly_on_gpu_queues(services, workers, settings) -> None:
    for name, service in services.items():
        devices = (
            service.get('deploy', {})
            .get('resources', {})
            .get('reservations', {})
            .get('devices', [])
        )
        gpu = [d for d in devices if 'gpu' in d.get('capabilities', [])]
        wants_gpu = bool(set(workers.get(name, ())) & set(settings.GPU_QUEUES))
        assert bool(gpu) == wants_gpu, f'{name}: GPU reservation {devices}'
        if wants_gpu:
            (device,) = gpu
            assert device['driver'] == 'nvidia'
            assert device.get('count') == 1 or len(device.get('device_ids', [])) == 1
            assert environment(service).get('CSTF_DEVICE') == 'cuda', name
            assert 'gpu' in service['image'], f'{name}: not the GPU image'
        elif name in workers:
            assert environment(service).get('CSTF_DEVICE') == 'cpu', name


def test_health_checks(services, workers) -> None:
    for name, service in services.items():
        check = service.get('healthcheck')
        assert check and not check.get('disable'), f'{name}: no health check'
        assert check.get('test'), name
        if name in workers:
            assert check['test'][:4] == ['CMD', 'python', '-m', 'workers.probe'], name
            assert '--max-age' in check['test'], name
            assert seconds(check['start_period']) >= 60, f'{name}: torch import'


def test_redis_persistence_and_password(services) -> None:
    redis = services['redis']
    command = ' '.join(redis['command'])
    assert '--appendonly yes' in command
    assert '--appendfsync everysec' in command
    assert 'noeviction' in command
    # the password comes from the secret file, never inline
    assert 'requirepass $$(cat /run/secrets/redis_password)' in command
    assert re.findall(r'requirepass\s+(\S+)', command) == ['$$(cat']
    assert 'redis_password' in redis['secrets']
    test = ' '.join(redis['healthcheck']['test'])
    assert 'REDISCLI_AUTH="$$(cat /run/secrets/redis_password)"' in test
    assert 'redis-cli' in test


def test_stop_grace_period_exceeds_time_limit(compose, services, workers) -> None:
    shared = compose['x-cstf-env']
    limit = int(shared['CSTF_TIME_LIMIT'])
    assert int(shared['CSTF_SOFT_TIME_LIMIT']) < limit
    assert int(shared['CSTF_VISIBILITY_TIMEOUT']) > limit
    for name in workers:
        env = environment(services[name])
        assert int(env['CSTF_TIME_LIMIT']) == limit, name
        grace = seconds(services[name]['stop_grace_period'])
        assert grace > limit, f'{name}: stop_grace_period {grace} s <= {limit} s'


def test_password_only_from_the_secret(compose, services) -> None:
    secret = compose['secrets']['redis_password']
    assert set(secret) == {'file'}, 'a file secret, not an environment value'
    path = (COMPOSE.parent / secret['file']).resolve()
    ignored = subprocess.run(
        ['git', 'check-ignore', '-q', str(path.relative_to(REPO))],
        cwd=REPO,
        check=False,
    )
    assert ignored.returncode == 0, f'{path} is not gitignored'
    for name, service in services.items():
        env = environment(service)
        for key, value in env.items():
            if re.search('PASSWORD|SECRET|TOKEN', key) and not key.endswith('_FILE'):
                pytest.fail(f'{name}: {key} holds a secret in the environment')
            if key in ('CSTF_BROKER_URL', 'CSTF_RESULT_BACKEND'):
                assert '@' not in value, f'{name}: {key} has credentials'
        if 'CSTF_REDIS_PASSWORD_FILE' in env:
            assert env['CSTF_REDIS_PASSWORD_FILE'] == '/run/secrets/redis_password'
            assert 'redis_password' in service.get('secrets', []), name
    assert 'requirepass' not in yaml.safe_dump(compose['x-cstf-env'])
    assert not re.search(r'\w+://[^/\s@:]*:[^/\s@]+@', COMPOSE.read_text())


def test_broker_services_wait_for_redis(services) -> None:
    for name, service in services.items():
        if 'CSTF_BROKER_URL' not in environment(service):
            continue
        depends = service.get('depends_on') or {}
        assert depends.get('redis', {}).get('condition') == 'service_healthy', name


def test_restart_policies(services) -> None:
    for name, service in services.items():
        assert service.get('restart') in ('unless-stopped', 'always'), name


def test_images_pinned_and_built_from_the_dockerfiles(
    services, compose_interpolate
) -> None:
    for name, service in services.items():
        image = compose_interpolate(service['image'])
        repository, _, tag = image.rpartition(':')
        assert repository and re.search(r'\d', tag), f'{name}: {image} not pinned'
        assert tag != 'latest'
        build = service.get('build')
        if build:
            context = (COMPOSE.parent / build['context']).resolve()
            assert context == REPO, f'{name}: build context {context}'
            assert (context / build['dockerfile']).is_file(), name
            kind = 'gpu' if 'gpu' in build['dockerfile'] else 'cpu'
            assert kind in tag, f'{name}: {image} built from {build["dockerfile"]}'


def test_data_volume(services, workers) -> None:
    for name in workers:
        volumes = services[name]['volumes']
        assert any(str(v).endswith(':/data') for v in volumes), name


def test_prometheus_scrapes_every_worker_service(services, workers) -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {job['job_name']: job for job in config['scrape_configs']}
    (dns,) = jobs['cstf-workers']['dns_sd_configs']
    assert dns['type'] == 'A', 'A records: one per --scale replica'
    assert set(dns['names']) == set(workers)
    for name in workers:
        assert dns['port'] == int(environment(services[name])['CSTF_METRICS_PORT'])
    targets = {
        target
        for job in jobs.values()
        for static in job.get('static_configs', [])
        for target in static['targets']
    }
    assert 'queue-metrics:9809' in targets
    assert 'flower:5555' in targets
    assert services['queue-metrics']['command'][:2] == ['cstf', 'queue-metrics']
    assert '9809' in services['queue-metrics']['command']
    assert '--port=5555' in services['flower']['command']
    # the rule file Prometheus loads is the one mounted from deploy/prometheus
    mounts = services['prometheus']['volumes']
    assert './prometheus:/etc/prometheus:ro' in mounts
    for rule_file in config['rule_files']:
        relative = Path(rule_file).relative_to('/etc/prometheus')
        assert (PROMETHEUS.parent / relative).is_file(), rule_file


def test_lost_jobs_are_recovered_by_one_service(services, parse_cstf) -> None:
    recovering = {
        name: parse_cstf(service['command'])
        for name, service in services.items()
        if service.get('command', [])[:2] == ['cstf', 'recover']
    }
    assert list(recovering) == ['recover']
    args = recovering['recover']
    assert args.every and not args.dry_run  # a service that queues them again
    service = services['recover']
    assert 'deploy' not in service or service['deploy'].get('replicas', 1) == 1
    # its health check reads the heartbeat each look renews: older than three looks fails
    check = service['healthcheck']['test']
    assert check[:4] == ['CMD', 'python', '-m', 'workers.probe'], check
    max_age = float(check[check.index('--max-age') + 1])
    assert args.every < max_age <= 3 * args.every
    assert environment(service)['CSTF_HEARTBEAT_FILE']
