"""Every tutorial's code blocks run (tools/tutorials.py), on tiny data in the real formats."""

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location(
    'tutorials', ROOT / 'tools' / 'tutorials.py'
)
assert _SPEC is not None and _SPEC.loader is not None
tutorials: Any = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = tutorials  # its dataclasses look their module up
_SPEC.loader.exec_module(tutorials)

PAGES = tutorials.pages()


def test_the_tutorials_are_in_the_navigation() -> None:
    nav = (ROOT / 'mkdocs.yml').read_text()
    assert PAGES, 'no tutorials'
    for page in [*PAGES, tutorials.TUTORIALS / 'index.md']:
        assert f'tutorials/{page.name}' in nav, page.name


def test_a_stale_replacement_fails(tmp_path: Path) -> None:
    page = tmp_path / 'stale.md'
    page.write_text(
        '<!-- tutorial\nreplace: --epochs 36 => --epochs 1\n-->\n'
        '```bash\necho hello\n```\n'
    )
    with pytest.raises(tutorials.TutorialError, match="'--epochs 36' is in no block"):
        tutorials.script(tutorials.parse(page))


def test_a_failing_block_fails_the_tutorial(tmp_path: Path) -> None:
    page = tmp_path / 'broken.md'
    page.write_text(
        '```bash\necho one > one.txt\n```\n'
        '```console\nnot run\n```\n'
        "```python\nassert open('one.txt').read() == 'two'\n```\n"
    )
    outcome = tutorials.run(tutorials.parse(page), tmp_path)
    assert outcome.returncode != 0 and 'AssertionError' in outcome.output
    assert '::: block 2 (python)' in outcome.output  # the console block is shown only


def _redis_url(worker_id: str) -> str:
    """A database of its own (15, 14, ...): the job tests use 10 upwards."""
    index = int(worker_id[2:]) if worker_id.startswith('gw') else 0
    return f'redis://127.0.0.1:6379/{15 - index}'


@pytest.mark.slow
@pytest.mark.parametrize(
    'page',
    [
        pytest.param(
            page,
            id=page.stem,
            marks=[pytest.mark.redis] if 'redis' in tutorials.parse(page).needs else [],
        )
        for page in PAGES
    ],
)
def test_the_tutorial_runs(page: Path, tmp_path: Path, worker_id: str) -> None:
    tutorial = tutorials.parse(page)
    env = {'CSTF_TEST_BROKER_URL': _redis_url(worker_id)}
    outcome = tutorials.run(tutorial, tmp_path, env)
    assert outcome.returncode == 0, outcome.output[-6000:]
