"""deploy/docker: the Dockerfiles and the build context (.dockerignore)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / 'deploy' / 'docker'
DOCKERFILES = (DOCKER / 'Dockerfile.cpu', DOCKER / 'Dockerfile.gpu')
DOCKERIGNORE = REPO / '.dockerignore'
SECRET_NAME = re.compile('PASSWORD|SECRET|TOKEN', re.IGNORECASE)
#: image reference pinned by an exact tag (with a digit) and/or a digest
PINNED = re.compile(r'[a-z0-9][\w./-]*(:[\w.-]*\d[\w.-]*)?(@sha256:[0-9a-f]{64})?')

dockerfiles = pytest.mark.parametrize('path', DOCKERFILES, ids=lambda p: p.name)


# --- a small Dockerfile parser -------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    value: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON (exec) form of the value, ``None`` for the shell form."""
        try:
            parsed = json.loads(self.value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, list) else None


def parse(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and comments dropped."""
    instructions: list[Instruction] = []
    stage = -1
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buffer and (not line or line.startswith('#')):
            continue
        if buffer and line.startswith('#'):
            continue  # comment lines inside a continuation are removed
        if not buffer:
            start = number
        if line.endswith('\\'):
            buffer.append(line[:-1].strip())
            continue
        buffer.append(line)
        keyword, _, value = ' '.join(part for part in buffer if part).partition(' ')
        buffer = []
        keyword = keyword.upper()
        if keyword == 'FROM':
            stage += 1
        instructions.append(Instruction(stage, keyword, value.strip(), start))
    assert not buffer, 'the file ends inside a line continuation'
    return instructions


def variables(value: str) -> dict[str, str | None]:
    """The names and values of an ENV or ARG instruction."""
    words = shlex.split(value)
    if len(words) >= 2 and '=' not in words[0]:  # legacy `ENV NAME value`
        return {words[0]: ' '.join(words[1:])}
    found: dict[str, str | None] = {}
    for word in words:
        name, equals, default = word.partition('=')
        found[name] = default if equals else None
    return found


def problems(text: str) -> list[str]:
    """What is wrong with a Dockerfile of this project."""
    instructions = parse(text)
    found = []
    aliases: set[str] = set()
    final = max(i.stage for i in instructions)
    for item in instructions:
        if item.keyword == 'FROM':
            words = [w for w in item.value.split() if not w.startswith('--')]
            image = words[0]
            if len(words) == 3 and words[1].upper() == 'AS':
                aliases.add(words[2].lower())
            if image.lower() in aliases - {words[-1].lower()}:
                continue  # an earlier stage
            tagged = ':' in image.rsplit('/', 1)[-1] or '@sha256:' in image
            if not (PINNED.fullmatch(image) and tagged) or image.endswith(':latest'):
                found.append(f'line {item.line}: FROM {image} is not pinned')
        if item.keyword in ('ENV', 'ARG'):
            for name, value in variables(item.value).items():
                if SECRET_NAME.search(name) and (value or item.keyword == 'ARG'):
                    found.append(f'line {item.line}: {item.keyword} {name} is a secret')
    last = [i for i in instructions if i.stage == final]
    users = [i.value for i in last if i.keyword == 'USER']
    if not users:
        found.append('the final stage runs as root (no USER)')
    elif not re.fullmatch(r'\d+(:\d+)?', users[-1]) or users[-1].split(':')[0] == '0':
        found.append(f'USER {users[-1]}: not a numeric non-root uid')
    entrypoints = [i.exec_form() for i in last if i.keyword == 'ENTRYPOINT']
    if not entrypoints or not entrypoints[-1]:
        found.append('no ENTRYPOINT in exec form')
    elif Path(entrypoints[-1][0]).name != 'tini' or entrypoints[-1][1:2] != ['--']:
        found.append(f'ENTRYPOINT {entrypoints[-1]} is not tini')
    checks = [i.value for i in last if i.keyword == 'HEALTHCHECK']
    if not checks or checks[-1].upper() == 'NONE':
        found.append('no HEALTHCHECK')
    return found


def final_stage(path: Path) -> list[Instruction]:
    instructions = parse(path.read_text())
    final = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == final]


# --- the Dockerfiles -------------------------------------------------------------


@dockerfiles
def test_dockerfile_rules(path: Path) -> None:
    assert problems(path.read_text()) == []


@pytest.mark.parametrize(
    ('change', 'problem'),
    [
        (('USER 10001:10001', 'USER root'), 'not a numeric non-root uid'),
        (('USER 10001:10001', 'USER 0:0'), 'not a numeric non-root uid'),
        (('USER 10001:10001\n', ''), 'runs as root'),
        (('ENTRYPOINT ["/usr/bin/tini", "--"]', 'ENTRYPOINT ["cstf"]'), 'not tini'),
        (('HEALTHCHECK', '# HEALTHCHECK'), 'no HEALTHCHECK'),
        (('ARG VCS_REF=unknown', 'ARG REDIS_PASSWORD'), 'REDIS_PASSWORD is a secret'),
        (('ARG VCS_REF=unknown', 'ENV CSTF_TOKEN=abc'), 'CSTF_TOKEN is a secret'),
        (('ARG VCS_REF=unknown', 'ENV Redis_Secret hunter2'), 'is a secret'),
        (('python:3.12.13-slim-bookworm AS build', 'python AS build'), 'not pinned'),
        (('python:3.12.13-slim-bookworm AS build', 'python:latest AS build'), 'pinned'),
    ],
)
def test_dockerfile_checker_catches(tmp_path: Path, change, problem) -> None:
    # a broken copy of the CPU Dockerfile
    old, new = change
    text = (DOCKER / 'Dockerfile.cpu').read_text()
    assert old in text
    broken = tmp_path / 'Dockerfile'
    broken.write_text(text.replace(old, new, 1))
    found = problems(broken.read_text())
    assert any(problem in p for p in found), found


def test_parser_joins_continuations() -> None:
    text = 'FROM a:1.0 AS b\n# c\nRUN x \\\n  # inner comment\n  && y\nUSER 1\n'
    instructions = parse(text)
    assert [(i.keyword, i.value, i.line) for i in instructions] == [
        ('FROM', 'a:1.0 AS b', 1),
        ('RUN', 'x && y', 3),
        ('USER', '1', 6),
    ]


@dockerfiles
def test_runtime_stage(path: Path, settings, worker_queues) -> None:
    last = final_stage(path)
    env: dict[str, str | None] = {}
    for item in last:
        if item.keyword == 'ENV':
            env.update(variables(item.value))
    assert env['CSTF_ALLOWED_ROOTS'] == '/data'
    cstf = {name for name in env if name.startswith('CSTF_')}
    assert cstf <= set(settings.ENVIRONMENT), cstf - set(settings.ENVIRONMENT)
    assert env['CSTF_DEVICE'] == ('cuda' if path.suffix == '.gpu' else 'cpu')
    assert any(i.keyword == 'VOLUME' and '/data' in i.value for i in last)
    # the package and its shipped weights are checked at build time
    assert any(i.keyword == 'RUN' and 'cstf models --json' in i.value for i in last)
    (cmd,) = [i.exec_form() for i in last if i.keyword == 'CMD']
    assert set(worker_queues(cmd)) == set(settings.QUEUES), 'a worker on all queues'
    (check,) = [i.value for i in last if i.keyword == 'HEALTHCHECK']
    probe = json.loads(check[check.index('CMD') + 3 :])
    assert probe[:3] == ['python', '-m', 'workers.probe'] and '--max-age' in probe
    labels = ' '.join(i.value for i in last if i.keyword == 'LABEL')
    for key in ('title', 'version', 'revision', 'licenses', 'base.name'):
        assert f'org.opencontainers.image.{key}=' in labels
    assert any(i.keyword == 'EXPOSE' and '9808' in i.value.split() for i in last)


@dockerfiles
def test_python_312_and_torch_pins(path: Path) -> None:
    instructions = parse(path.read_text())
    froms = [i.value.split()[0] for i in instructions if i.keyword == 'FROM']
    if path.suffix == '.cpu':
        assert all(re.fullmatch(r'python:3\.12\.\d+-slim-bookworm', f) for f in froms)
    else:
        assert all(
            re.fullmatch(r'nvidia/cuda:[\d.]+-cudnn-runtime-ubuntu24\.04', f)
            for f in froms
        )
    args = {}
    for item in instructions:
        if item.keyword == 'ARG':
            args.update(variables(item.value))
    assert args['TORCH_VERSION'] == '2.14.1' and args['TORCHVISION_VERSION'] == '0.29.1'
    assert args['TORCH_INDEX_URL'].startswith('https://download.pytorch.org/whl/')
    pyproject = (REPO / 'pyproject.toml').read_text()
    assert '"torch>=2.6,<=2.14.1"' in pyproject, 'update TORCH_VERSION with the pin'


# --- the build context -------------------------------------------------------------


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex (Docker's path matching)."""
    pattern = pattern.strip().strip('/')
    out, i = '', 0
    while i < len(pattern):
        if pattern.startswith('**/', i):
            out, i = out + '(?:.*/)?', i + 3
        elif pattern.startswith('**', i):
            out, i = out + '.*', i + 2
        elif pattern[i] == '*':
            out, i = out + '[^/]*', i + 1
        elif pattern[i] == '?':
            out, i = out + '[^/]', i + 1
        elif pattern[i] == '[':
            end = pattern.index(']', i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def ignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        negated = line.startswith('!')
        rules.append((negated, _pattern(line.removeprefix('!'))))
    return rules


def excluded(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether Docker leaves PATH out of the context: the last rule matching the
    path or one of its parent directories decides."""
    parts = path.split('/')
    candidates = ['/'.join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negated, regex in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            result = not negated
    return result


MUST_EXCLUDE = (
    '.git/config',
    '.git/objects/ab/cdef',
    'data/scene.tif',
    'runs/detector/version_0/metrics.csv',
    '.tox/py312/bin/python',
    'model.ckpt',
    'lightning_logs/version_1/checkpoints/epoch=3.ckpt',
    'torchgeo_cstf/models/last.ckpt',
    'deploy/secrets/redis_password',
    'deploy/.env',
    'torchgeo_cstf/__pycache__/cli.cpython-312.pyc',
)


def context_problems(text: str) -> list[str]:
    rules = ignore_rules(text)
    found = [
        f'{p} is sent to the build' for p in MUST_EXCLUDE if not excluded(p, rules)
    ]
    for path in copied_files():
        if excluded(path, rules):
            found.append(f'{path} is COPYed but excluded')
    return found


def copied_files() -> list[str]:
    """The tracked files the Dockerfiles COPY from the context."""
    sources = set()
    for dockerfile in DOCKERFILES:
        for item in parse(dockerfile.read_text()):
            if item.keyword == 'COPY' and '--from=' not in item.value:
                words = item.value.split()
                sources.update(w for w in words[:-1] if not w.startswith('--'))
    listed = subprocess.run(
        ['git', 'ls-files', '--cached', '--others', '--exclude-standard', *sources],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(sources) <= {p.split('/')[0] for p in listed} | set(listed), sources
    return listed


def test_dockerignore() -> None:
    files = copied_files()
    assert any(f.endswith('.pth') for f in files), 'the weights are package data'
    assert 'pyproject.toml' in files
    assert context_problems(DOCKERIGNORE.read_text()) == []


def test_dockerignore_check_catches_a_leak(tmp_path: Path) -> None:
    # a broken copy: the deploy folder allowed back in, workers/ left out
    broken = tmp_path / '.dockerignore'
    broken.write_text(DOCKERIGNORE.read_text() + '!deploy/\nworkers/\n')
    found = context_problems(broken.read_text())
    assert 'deploy/secrets/redis_password is sent to the build' in found
    assert 'workers/app.py is COPYed but excluded' in found


@pytest.mark.parametrize(
    ('pattern', 'path', 'match'),
    [
        ('*.ckpt', 'a.ckpt', True),
        ('*.ckpt', 'runs/a.ckpt', False),  # `*` stays in the root
        ('**/*.ckpt', 'runs/x/a.ckpt', True),
        ('**/*.ckpt', 'a.ckpt', True),
        ('data/', 'data/x/y.tif', True),  # a parent folder matches
        ('.git', '.gitignore', False),
    ],
)
def test_ignore_matching(pattern, path, match) -> None:
    assert excluded(path, ignore_rules(pattern)) is match
