import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from torchgeo_cstf.allocator import keep_freed_memory

pytestmark = pytest.mark.skipif(
    platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc',
    reason='glibc only',
)

#: what sets the process up before the passes, by name
_SETUPS = {
    'keep': 'print(keep_freed_memory())',
    'default': 'print(False)',
    # the command line, as `cstf models` runs it (its output goes to a buffer)
    'cli': (
        'import contextlib, io\n'
        'from torchgeo_cstf.cli import main\n'
        'with contextlib.redirect_stdout(io.StringIO()):\n'
        "    main(['models'])\n"
        "print('cli')"
    ),
    # a Celery worker's main process, as its worker_init signal runs
    'worker': (
        'from celery import signals\n'
        'import workers.app\n'
        'signals.worker_init.send(sender=None)\n'
        "print('worker')"
    ),
}

#: three dense matching passes of a 384² pair after a first one; prints
#: what the set-up printed and the page faults of the three passes
_ROUNDS = """
import resource, sys
import torch
from torchgeo_cstf.allocator import keep_freed_memory
from torchgeo_cstf.models.dense import DenseMatcher
torch.set_num_threads(1)
exec(sys.argv[1])
image = torch.rand(1, 1, 384, 384, generator=torch.Generator().manual_seed(0))
for round in range(4):
    if round == 1:
        start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    DenseMatcher().match(image, image.roll(3, -1))
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
"""


def _rounds(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_')}
    out = subprocess.run(
        [sys.executable, '-c', _ROUNDS, _SETUPS[mode]],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],  # workers/ is a top-level package
    ).stdout.split()
    return out[-2], int(out[-1])


def test_freed_blocks_are_reused_instead_of_faulting_in_again() -> None:
    kept, faults = _rounds('keep')
    assert kept == 'True'
    # by default the blocks of each pass are unmapped on free and fault in
    # again on the next (about 100,000 faults); kept, they are reused
    _, default_faults = _rounds('default')
    assert default_faults > 30_000
    assert faults < default_faults / 10


@pytest.mark.parametrize('entry', ['cli', 'worker'])
def test_the_command_line_and_the_workers_keep_freed_memory(entry: str) -> None:
    ran, faults = _rounds(entry)
    assert ran == entry
    _, default_faults = _rounds('default')
    assert faults < default_faults / 10


def test_the_users_own_settings_win() -> None:
    kept, faults = _rounds('keep', MALLOC_TRIM_THRESHOLD_='0')
    assert kept == 'False'
    assert faults > 30_000  # glibc's own behaviour, as the user asked


def test_calling_again_changes_nothing() -> None:
    if any(name.startswith('MALLOC_') for name in os.environ):
        pytest.skip('the environment sets glibc malloc options')
    assert keep_freed_memory() and keep_freed_memory()
