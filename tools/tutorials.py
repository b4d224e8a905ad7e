"""Run the tutorials' code blocks, so that the tutorials cannot rot.

Every ```` ```bash ```` and ```` ```python ```` block of a page in
``docs/tutorials/`` runs, in page order, in one ``bash`` script (each Python
block through ``python -`` on its own, so each must carry its own imports, as a
reader pasting it would need); blocks in other languages (``console``,
``yaml``, ``text``) are shown, not run. The script starts in a fresh working
directory that stands for the root of a checkout (``configs/``,
``benchmarks/`` and ``deploy/`` link to the repository's), and stops at the
first failing command.

A page tells the runner how to make its commands cheap in an HTML comment
(not rendered)::

    <!-- tutorial
    setup: cp -r "$REPO/tests/data/hrsc2016" data/HRSC2016
    replace: --trainer.max_epochs 36 => --trainer.max_steps 2
    timeout: 600
    needs: redis
    -->

``setup`` lines run first (tiny data in the real formats, ``$REPO`` is the
repository root); each ``replace`` substitutes text in the blocks (the text
must occur, so a stale replacement fails instead of silently testing less);
``timeout`` bounds the run in seconds; ``needs`` names services (``redis``).

Run one from a checkout: ``python tools/tutorials.py docs/tutorials/NAME.md``
(pages that need Redis use database 15 of the local server, emptied before
and after, or ``CSTF_TEST_BROKER_URL``).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: the repository root
REPO = Path(__file__).resolve().parents[1]
#: where the tutorials live
TUTORIALS = REPO / 'docs' / 'tutorials'
#: block languages that run
RUN = ('bash', 'python')
#: repository folders linked into the working directory
LINKED = ('configs', 'benchmarks', 'deploy')

_FENCE = re.compile(r'^```(\w*)[^\n]*\n(.*?)^```\s*$', re.MULTILINE | re.DOTALL)
_SPEC = re.compile(r'<!--\s*tutorial\s*\n(.*?)-->', re.DOTALL)


class TutorialError(Exception):
    """A tutorial page whose test instructions are malformed or stale."""


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    language: str
    code: str


@dataclass
class Tutorial:
    """A tutorial page and how its test runs it."""

    path: Path
    blocks: list[Block]
    setup: list[str] = field(default_factory=list)
    replacements: list[tuple[str, str]] = field(default_factory=list)
    timeout: float = 600.0
    needs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The page's file stem."""
        return self.path.stem


def parse(path: Path) -> Tutorial:
    """Read a tutorial page: its blocks and its test instructions.

    Raises:
        TutorialError: an instruction line the runner does not know.
    """
    text = path.read_text(encoding='utf-8')
    blocks = [Block(m[1], m[2]) for m in _FENCE.finditer(text)]
    tutorial = Tutorial(path, blocks)
    spec = _SPEC.search(text)
    for line in (spec[1] if spec else '').splitlines():
        if not line.strip():
            continue
        key, _, value = line.partition(':')
        key, value = key.strip(), value.strip()
        if key == 'setup':
            tutorial.setup.append(value)
        elif key == 'replace':
            old, arrow, new = value.partition(' => ')
            if not arrow:
                raise TutorialError(
                    f'{path.name}: replace needs "OLD => NEW": {line!r}'
                )
            tutorial.replacements.append((old, new))
        elif key == 'timeout':
            tutorial.timeout = float(value)
        elif key == 'needs':
            tutorial.needs = tuple(value.replace(',', ' ').split())
        else:
            raise TutorialError(f'{path.name}: unknown instruction {key!r}')
    return tutorial


def script(tutorial: Tutorial) -> str:
    """The bash script that runs a tutorial's blocks after its set-up.

    Raises:
        TutorialError: a replacement whose text occurs in no block.
    """
    code = [block for block in tutorial.blocks if block.language in RUN]
    for old, new in tutorial.replacements:
        if not any(old in block.code for block in code):
            raise TutorialError(f'{tutorial.name}: replace: {old!r} is in no block')
        code = [Block(b.language, b.code.replace(old, new)) for b in code]
    lines = ['set -euo pipefail', *tutorial.setup]
    for number, block in enumerate(code, 1):
        lines.append(f'echo "::: block {number} ({block.language})" >&2')
        if block.language == 'bash':
            lines.append(block.code)
        else:
            lines += ["python - <<'CSTF_TUTORIAL_PYTHON'", block.code.rstrip('\n')]
            lines.append('CSTF_TUTORIAL_PYTHON')
    return '\n'.join(lines) + '\n'


@dataclass(frozen=True)
class Outcome:
    """How a tutorial ran."""

    returncode: int
    output: str
    seconds: float


def run(
    tutorial: Tutorial, workdir: Path, env: Mapping[str, str] | None = None
) -> Outcome:
    """Run a tutorial in ``workdir``; background processes it starts are stopped.

    Args:
        tutorial: the parsed page.
        workdir: an empty directory, the stand-in for a checkout's root.
        env: extra environment variables; a tutorial that needs Redis gets
            ``CSTF_TEST_BROKER_URL``, a database emptied before and after.

    Returns:
        Its exit status, its output (stdout and stderr) and its wall time.

    Raises:
        TutorialError: a needed service is not there.
    """
    environment = dict(os.environ)
    environment.update(env or {})
    if 'redis' in tutorial.needs:
        _empty_redis(environment)
    try:
        return _run(tutorial, workdir, environment)
    finally:
        if 'redis' in tutorial.needs:
            _empty_redis(environment)


def _empty_redis(environment: Mapping[str, str]) -> None:
    """Empty the tutorial's own Redis database (``CSTF_TEST_BROKER_URL``).

    Raises:
        TutorialError: no such variable, or no Redis answering there.
    """
    import redis

    url = environment.get('CSTF_TEST_BROKER_URL')
    if not url:
        raise TutorialError(
            'needs redis: set CSTF_TEST_BROKER_URL to a database of its own'
        )
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.ConnectionError as err:
        raise TutorialError(f'no Redis at {url}: {err}') from None


def _run(tutorial: Tutorial, workdir: Path, environment: dict[str, str]) -> Outcome:
    for name in LINKED:
        link = workdir / name
        if not link.exists():
            link.symlink_to(REPO / name)
    (workdir / 'data').mkdir(exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)
    environment['PATH'] = bin_dir + os.pathsep + environment.get('PATH', '')
    environment['REPO'] = str(REPO)
    environment.setdefault('MPLBACKEND', 'Agg')
    path = workdir / f'{tutorial.name}.sh'
    path.write_text(script(tutorial), encoding='utf-8')
    began = time.monotonic()
    with subprocess.Popen(
        ['bash', str(path)],
        cwd=workdir,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=tutorial.timeout)
            code = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            code = -signal.SIGKILL
        finally:  # stop the workers and servers the tutorial left running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    return Outcome(code, output.decode(errors='replace'), time.monotonic() - began)


def pages() -> list[Path]:
    """The tutorial pages (not the index), in name order."""
    return sorted(p for p in TUTORIALS.glob('*.md') if p.name != 'index.md')


def main(argv: list[str] | None = None) -> int:
    """Run the tutorials named on the command line (default: all)."""
    names = (argv if argv is not None else sys.argv[1:]) or [str(p) for p in pages()]
    failed = 0
    env = {
        'CSTF_TEST_BROKER_URL': os.environ.get(
            'CSTF_TEST_BROKER_URL', 'redis://127.0.0.1:6379/15'
        )
    }
    for name in names:
        tutorial = parse(Path(name))
        with tempfile.TemporaryDirectory(prefix=f'tutorial-{tutorial.name}-') as work:
            outcome = run(tutorial, Path(work), env)
        status = 'ok' if outcome.returncode == 0 else f'FAILED ({outcome.returncode})'
        print(f'{tutorial.name}: {status} in {outcome.seconds:.0f} s')
        if outcome.returncode:
            print(outcome.output[-4000:])
            failed += 1
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
