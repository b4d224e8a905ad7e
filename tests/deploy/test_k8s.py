"""deploy/k8s: rendered with kustomize, validated, and checked against the code."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / 'deploy' / 'k8s'
#: what the tests render with `kubectl kustomize`: the base and every overlay
K8S_TARGETS = ('base', 'overlays/cpu', 'overlays/gpu', 'overlays/gpu-external-redis')
#: the Kubernetes version the core objects are validated against
KUBERNETES_VERSION = '1.31'
SCHEMAS = Path(__file__).parent / 'schemas' / 'keda'
KEDA_SCHEMAS = {
    'ScaledObject': SCHEMAS / 'scaledobject.json',
    'TriggerAuthentication': SCHEMAS / 'triggerauthentication.json',
}
GPU = 'nvidia.com/gpu'
#: environment variables other than CSTF_* the manifests may set
OTHER_ENV: set[str] = set()
SECRET_NAME = re.compile('PASSWORD|SECRET|TOKEN', re.IGNORECASE)
CREDENTIALS_IN_URL = re.compile(r'\w+://[^/\s@:]*:[^/\s@]+@')

targets = pytest.mark.parametrize('target', K8S_TARGETS)


# --- helpers ---------------------------------------------------------------


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o['kind'] == kind]


def named(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o['metadata']['name']: o for o in of_kind(objects, kind)}


def settings_map(objects: list[dict]) -> dict[str, str]:
    (config,) = [
        o
        for o in of_kind(objects, 'ConfigMap')
        if o['metadata']['name'].startswith('cstf-settings')
    ]
    return config['data']


def argv(container: dict) -> list[str]:
    return [str(a) for a in container.get('command', []) + container.get('args', [])]


def pod_specs(objects: list[dict]) -> list[tuple[dict, dict]]:
    """(workload, pod template) of every Deployment and StatefulSet."""
    return [
        (o, o['spec']['template'])
        for o in objects
        if o['kind'] in ('Deployment', 'StatefulSet')
    ]


def workers(objects: list[dict], worker_queues) -> dict[str, tuple[dict, tuple]]:
    """Worker Deployments: name -> (Deployment, queues of its worker container)."""
    found = {}
    for deployment in of_kind(objects, 'Deployment'):
        for container in deployment['spec']['template']['spec']['containers']:
            queues = worker_queues(argv(container))
            if queues is not None:
                found[deployment['metadata']['name']] = (deployment, queues)
    return found


def worker_container(deployment: dict) -> dict:
    (container,) = [
        c
        for c in deployment['spec']['template']['spec']['containers']
        if argv(c)[:2] == ['cstf', 'worker']
    ]
    return container


def keda_errors(document: dict) -> list[str]:
    schema = json.loads(KEDA_SCHEMAS[document['kind']].read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [
        f'{"/".join(map(str, e.absolute_path))}: {e.message}'
        for e in validator.iter_errors(document)
    ]


# --- schemas ---------------------------------------------------------------


@targets
def test_core_objects_valid(kustomize, target) -> None:
    objects = kustomize(target)
    checked = 0
    for document in objects:
        if document['apiVersion'].startswith('keda.sh/'):
            continue
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 10


def test_strict_validation_catches_a_typo(kustomize) -> None:
    deployment = copy.deepcopy(named(kustomize('base'), 'Deployment'))
    deployment = deployment['cstf-worker-light']
    container = deployment['spec']['template']['spec']['containers'][0]
    container['livenesProbe'] = container.pop('livenessProbe')
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@targets
def test_keda_objects_valid(kustomize, target) -> None:
    objects = kustomize(target)
    keda = [o for o in objects if o['apiVersion'].startswith('keda.sh/')]
    assert {o['kind'] for o in keda} == set(KEDA_SCHEMAS)
    for document in keda:
        assert document['apiVersion'] == 'keda.sh/v1alpha1'
        assert keda_errors(document) == [], document['metadata']['name']


def test_keda_schema_rejects_an_integer_metadata_value(tmp_path: Path) -> None:
    # a broken copy of the base's ScaledObjects: listLength as an integer
    source = (K8S / 'base' / 'keda.yaml').read_text()
    assert 'listLength: "1"' in source
    broken = tmp_path / 'keda.yaml'
    broken.write_text(source.replace('listLength: "1"', 'listLength: 1'))
    documents = [d for d in yaml.safe_load_all(broken.read_text()) if d]
    scaled = [d for d in documents if d['kind'] == 'ScaledObject']
    assert scaled
    for document in scaled:
        errors = keda_errors(document)
        assert any('listLength' in e and "is not of type 'string'" in e for e in errors)


# --- KEDA against the workers ----------------------------------------------


@targets
def test_scaled_objects_follow_the_queues(
    kustomize, worker_queues, settings, target
) -> None:
    objects = kustomize(target)
    found = workers(objects, worker_queues)
    scaled: dict[str, str] = {}
    for scaled_object in of_kind(objects, 'ScaledObject'):
        name = scaled_object['metadata']['name']
        spec = scaled_object['spec']
        ref = spec['scaleTargetRef']
        assert ref.get('kind', 'Deployment') == 'Deployment', name
        assert ref['name'] in found, f'{name}: no worker Deployment {ref["name"]}'
        _, queues = found[ref['name']]
        assert len(queues) == 1, f'{ref["name"]} scales on one queue, eats {queues}'
        (queue,) = queues
        by_type = {t['type']: t for t in spec['triggers']}
        assert set(by_type) == {'prometheus', 'redis'}, name
        for trigger in spec['triggers']:
            for key, value in trigger['metadata'].items():
                assert isinstance(value, str), f'{name}: {key}={value!r}'
        redis = by_type['redis']['metadata']
        assert redis['listName'] == queue, name
        assert redis['activationListLength'] == '0', name
        assert int(redis['listLength']) >= 1
        query = by_type['prometheus']['metadata']['query']
        match = re.fullmatch(r'max\(cstf_queue_depth\{queue="(\w+)"\}\)', query)
        assert match, f'{name}: query {query}'
        assert match.group(1) == queue, name
        assert re.match(
            r'https?://', by_type['prometheus']['metadata']['serverAddress']
        )
        assert by_type['prometheus']['metadata']['ignoreNullValues'] == 'false'
        assert queue not in scaled.values(), f'{queue} scaled twice'
        scaled[name] = queue
        minimum, maximum = spec['minReplicaCount'], spec['maxReplicaCount']
        assert maximum >= max(minimum, 1)
        if queue not in settings.GPU_QUEUES:
            # light runs the chord callbacks: never wait for a cold start
            assert minimum >= 1, name
        assert spec['cooldownPeriod'] > 0 and spec['pollingInterval'] > 0
    assert set(scaled.values()) == set(settings.QUEUES)
    assert set(found) == {
        so['spec']['scaleTargetRef']['name'] for so in of_kind(objects, 'ScaledObject')
    }


@pytest.mark.parametrize(
    'target', [t for t in K8S_TARGETS if (K8S / t / 'prometheus-address.yaml').exists()]
)
def test_overlays_set_the_prometheus_address(kustomize, target) -> None:
    (patch,) = yaml.safe_load((K8S / target / 'prometheus-address.yaml').read_text())
    assert patch['path'] == '/spec/triggers/0/metadata/serverAddress'
    for scaled_object in of_kind(kustomize(target), 'ScaledObject'):
        trigger = scaled_object['spec']['triggers'][0]
        assert trigger['type'] == 'prometheus'
        assert trigger['metadata']['serverAddress'] == patch['value']


@targets
def test_trigger_authentication(kustomize, target) -> None:
    objects = kustomize(target)
    auths = named(objects, 'TriggerAuthentication')
    for scaled_object in of_kind(objects, 'ScaledObject'):
        for trigger in scaled_object['spec']['triggers']:
            if trigger['type'] != 'redis':
                continue
            assert 'password' not in trigger['metadata']
            auth = auths[trigger['authenticationRef']['name']]
            refs = {r['parameter']: r for r in auth['spec']['secretTargetRef']}
            assert refs['password']['name'] == 'cstf-redis'
            assert refs['password']['key'] == 'password'


@targets
def test_redis_trigger_reaches_the_redis_service(kustomize, target) -> None:
    objects = kustomize(target)
    if not of_kind(objects, 'StatefulSet'):
        pytest.skip(f'{target}: Redis is outside the cluster')
    services = named(objects, 'Service')
    for scaled_object in of_kind(objects, 'ScaledObject'):
        (redis,) = [
            t for t in scaled_object['spec']['triggers'] if t['type'] == 'redis'
        ]
        host, port = redis['metadata']['address'].rsplit(':', 1)
        # KEDA runs in another namespace: the full name of a Service here
        service, namespace, *_ = host.split('.')
        assert namespace == scaled_object['metadata']['namespace']
        assert service in services
        assert int(port) in {p['port'] for p in services[service]['spec']['ports']}


@targets
def test_keda_owns_the_worker_replicas(kustomize, worker_queues, target) -> None:
    for name, (deployment, _) in workers(kustomize(target), worker_queues).items():
        assert 'replicas' not in deployment['spec'], (
            f'{name}: `replicas` would reset the KEDA-managed count on every apply'
        )


# --- GPUs --------------------------------------------------------------------


@targets
def test_gpus_exactly_on_gpu_queues(kustomize, worker_queues, settings, target) -> None:
    objects = kustomize(target)
    gpu_overlay = target.startswith('overlays/gpu')
    found = workers(objects, worker_queues)
    assert set(settings.GPU_QUEUES) <= {q for _, qs in found.values() for q in qs}
    for _, template in pod_specs(objects):
        spec = template['spec']
        name = template['metadata']['labels'].get('app.kubernetes.io/component')
        for container in spec['containers']:
            limits = container.get('resources', {}).get('limits', {})
            requests = container.get('resources', {}).get('requests', {})
            queues = worker_queues(argv(container)) or ()
            wants_gpu = gpu_overlay and bool(set(queues) & set(settings.GPU_QUEUES))
            assert (GPU in limits) == wants_gpu, f'{target} {name}: {limits}'
            assert GPU not in requests or requests[GPU] == limits.get(GPU)
            env = {e['name']: e.get('value') for e in container.get('env', [])}
            image_tag = container['image'].rpartition(':')[2]
            if wants_gpu:
                assert int(limits[GPU]) == 1
                assert env.get('CSTF_DEVICE') == 'cuda'
                assert 'gpu' in image_tag, container['image']
                assert any(
                    t.get('key') == GPU and t.get('operator') == 'Exists'
                    for t in spec.get('tolerations', [])
                )
                assert spec.get('nodeSelector'), 'GPU nodes only'
            else:
                assert 'gpu' not in image_tag, f'{target}: {container["image"]}'
                assert env.get('CSTF_DEVICE', 'cpu') == 'cpu'
        if not gpu_overlay:
            assert GPU not in json.dumps(spec), f'{target}: GPU settings in {name}'
    assert settings_map(objects)['CSTF_DEVICE'] == 'cpu'


# --- settings ------------------------------------------------------------------


@targets
def test_time_limits_and_grace_periods(kustomize, worker_queues, target) -> None:
    objects = kustomize(target)
    data = settings_map(objects)
    limit = int(data['CSTF_TIME_LIMIT'])
    assert int(data['CSTF_SOFT_TIME_LIMIT']) < limit
    assert int(data['CSTF_VISIBILITY_TIMEOUT']) > limit
    for name, (deployment, _) in workers(objects, worker_queues).items():
        grace = deployment['spec']['template']['spec']['terminationGracePeriodSeconds']
        assert grace > limit, f'{name}: a job may run {limit} s, grace is {grace} s'


@targets
def test_environment_names_are_read_by_the_code(kustomize, settings, target) -> None:
    objects = kustomize(target)
    known = set(settings.ENVIRONMENT)
    data = settings_map(objects)
    assert set(data) <= known, sorted(set(data) - known)
    config_maps = {o['metadata']['name'] for o in of_kind(objects, 'ConfigMap')}
    for workload, template in pod_specs(objects):
        for container in template['spec']['containers']:
            names = {e['name'] for e in container.get('env', [])}
            assert names <= known | OTHER_ENV, (
                f'{workload["metadata"]["name"]}: {names}'
            )
            for source in container.get('envFrom', []):
                assert source['configMapRef']['name'] in config_maps


@targets
def test_no_secret_in_the_manifests(kustomize, target) -> None:
    objects = kustomize(target)
    assert not of_kind(objects, 'Secret'), 'the Secret cstf-redis is made by hand'
    data = settings_map(objects)
    for key in ('CSTF_BROKER_URL', 'CSTF_RESULT_BACKEND'):
        assert '@' not in data[key], f'{key} carries credentials'
    for key in data:
        assert not SECRET_NAME.search(key) or key.endswith('_FILE'), key
    text = yaml.safe_dump_all(objects)
    assert not CREDENTIALS_IN_URL.search(text), 'a URL with a password'
    for value in re.findall(r'requirepass\s+(\S+)', text):
        assert value.startswith('$(cat'), f'literal requirepass {value}'
    for value in re.findall(r'REDISCLI_AUTH=(\S+)', text):
        assert value.startswith('"$(cat'), value
    for workload, template in pod_specs(objects):
        for container in template['spec']['containers']:
            for env in container.get('env', []):
                if SECRET_NAME.search(env['name']) and not env['name'].endswith(
                    '_FILE'
                ):
                    assert 'value' not in env, f'{workload["metadata"]["name"]}'


@targets
def test_password_file_is_the_mounted_secret(kustomize, target) -> None:
    objects = kustomize(target)
    password_file = Path(settings_map(objects)['CSTF_REDIS_PASSWORD_FILE'])
    for workload, template in pod_specs(objects):
        spec = template['spec']
        volumes = {v['name']: v for v in spec.get('volumes', [])}
        for container in spec['containers']:
            uses_redis = container.get('envFrom') or container['name'] == 'redis'
            if not uses_redis:
                continue
            # (volumeClaimTemplates are not in `volumes`)
            mounts = {
                m['mountPath']: volumes.get(m['name'], {})
                for m in container.get('volumeMounts', [])
            }
            volume = mounts.get(str(password_file.parent))
            assert volume and 'secret' in volume, workload['metadata']['name']
            assert volume['secret']['secretName'] == 'cstf-redis'
            assert volume['secret']['items'] == [
                {'key': 'password', 'path': password_file.name}
            ]


# --- pods ----------------------------------------------------------------------


@targets
def test_worker_probes_and_heartbeat(kustomize, worker_queues, target) -> None:
    objects = kustomize(target)
    heartbeat = Path(settings_map(objects)['CSTF_HEARTBEAT_FILE'])
    for name, (deployment, _) in workers(objects, worker_queues).items():
        spec = deployment['spec']['template']['spec']
        container = worker_container(deployment)
        probes = {
            kind: container[kind]['exec']['command']
            for kind in ('startupProbe', 'livenessProbe', 'readinessProbe')
        }
        for kind, command in probes.items():
            assert command[:3] == ['python', '-m', 'workers.probe'], f'{name} {kind}'
        assert '--max-age' in probes['livenessProbe'], name
        assert '--ready' in probes['readinessProbe'], name
        assert '--ready' not in probes['livenessProbe'], 'warm shutdown is alive'
        startup = container['startupProbe']
        budget = startup['periodSeconds'] * startup['failureThreshold']
        assert budget >= 120, f'{name}: {budget} s to import torch and connect'
        volumes = {v['name']: v for v in spec['volumes']}
        mounts = {m['mountPath']: m['name'] for m in container['volumeMounts']}
        assert 'emptyDir' in volumes[mounts[str(heartbeat.parent)]], name
        assert 'persistentVolumeClaim' in volumes[mounts['/data']], name


@targets
def test_security_contexts(kustomize, target) -> None:
    for workload, template in pod_specs(kustomize(target)):
        name = workload['metadata']['name']
        spec = template['spec']
        assert spec['securityContext']['runAsNonRoot'] is True, name
        assert spec['securityContext']['runAsUser'] > 0, name
        assert spec.get('automountServiceAccountToken') is False, name
        volumes = {v['name']: v for v in spec.get('volumes', [])}
        for container in spec['containers']:
            context = container['securityContext']
            assert context['allowPrivilegeEscalation'] is False, name
            assert context['capabilities']['drop'] == ['ALL'], name
            assert context['readOnlyRootFilesystem'] is True, name
            mounts = {m['mountPath']: m['name'] for m in container['volumeMounts']}
            # a read-only root needs a writable /tmp (HOME and caches of the image)
            assert 'emptyDir' in volumes[mounts['/tmp']], name
            assert container['resources']['requests'], name
            assert container['resources']['limits']['memory'], name


@targets
def test_images_pinned(kustomize, target) -> None:
    for _, template in pod_specs(kustomize(target)):
        for container in template['spec']['containers']:
            image = container['image']
            if '@sha256:' in image:
                continue
            tag = image.rpartition(':')[2]
            assert '/' not in tag and re.search(r'\d', tag), f'{image} not pinned'


@targets
def test_metrics_ports_and_scrape_annotations(
    kustomize, worker_queues, parse_cstf, target
) -> None:
    objects = kustomize(target)
    metrics_port = int(settings_map(objects)['CSTF_METRICS_PORT'])
    deployments = named(objects, 'Deployment')
    scraped = {
        name
        for name, d in deployments.items()
        if d['spec']['template']['metadata']
        .get('annotations', {})
        .get('prometheus.io/scrape')
        == 'true'
    }
    found = workers(objects, worker_queues)
    assert set(found) | {'cstf-queue-metrics', 'cstf-flower'} <= scraped
    for name in scraped:
        template = deployments[name]['spec']['template']
        port = int(template['metadata']['annotations']['prometheus.io/port'])
        (container,) = template['spec']['containers']
        assert port in {p['containerPort'] for p in container['ports']}, name
        if name in found:
            assert parse_cstf(argv(container)).metrics_port == port == metrics_port
        if name == 'cstf-queue-metrics':
            args = parse_cstf(argv(container))
            assert args.command == 'queue-metrics' and args.port == port


# --- Redis, network, disruptions -------------------------------------------------


@targets
def test_lost_jobs_are_recovered_by_one_deployment(
    kustomize, parse_cstf, target
) -> None:
    objects = kustomize(target)
    recovering = {
        name: (d, container)
        for name, d in named(objects, 'Deployment').items()
        for container in d['spec']['template']['spec']['containers']
        if argv(container)[:2] == ['cstf', 'recover']
    }
    assert list(recovering) == ['cstf-recover']
    deployment, container = recovering['cstf-recover']
    assert deployment['spec']['replicas'] == 1
    args = parse_cstf(argv(container))
    assert args.every and not args.dry_run
    # the liveness probe reads the heartbeat each look renews, on a writable mount
    probe = container['livenessProbe']['exec']['command']
    assert probe[:3] == ['python', '-m', 'workers.probe'], probe
    max_age = float(probe[probe.index('--max-age') + 1])
    assert args.every < max_age <= 3 * args.every
    heartbeat = Path(settings_map(objects)['CSTF_HEARTBEAT_FILE'])
    mounts = {m['mountPath'] for m in container['volumeMounts']}
    assert str(heartbeat.parent) in mounts


@targets
def test_redis_statefulset(kustomize, label_selects, target) -> None:
    objects = kustomize(target)
    statefulsets = named(objects, 'StatefulSet')
    if not statefulsets:
        assert settings_map(objects)['CSTF_BROKER_URL'].startswith('rediss://')
        pytest.skip(f'{target}: managed Redis')
    redis = statefulsets['cstf-redis']
    assert redis['spec']['replicas'] == 1
    services = named(objects, 'Service')
    assert services[redis['spec']['serviceName']]['spec']['clusterIP'] == 'None'
    (container,) = redis['spec']['template']['spec']['containers']
    command = ' '.join(argv(container))
    assert '--appendonly yes' in command and '--appendfsync everysec' in command
    assert 'noeviction' in command
    (claim,) = redis['spec']['volumeClaimTemplates']
    mounts = {m['name']: m['mountPath'] for m in container['volumeMounts']}
    assert mounts[claim['metadata']['name']] == '/data'
    assert '--dir /data' in command
    for kind in ('startupProbe', 'livenessProbe', 'readinessProbe'):
        assert 'redis-cli ping' in ' '.join(container[kind]['exec']['command'])
    host = re.fullmatch(
        r'redis://([\w-]+):6379/\d+', settings_map(objects)['CSTF_BROKER_URL']
    )
    assert host and host.group(1) in services
    assert label_selects(
        {'matchLabels': services[host.group(1)]['spec']['selector']},
        redis['spec']['template']['metadata']['labels'],
    )


@targets
def test_network_policy_admits_the_redis_clients(
    kustomize, worker_queues, label_selects, target
) -> None:
    objects = kustomize(target)
    statefulsets = named(objects, 'StatefulSet')
    if not statefulsets:
        pytest.skip(f'{target}: managed Redis')
    redis_labels = statefulsets['cstf-redis']['spec']['template']['metadata']['labels']
    policies = [
        p
        for p in of_kind(objects, 'NetworkPolicy')
        if label_selects(p['spec']['podSelector'], redis_labels)
    ]
    assert policies, 'no NetworkPolicy selects the Redis pods'
    assert all('Ingress' in p['spec']['policyTypes'] for p in policies)

    def admitted(labels: dict | None, namespace: str | None) -> bool:
        """Whether pods with LABELS here, or the pods of NAMESPACE, may connect."""
        for policy in policies:
            for rule in policy['spec'].get('ingress', []):
                ports = {p.get('port') for p in rule.get('ports', [])}
                if ports and not ports & {6379, 'redis'}:
                    continue
                for peer in rule.get('from', []):
                    if namespace is None:
                        ok = (
                            'namespaceSelector' not in peer
                            and 'podSelector' in peer
                            and label_selects(peer['podSelector'], labels or {})
                        )
                    else:
                        ok = (
                            'namespaceSelector' in peer
                            and 'podSelector' not in peer
                            and label_selects(
                                peer['namespaceSelector'],
                                {'kubernetes.io/metadata.name': namespace},
                            )
                        )
                    if ok:
                        return True
        return False

    clients = set(workers(objects, worker_queues)) | {
        'cstf-queue-metrics',
        'cstf-flower',
        'cstf-recover',
    }
    deployments = named(objects, 'Deployment')
    for name in clients:
        labels = deployments[name]['spec']['template']['metadata']['labels']
        assert admitted(labels, None), f'{name} cannot reach Redis'
    # the label documented for job clients, and KEDA's redis trigger
    assert admitted({'cstf.io/redis-client': 'true'}, None)
    assert admitted(None, 'keda'), 'the KEDA operator cannot reach Redis'
    # and nobody else
    assert not admitted({'app': 'something-else'}, None)
    assert not admitted(None, 'default')


@targets
def test_disruption_budgets_select_workers(
    kustomize, worker_queues, label_selects, target
) -> None:
    objects = kustomize(target)
    found = workers(objects, worker_queues)
    deployments = named(objects, 'Deployment')
    covered = set()
    for budget in of_kind(objects, 'PodDisruptionBudget'):
        selected = {
            name
            for name, d in deployments.items()
            if label_selects(
                budget['spec']['selector'], d['spec']['template']['metadata']['labels']
            )
        }
        assert selected, f'{budget["metadata"]["name"]} selects no Deployment'
        assert budget['spec'].get('maxUnavailable') == 1
        covered |= selected
    assert set(found) <= covered


def test_render_helper_reports_kustomize_errors(kustomize, tmp_path: Path) -> None:
    # a broken copy of an overlay (a resource that does not exist) must fail
    overlay = tmp_path / 'overlay'
    overlay.mkdir()
    text = (K8S / 'overlays' / 'cpu' / 'kustomization.yaml').read_text()
    base = str(K8S / 'base')
    (overlay / 'kustomization.yaml').write_text(
        text.replace('../../base', base).replace('cpu-workers.yaml', 'missing.yaml')
    )
    for name in ('prometheus-address.yaml',):
        (overlay / name).write_text((K8S / 'overlays' / 'cpu' / name).read_text())
    with pytest.raises(AssertionError, match='kustomize'):
        kustomize(overlay)


def test_targets_cover_every_kustomization() -> None:
    found = {
        str(path.parent.relative_to(K8S))
        for path in K8S.rglob('kustomization.yaml')
        if yaml.safe_load(path.read_text())['kind'] == 'Kustomization'
    }
    assert found == set(K8S_TARGETS)
    # the component is used by an overlay that is rendered
    assert any(
        'components' in yaml.safe_load((K8S / t / 'kustomization.yaml').read_text())
        for t in K8S_TARGETS
    )
