"""Exceptions that are not the package's own errors still end with a typed code."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from workers import run, tasks

from .conftest import write_scene


@pytest.mark.parametrize(
    ('error', 'code'),
    [
        (
            torch.OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB'),
            'OUT_OF_MEMORY',
        ),
        (MemoryError('cannot allocate'), 'OUT_OF_MEMORY'),
        (ZeroDivisionError('a bug'), 'INTERNAL_ERROR'),
    ],
)
def test_a_job_that_runs_out_of_memory_fails_with_its_code(
    error: BaseException, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roots = (tmp_path.resolve(),)
    monkeypatch.setattr(tasks, 'settings', replace(tasks.settings, allowed_roots=roots))
    scene = write_scene(tmp_path / 'scene.tif', seed=1)

    def fail(*_: object) -> dict[str, object]:
        raise error

    monkeypatch.setattr(run, 'detect_scene_job', fail)
    spec = {'kind': 'detect', 'scene': str(scene), 'output_dir': str(tmp_path / 'out')}
    manifest = tasks.detect.apply(args=[spec], task_id='oom-test').get()
    assert manifest['status'] == 'failed'
    assert manifest['error']['code'] == code
    assert type(error).__name__ in manifest['error']['message']
