import os
import time
from pathlib import Path

import pytest

from torchgeo_cstf.jobs.liveness import write_state
from workers.probe import check, main


def test_probe_passes_on_a_fresh_ready_heartbeat(tmp_path: Path) -> None:
    path = tmp_path / 'hb'
    write_state(path, 'ready')
    assert check(path, max_age=5, ready=True) is None
    assert main(['--file', str(path), '--ready', '--max-age', '5']) == 0


def test_probe_fails_on_an_old_heartbeat(tmp_path: Path) -> None:
    path = tmp_path / 'hb'
    write_state(path, 'ready')
    old = time.time() - 100
    os.utime(path, (old, old))
    reason = check(path, max_age=60, ready=False)
    assert reason is not None and 'last heartbeat 100 s ago' in reason
    assert main(['--file', str(path), '--max-age', '60']) == 1
    assert main(['--file', str(path), '--max-age', '120']) == 0


def test_readiness_needs_a_consuming_worker(tmp_path: Path) -> None:
    path = tmp_path / 'hb'
    write_state(path, 'stopping')
    assert check(path, max_age=60, ready=False) is None  # alive
    reason = check(path, max_age=60, ready=True)
    assert reason is not None and 'stopping, not ready' in reason
    # a stopping worker stops beating: readiness names the state, not the age
    old = time.time() - 100
    os.utime(path, (old, old))
    reason = check(path, max_age=60, ready=True)
    assert reason is not None and 'stopping, not ready' in reason
    assert 'last heartbeat 100 s ago' in str(check(path, max_age=60, ready=False))


def test_no_heartbeat_file_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert 'no heartbeat yet' in str(check(tmp_path / 'missing', 60, False))
    monkeypatch.delenv('CSTF_HEARTBEAT_FILE', raising=False)
    assert main([]) == 1  # no file named at all
