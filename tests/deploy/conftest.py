"""Shared fixtures of the offline checks of deploy/ (compose, Kubernetes, images)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / 'deploy'
K8S = DEPLOY / 'k8s'


@pytest.fixture(scope='session')
def settings() -> Any:
    """``torchgeo_cstf.jobs.settings``: QUEUES, GPU_QUEUES, ENVIRONMENT."""
    from torchgeo_cstf.jobs import settings as module

    for name in ('QUEUES', 'GPU_QUEUES', 'ENVIRONMENT'):
        assert hasattr(module, name), f'torchgeo_cstf.jobs.settings has no {name}'
    return module


@pytest.fixture(scope='session')
def parse_cstf() -> Callable[[list[str]], argparse.Namespace]:
    """Parse a ``cstf …`` command line with the real ``cstf`` argument parser."""
    from torchgeo_cstf.cli import build_parser

    parser = build_parser()

    def parse(argv: list[str]) -> argparse.Namespace:
        assert argv and argv[0] == 'cstf', f'not a cstf command: {argv}'
        try:
            return parser.parse_args([str(arg) for arg in argv[1:]])
        except SystemExit:
            pytest.fail(f'`cstf` rejects the command line {argv}')

    return parse


@pytest.fixture(scope='session')
def worker_queues(
    parse_cstf: Callable[[list[str]], argparse.Namespace],
) -> Callable[[list[str]], tuple[str, ...] | None]:
    """The queues of a ``cstf worker`` command line, ``None`` for other commands."""

    def queues(argv: list[str]) -> tuple[str, ...] | None:
        if list(argv[:2]) != ['cstf', 'worker']:
            return None
        args = parse_cstf(argv)
        return tuple(args.queues.split(','))

    return queues


def _kubectl() -> str:
    kubectl = shutil.which('kubectl')
    if kubectl is None:
        pytest.skip('kubectl is not installed: the manifests cannot be rendered')
    return kubectl


_RENDERED: dict[str, list[dict[str, Any]]] = {}


def render(target: str | Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize TARGET`` renders (cached per target).

    TARGET is a directory relative to deploy/k8s, or an absolute path.
    """
    key = str(target)
    if key not in _RENDERED:
        path = K8S / target if not Path(target).is_absolute() else Path(target)
        done = subprocess.run(
            [_kubectl(), 'kustomize', str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f'kustomize {target} failed:\n{done.stderr}'
        _RENDERED[key] = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    return _RENDERED[key]


@pytest.fixture(scope='session')
def kustomize() -> Callable[[str | Path], list[dict[str, Any]]]:
    """Render a kustomization (``kubectl kustomize``); skips without kubectl."""
    return render


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a Kubernetes label selector matches the labels.

    An empty selector matches everything (as in a NetworkPolicy or a PDB).
    """
    selector = selector or {}
    for key, value in (selector.get('matchLabels') or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get('matchExpressions') or []:
        key, operator = expression['key'], expression['operator']
        values = expression.get('values') or []
        if operator == 'In' and labels.get(key) not in values:
            return False
        if operator == 'NotIn' and labels.get(key) in values:
            return False
        if operator == 'Exists' and key not in labels:
            return False
        if operator == 'DoesNotExist' and key in labels:
            return False
    return True


@pytest.fixture(scope='session')
def label_selects() -> Callable[[Mapping[str, Any] | None, Mapping[str, str]], bool]:
    """:func:`selects` (label selector matching) for the tests."""
    return selects


_INTERPOLATION = re.compile(r'\$\{(\w+)(?::?-([^}]*))?\}')


def interpolate(value: Any) -> Any:
    """A compose value with ``${VAR:-default}`` replaced by its default."""
    if isinstance(value, str):
        return _INTERPOLATION.sub(lambda m: m.group(2) or '', value)
    return value


@pytest.fixture(scope='session')
def compose_interpolate() -> Callable[[Any], Any]:
    """:func:`interpolate` for the tests."""
    return interpolate
