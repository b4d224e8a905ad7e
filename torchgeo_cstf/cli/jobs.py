"""``cstf submit``, ``status``, ``result``, ``cancel``, ``recover``, ``worker``, ``queue-metrics`` and ``watch``: the job queue."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..options import RegistrationOptions, TilingOptions
from .parsing import add_registration_arguments, add_tiling_arguments, option_values

#: exit code of ``cstf result`` / ``--wait`` when the job failed or was cancelled
EXIT_JOB_FAILED = 1
#: exit code of ``cstf result`` when the job has not ended yet
EXIT_NOT_DONE = 3


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    found = {
        'detector': args.detector,
        'crs': args.crs,
        'format': args.format,
        'acquisition_id': args.acquisition_id,
        'quicklook': not args.no_quicklook,
        'tiling': option_values(args, TilingOptions),
    }
    return {key: value for key, value in found.items() if value is not None}


def _matching(args: argparse.Namespace) -> dict[str, Any]:
    found = {
        'matcher': args.matcher,
        'registration': option_values(args, RegistrationOptions),
    }
    return {key: value for key, value in found.items() if value is not None}


def _follow(handle: Any, timeout: float | None) -> int:
    """Show progress until the job ends; print its outcome."""
    from tqdm import tqdm

    deadline = None if timeout is None else time.monotonic() + timeout
    with tqdm(
        total=100.0, unit='%', desc=handle.id, file=sys.stderr, disable=None
    ) as bar:
        while (state := handle.state) not in ('succeeded', 'failed', 'cancelled'):
            if deadline is not None and time.monotonic() > deadline:
                print(
                    f'{handle.id}: still {state} after {timeout:g} s', file=sys.stderr
                )
                return EXIT_NOT_DONE
            info = handle.info
            if info:
                bar.set_postfix_str(f'{info["stage"]} {info["done"]}/{info["total"]}')
            bar.n = round(handle.progress or 0.0, 1)
            bar.refresh()
            time.sleep(0.5)
        bar.n = 100.0
        bar.refresh()
    return _outcome(handle.manifest)


def _outcome(manifest: dict[str, Any] | None) -> int:
    assert manifest is not None
    if manifest['status'] != 'succeeded':
        error = manifest['error']
        print(
            f'{manifest["job_id"]}: {manifest["status"]}: {error["code"]}: '
            f'{error["message"]}'
        )
        return EXIT_JOB_FAILED
    outputs = ', '.join(manifest['outputs'].values())
    print(f'{manifest["job_id"]}: succeeded: {outputs}')
    return 0


def _submit(args: argparse.Namespace) -> int:
    from ..jobs import submit_detection, submit_matching, submit_pipeline

    if args.kind == 'detect':
        handle = submit_detection(
            args.scene,
            output_dir=args.out,
            reference=args.reference,
            force=args.force,
            **_parameters(args),
        )
    elif args.kind == 'match':
        handle = submit_matching(
            args.reference,
            args.query,
            output_dir=args.out,
            force=args.force,
            **_matching(args),
        )
    else:
        handle = submit_pipeline(
            args.reference,
            args.query,
            output_dir=args.out,
            force=args.force,
            parameters=_parameters(args),
            **_matching(args),
        )
    print(handle.id)
    if not handle.submitted:
        print(
            f'{handle.id}: submitted before ({handle.state}); use --force to '
            'run it again',
            file=sys.stderr,
        )
    return _follow(handle, args.timeout) if args.wait else 0


def _status(args: argparse.Namespace) -> int:
    from ..jobs import get_job

    handle = get_job(args.job)
    state = handle.state
    line = f'{handle.id}: {state}'
    info = handle.info
    if info:
        line += (
            f' {handle.progress:.0f} % ({info["stage"]} {info["done"]}/{info["total"]})'
        )
    print(line)
    return 0


def _result(args: argparse.Namespace) -> int:
    from ..jobs import get_job

    handle = get_job(args.job)
    try:
        manifest = handle.wait(args.timeout) if args.wait else handle.manifest
    except TimeoutError as err:
        print(err, file=sys.stderr)
        return EXIT_NOT_DONE
    if manifest is None:
        print(f'{handle.id}: {handle.state}, no result yet', file=sys.stderr)
        return EXIT_NOT_DONE
    print(json.dumps(manifest, indent=2))
    return 0 if manifest['status'] == 'succeeded' else EXIT_JOB_FAILED


def _cancel(args: argparse.Namespace) -> int:
    from ..jobs import get_job

    handle = get_job(args.job)
    handle.cancel()
    print(f'{handle.id}: {handle.state}')
    return 0


def _recover(args: argparse.Namespace) -> int:
    from ..errors import BrokerUnavailableError, InputError
    from ..jobs import JobClient, WorkerSettings
    from ..jobs.liveness import READY, write_state
    from ..jobs.recover import GRACE, recover_lost_jobs

    grace = GRACE if args.grace is None else args.grace
    if args.every is not None and not 0 < args.every < math.inf:
        raise InputError(
            '--every', f'must be a positive number of seconds, got {args.every}'
        )
    client = JobClient()
    # as a service (--every), each look that reached Redis renews the
    # heartbeat file that ``python -m workers.probe`` checks
    heartbeat = WorkerSettings.from_env().heartbeat_file
    verb = 'lost (not queued: --dry-run)' if args.dry_run else 'lost, queued again'
    while True:
        try:
            lost = recover_lost_jobs(client, grace, dry_run=args.dry_run)
        except BrokerUnavailableError as err:
            if args.every is None:
                raise
            print(f'cstf recover: {err}; trying again in {args.every:g} s', flush=True)
        else:
            for job_id in lost:
                print(f'{job_id}: {verb}', flush=True)
            if not lost and args.every is None:
                print('no lost job: every unfinished job has a message waiting or held')
            if heartbeat is not None and args.every is not None:
                write_state(heartbeat, READY)
        if args.every is None:
            return 0
        time.sleep(args.every)


def worker_command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The ``celery worker`` command line and environment of ``cstf worker``."""
    env = dict(os.environ)
    if args.gpu is not None:
        env['CUDA_VISIBLE_DEVICES'] = str(args.gpu)
        env['CSTF_DEVICE'] = 'cuda'
    if args.threads is not None:
        env['CSTF_TORCH_THREADS'] = str(args.threads)
    if args.metrics_port is not None:
        env['CSTF_METRICS_PORT'] = str(args.metrics_port)
    device = f'gpu{args.gpu}' if args.gpu is not None else 'cpu'
    command = [
        sys.executable, '-m', 'celery', '-A', 'workers.app', 'worker',
        '--queues', args.queues,
        '--pool', args.pool,
        '--concurrency', str(1 if args.pool == 'solo' else args.concurrency),
        '--prefetch-multiplier', '1',
        '--hostname', args.name or f'cstf-{device}-{os.getpid()}@%h',
        '--loglevel', args.loglevel,
        '--without-gossip', '--without-mingle',
    ]  # fmt: skip
    return command, env


#: modules only torchgeo-cstf's ``workers`` package has
WORKER_MODULES = ('app.py', 'tasks.py', 'run.py', 'runtime.py', 'heartbeat.py')


def check_workers_package(directory: str | None = None) -> str:
    """Where Celery will find ``workers``; fail if it is not torchgeo-cstf's.

    ``workers`` is a generic top-level name: another installed package, or a
    ``workers/`` folder in the directory the worker starts in (Celery puts it
    first on the path), would shadow ours. The package is located without
    being imported.

    Args:
        directory: the directory the worker starts in (default the current one).

    Returns:
        The folder of the ``workers`` package found.

    Raises:
        ConfigError: none is found, or the one found is not torchgeo-cstf's.
    """
    import importlib.util
    from importlib.machinery import PathFinder

    from ..errors import ConfigError

    # the worker's directory comes first on its path (a folder there shadows
    # the package); then what Python finds, editable installs' finders included
    spec = PathFinder.find_spec(
        'workers', [directory or os.getcwd()]
    ) or importlib.util.find_spec('workers')
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ConfigError(
            "the package 'workers' of torchgeo-cstf is not installed; reinstall "
            'torchgeo-cstf'
        )
    folder = locations[0]
    missing = [
        name for name in WORKER_MODULES if not os.path.isfile(f'{folder}/{name}')
    ]
    if missing:
        raise ConfigError(
            f"the package 'workers' found at {folder} is not torchgeo-cstf's (it "
            f'has no {", ".join(missing)}): another package or folder of that name '
            'shadows it; start the worker from another directory or remove it'
        )
    return folder


def _worker(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..jobs import QUEUES, JobSettings, WorkerSettings

    unknown = sorted(set(args.queues.split(',')) - set(QUEUES))
    if unknown:
        raise InputError('--queues', f'unknown queue(s) {unknown}; known: {QUEUES}')
    command, env = worker_command(args)
    check_workers_package()
    JobSettings.from_env(env)  # fail here, in one line, on a bad configuration
    metrics_port = WorkerSettings.from_env(env).metrics_port
    if args.dry_run:
        print(' '.join(command))
        return 0
    if metrics_port:
        # the pool processes' samples: set before Celery (and its plugins)
        # import prometheus_client; a given directory is this worker's alone
        given = env.get('PROMETHEUS_MULTIPROC_DIR')
        if given:
            for stale in Path(given).glob('*.db'):
                stale.unlink()
        else:
            env['PROMETHEUS_MULTIPROC_DIR'] = tempfile.mkdtemp(prefix='cstf-metrics-')
    os.execvpe(command[0], command, env)


def _queue_metrics(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry, generate_latest, start_http_server

    from ..jobs import JobSettings
    from ..jobs.depth import QueueDepthCollector
    from ..jobs.settings import redact

    settings = JobSettings.from_env()
    registry = CollectorRegistry()
    registry.register(QueueDepthCollector(settings.broker_redis()))
    if args.once:
        print(generate_latest(registry).decode(), end='')
        return 0
    server, _ = start_http_server(args.port, args.address, registry=registry)
    print(
        f'cstf queue-metrics: serving the depth of the queues of '
        f'{redact(settings.broker_url)} on http://{args.address}:'
        f'{server.server_port}/metrics',
        flush=True,
    )
    while True:
        time.sleep(3600)


def _watcher(args: argparse.Namespace) -> Any:
    """The directory watcher, or the STAC watcher with ``--stac``."""
    from ..errors import InputError
    from ..jobs import DetectionParameters, JobClient, build

    parameters = build(DetectionParameters, **_parameters(args))
    if args.stac is not None:
        from ..jobs.stac_watch import StacWatcher

        if args.directory is not None:
            raise InputError('directory', 'give a directory or --stac, not both')
        return StacWatcher(
            args.stac,
            args.out,
            JobClient(),
            collection=args.collection,
            bbox=args.bbox,
            datetime=args.datetime,
            reference=args.reference_item,
            asset=args.asset,
            common_names=tuple(args.bands or ()),
            parameters=parameters,
            options=_matching(args),
        )
    from ..jobs.watch import Watcher

    if args.directory is None or args.reference is None:
        raise InputError(
            'directory', 'give a directory and --reference, or --stac CATALOG'
        )
    return Watcher(
        args.directory,
        args.reference,
        args.out,
        JobClient(),
        stable_seconds=args.stable,
        parameters=parameters,
        options=_matching(args),
    )


def _watch(args: argparse.Namespace) -> int:
    watcher = _watcher(args)
    watched = args.stac if args.stac is not None else watcher.directory
    print(f'watching {watched} (state {watcher.state_path})', file=sys.stderr)
    count = 0
    while args.scans is None or count < args.scans:
        for handle in watcher.scan():
            print(handle.id, flush=True)
        count += 1
        if args.scans is None or count < args.scans:
            time.sleep(args.interval)
    return 0


def _bbox(text: str) -> tuple[float, float, float, float]:
    """Parse ``west,south,east,north``."""
    try:
        west, south, east, north = (float(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a bbox like 14.9,36.0,15.2,36.3'
        ) from None
    return west, south, east, north


def _detection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--detector',
        default=None,
        help='detector name or checkpoint (default cstf_detector_regnetx_002)',
    )
    add_tiling_arguments(parser)
    parser.add_argument('--crs', default=None, help='output CRS (default the scene)')
    parser.add_argument('--format', choices=('gpkg', 'geojson'), default=None)
    parser.add_argument('--acquisition-id', default=None, help='id written per object')
    parser.add_argument('--no-quicklook', action='store_true', help='no PNG quicklook')


def _matching_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--matcher', default=None, help='matcher weights or checkpoint')
    add_registration_arguments(parser)


def _submit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--out', required=True, help='output directory (jobs write OUT/<job id>/)'
    )
    parser.add_argument(
        '--force', action='store_true', help='queue again even if submitted before'
    )
    parser.add_argument(
        '--wait', action='store_true', help='follow progress until the job ends'
    )
    parser.add_argument(
        '--timeout', type=float, default=None, help='seconds to wait at most'
    )
    parser.set_defaults(handler=_submit)


def add_job_commands(commands: Any) -> None:
    """Add the job-queue commands to the sub-command set."""
    submit = commands.add_parser('submit', help='queue a job for the workers')
    kinds = submit.add_subparsers(dest='kind', required=True, metavar='KIND')
    detect = kinds.add_parser('detect', help='detect objects in a scene')
    detect.add_argument('scene', help='the scene (GeoTIFF)')
    detect.add_argument(
        '--reference',
        default=None,
        help='earlier acquisition on the same grid (temporal fusion)',
    )
    _detection_options(detect)
    _submit_options(detect)
    match = kinds.add_parser('match', help='co-register QUERY onto REFERENCE')
    match.add_argument('reference')
    match.add_argument('query')
    _matching_options(match)
    _submit_options(match)
    pipeline = kinds.add_parser(
        'pipeline',
        help='co-register QUERY onto REFERENCE, then detect (temporal fusion)',
    )
    pipeline.add_argument('reference', help='the earlier acquisition')
    pipeline.add_argument('query', help='the new acquisition')
    _matching_options(pipeline)
    _detection_options(pipeline)
    _submit_options(pipeline)

    status = commands.add_parser('status', help="a job's state and progress")
    status.add_argument('job', help='job id')
    status.set_defaults(handler=_status)

    result = commands.add_parser('result', help="a job's result manifest (JSON)")
    result.add_argument('job', help='job id')
    result.add_argument('--wait', action='store_true', help='wait for the job to end')
    result.add_argument('--timeout', type=float, default=None, help='seconds to wait')
    result.set_defaults(handler=_result)

    cancel = commands.add_parser('cancel', help='stop a queued or running job')
    cancel.add_argument('job', help='job id')
    cancel.set_defaults(handler=_cancel)

    recover = commands.add_parser(
        'recover', help='queue again the jobs whose message Redis lost (docs/jobs.md)'
    )
    recover.add_argument(
        '--grace',
        type=float,
        default=None,
        help='seconds between the two looks that must both find a job lost '
        '(default: jobs.recover.GRACE, 10)',
    )
    recover.add_argument(
        '--dry-run', action='store_true', help='only list the lost jobs'
    )
    recover.add_argument(
        '--every',
        type=float,
        default=None,
        metavar='SECONDS',
        help='look again every SECONDS, forever (a service; default: once)',
    )
    recover.set_defaults(handler=_recover)

    worker = commands.add_parser(
        'worker', help='run a Celery worker for the job queues (wraps celery worker)'
    )
    worker.add_argument(
        '--queues',
        default='matching,detection,light',
        help='comma-separated queues (default all three)',
    )
    worker.add_argument(
        '--gpu',
        type=int,
        default=None,
        help='GPU index this worker uses (sets CUDA_VISIBLE_DEVICES)',
    )
    worker.add_argument(
        '--pool',
        choices=('prefork', 'solo'),
        default='prefork',
        help='prefork (a child process per job slot; survives a '
        'crashing job) or solo (in-process)',
    )
    worker.add_argument(
        '--concurrency', type=int, default=1, help='processes (prefork); keep 1 per GPU'
    )
    worker.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads per process (CSTF_TORCH_THREADS)',
    )
    worker.add_argument(
        '--metrics-port',
        type=int,
        default=None,
        help='serve Prometheus metrics on this port (CSTF_METRICS_PORT)',
    )
    worker.add_argument('--name', default=None, help='worker name (NAME@%%h)')
    worker.add_argument('--loglevel', default='info')
    worker.add_argument('--dry-run', action='store_true', help='print the command only')
    worker.set_defaults(handler=_worker)

    queue_metrics = commands.add_parser(
        'queue-metrics',
        help='serve the depth of the job queues (waiting + reserved) for Prometheus',
    )
    queue_metrics.add_argument(
        '--port', type=int, default=9809, help='port of /metrics (default 9809)'
    )
    queue_metrics.add_argument(
        '--address', default='0.0.0.0', help='address to listen on (default all)'
    )
    queue_metrics.add_argument(
        '--once', action='store_true', help='print the metrics once and exit'
    )
    queue_metrics.set_defaults(handler=_queue_metrics)

    watch = commands.add_parser(
        'watch',
        help='submit a job for each new GeoTIFF in a directory, or each new Item '
        'of a STAC catalogue or API (--stac)',
    )
    watch.add_argument(
        'directory', nargs='?', default=None, help='where acquisitions arrive'
    )
    watch.add_argument(
        '--reference', default=None, help='the earlier acquisition (directory mode)'
    )
    stac = watch.add_argument_group('STAC ingest (docs/stac.md)')
    stac.add_argument(
        '--stac', default=None, help='a static catalogue (path or URL) or STAC API'
    )
    stac.add_argument('--collection', default=None, help='only this collection')
    stac.add_argument(
        '--bbox', type=_bbox, default=None, help='west,south,east,north in degrees'
    )
    stac.add_argument(
        '--datetime', default=None, help='interval, e.g. 2024-05-01T00:00:00Z/..'
    )
    stac.add_argument(
        '--reference-item',
        default=None,
        help='Item every acquisition is co-registered to (default: the latest '
        'earlier Item of the collection covering it)',
    )
    stac.add_argument('--asset', default=None, help='the asset key to read')
    stac.add_argument(
        '--bands',
        type=lambda text: [b for b in text.split(',') if b],
        default=None,
        help='band common names the asset must have, e.g. red,green,blue',
    )
    watch.add_argument('--out', required=True, help='output directory')
    watch.add_argument(
        '--interval', type=float, default=5.0, help='seconds between scans'
    )
    watch.add_argument(
        '--stable',
        type=float,
        default=2.0,
        help='seconds a file must stay unchanged (default 2)',
    )
    watch.add_argument('--scans', type=int, default=None, help='stop after N scans')
    _matching_options(watch)
    _detection_options(watch)
    watch.set_defaults(handler=_watch)
