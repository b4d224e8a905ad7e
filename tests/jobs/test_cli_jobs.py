"""``cstf submit/status/result/cancel/worker/watch`` against the real Redis (no worker)."""

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from torchgeo_cstf.cli import main
from torchgeo_cstf.cli.jobs import check_workers_package

from .conftest import job_env, write_scene

pytestmark = pytest.mark.redis


@pytest.fixture
def env(redis_url: str, roots: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in job_env(redis_url, roots).items():
        if key.startswith('CSTF_'):
            monkeypatch.setenv(key, value)
    return roots


def test_submit_status_cancel_result(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scene = write_scene(env / 'scene.tif', seed=1)
    assert (
        main(
            ['submit', 'detect', str(scene), '--out', str(env / 'out'), '--tile', '256']
        )
        == 0
    )
    job = capsys.readouterr().out.strip()
    assert job.startswith('cstf-detect-')
    assert (
        main(
            ['submit', 'detect', str(scene), '--out', str(env / 'out'), '--tile', '256']
        )
        == 0
    )
    again = capsys.readouterr()
    assert again.out.strip() == job and 'submitted before (queued)' in again.err
    assert main(['status', job]) == 0
    assert capsys.readouterr().out.strip() == f'{job}: queued'
    assert main(['result', job]) == 3
    assert 'queued, no result yet' in capsys.readouterr().err
    assert main(['cancel', job]) == 0
    assert capsys.readouterr().out.strip() == f'{job}: cancelling'
    assert main(['result', job, '--wait', '--timeout', '0.3']) == 3


def test_bad_submissions_exit_2(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scene = write_scene(env / 'scene.tif', seed=1)
    cases = [
        (['submit', 'detect', str(env / 'nope.tif'), '--out', str(env)], 'nope.tif: no such file'),
        (['submit', 'detect', str(scene), '--out', str(tmp_path / 'x')], 'outside the allowed roots'),
        (['submit', 'detect', str(scene), '--out', str(env), '--tile', '100'], 'overlap: must be in [0, tile=100)'),
        (['worker', '--queues', 'gpu'], "unknown queue(s) ['gpu']"),
        (['worker', '--metrics-port', '70000', '--dry-run'], 'CSTF_METRICS_PORT=70000: not a port'),
    ]  # fmt: skip
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith('cstf: error:') and message in err, err
        assert 'Traceback' not in err


def test_worker_command_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['worker', '--gpu', '1', '--queues', 'detection', '--dry-run']) == 0
    command = capsys.readouterr().out.split()
    assert command[1:6] == ['-m', 'celery', '-A', 'workers.app', 'worker']
    assert command[command.index('--queues') + 1] == 'detection'
    assert command[command.index('--prefetch-multiplier') + 1] == '1'
    assert command[command.index('--concurrency') + 1] == '1'
    assert command[command.index('--hostname') + 1].startswith('cstf-gpu1-')
    assert main(['worker', '--pool', 'solo', '--concurrency', '4', '--dry-run']) == 0
    solo = capsys.readouterr().out.split()
    assert solo[solo.index('--concurrency') + 1] == '1'  # solo runs one job at a time


def test_watch_submits_each_new_acquisition_once(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = env / 'inbox'
    inbox.mkdir()
    reference = write_scene(env / 'reference.tif', seed=1)
    write_scene(inbox / 'a.tif', seed=2)
    write_scene(inbox / 'b.tif', seed=3)
    argv = [
        'watch', str(inbox), '--reference', str(reference), '--out', str(env / 'out'),
        '--interval', '0.3', '--stable', '0.1', '--scans', '2',
    ]  # fmt: skip
    assert main(argv) == 0
    ids = capsys.readouterr().out.split()
    assert len(ids) == 2 and all(i.startswith('cstf-pipeline-') for i in ids)
    assert main(argv) == 0  # a restarted watcher submits nothing again
    assert capsys.readouterr().out.split() == []


def test_transient_errors_are_told_apart() -> None:
    from workers.tasks import _transient

    assert _transient(OSError(errno.EIO, 'I/O error'))
    assert _transient(OSError(errno.ESTALE, 'stale NFS handle'))
    assert _transient(ConnectionResetError())
    assert _transient(TimeoutError())
    assert not _transient(FileNotFoundError(errno.ENOENT, 'gone'))
    assert not _transient(PermissionError(errno.EACCES, 'denied'))
    assert not _transient(ValueError('bad'))


def test_a_foreign_workers_package_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = check_workers_package()
    assert Path(ours, 'heartbeat.py').is_file()
    # from any other directory the installed package is found (editable
    # installs put no folder of it on sys.path: their finder knows it)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    started = subprocess.run(
        [sys.executable, '-m', 'torchgeo_cstf.cli', 'worker', '--dry-run'],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    assert '-m celery -A workers.app worker' in started.stdout
    # a project of the user's with its own workers/ folder, where the worker starts
    (tmp_path / 'workers').mkdir()
    (tmp_path / 'workers' / '__init__.py').write_text('"""Some other workers."""\n')
    monkeypatch.chdir(tmp_path)
    assert main(['worker', '--dry-run']) == 2
    err = capsys.readouterr().err
    assert f"'workers' found at {tmp_path / 'workers'} is not torchgeo-cstf's" in err
    assert 'has no app.py, tasks.py' in err


def test_watch_stac_submits_each_new_item_once(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime as dt

    import pystac

    from torchgeo_cstf.io.raster import read_raster_info
    from torchgeo_cstf.stac import footprint
    from torchgeo_cstf.synthetic import generate_scene

    catalog = pystac.Catalog('acquisitions', 'new acquisitions')
    for day, seed in ((1, 1), (2, 2)):
        path = env / f'scene-{day}.tif'  # the same place on two days
        generate_scene(path, (256, 256), seed, origin=(500000.0, 4000000.0))
        geometry, bbox = footprint(read_raster_info(path))
        item = pystac.Item(
            f'scene-{day}', geometry, bbox, dt.datetime(2024, 5, day, tzinfo=dt.UTC), {}
        )
        item.add_asset('data', pystac.Asset(str(path), roles=['data']))
        catalog.add_item(item)
    catalog.normalize_hrefs(str(env / 'stac'))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    argv = [
        'watch', '--stac', str(env / 'stac' / 'catalog.json'), '--out', str(env / 'out'),
        '--scans', '1', '--bbox=-180,-90,180,90',
    ]  # fmt: skip
    assert main(argv) == 0
    ids = capsys.readouterr().out.split()
    assert [i.split('-')[1] for i in ids] == ['detect', 'pipeline']
    assert main(argv) == 0  # a restarted watcher submits nothing again
    assert capsys.readouterr().out.split() == []
    assert main(['watch', '--out', str(env / 'out'), '--scans', '1']) == 2
    assert 'or --stac CATALOG' in capsys.readouterr().err
