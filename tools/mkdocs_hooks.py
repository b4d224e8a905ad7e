"""mkdocs hooks: pages whose content is generated, so it cannot drift.

- ``docs/troubleshooting.md`` holds the marker ``<!-- error-codes -->``; at
  build time it is replaced by
  :func:`torchgeo_cstf.errors.troubleshooting_markdown`, read from
  ``torchgeo_cstf/errors.py`` itself (stdlib only, so the docs build needs
  neither the package installed nor PyTorch).
- Each tutorial holds ``<!-- tutorial-costs: NAME -->``; it is replaced by the
  figures ``benchmarks/tutorial_costs.py`` measured for that tutorial
  (``benchmarks/results/tutorial_costs.json``, and ``tutorial_costs_gpu.json``
  once measured on a GPU), each with its device.
- The site is named after the package version it documents.
- With ``CSTF_DOCS_VERSIONED=1`` (set by ``tox -e docs``, which CI runs) the
  site is built into a folder named after that version, ``SITE_DIR/<version>/``,
  beside the versions built before; ``SITE_DIR/versions.json`` lists them and
  ``SITE_DIR/index.html`` redirects to the version just built (mike's layout,
  without mike or git).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version  # a dependency of mkdocs

MARKER = '<!-- error-codes -->'
ROOT = Path(__file__).resolve().parents[1]
ERRORS = ROOT / 'torchgeo_cstf' / 'errors.py'
COSTS = re.compile(r'<!-- tutorial-costs: (\w+) -->')
RESULTS = ROOT / 'benchmarks' / 'results'
#: the environment variable that turns the versioned layout on
VERSIONED = 'CSTF_DOCS_VERSIONED'


def _errors_module() -> Any:
    spec = importlib.util.spec_from_file_location('_cstf_errors_for_docs', ERRORS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _hours(seconds: float) -> str:
    return f'{seconds / 3600:.1f} h' if seconds >= 3600 else f'{seconds / 60:.0f} min'


def _hrsc2016_full(f: dict[str, Any]) -> str:
    return (
        f'the full schedule: {f["train_step_s"]:.1f} s per training step '
        f'(ResNet-50, 800², batch 4) × {f["schedule_steps"]:,} steps ≈ '
        f'{_hours(f["train_step_s"] * f["schedule_steps"])}; detection at 800²: '
        f'{f["detect_images_per_s_800"]:.2f} images/s'
    )


def _dota_full(f: dict[str, Any]) -> str:
    return (
        f'training: {f["train_step_s_batch8"]:.1f} s per step of batch 8 at 1024² '
        f'(measured at batch {f["measured_batch"]}, scaled linearly) = '
        f'{f["hours_per_1000_steps"]:.1f} h per 1,000 steps; 12 epochs of '
        '10,000–25,000 patches are 15,000–37,500 steps'
    )


def _detect_full(f: dict[str, Any]) -> str:
    return f'`cstf detect` on a {f["scene_px"]}² scene: {f["seconds"]:.0f} s'


#: tutorial → the line of its full-size figures (tutorials that run at full
#: size as tested have none)
FULL_SIZE = {'hrsc2016': _hrsc2016_full, 'dota': _dota_full, 'detect': _detect_full}


def _full_size(name: str, full: dict[str, Any]) -> str:
    """The full-size line of one tutorial (empty when there is none)."""
    line = FULL_SIZE.get(name)
    return line(full[name]) if line is not None and name in full else ''


def tutorial_costs(name: str) -> str:
    """The "What it costs" text of a tutorial, from the measured figures."""
    lines = []
    for file, kind in (
        ('tutorial_costs.json', 'CPU'),
        ('tutorial_costs_gpu.json', 'GPU'),
    ):
        path = RESULTS / file
        if not path.is_file():
            lines.append(
                f'- **{kind}**: not measured yet (run `python benchmarks/tutorial_costs.py` '
                f'on a machine with a {kind}; its figures then appear here).'
            )
            continue
        report = json.loads(path.read_text())
        parts = []
        tested = report.get('tested_seconds', {}).get(name)
        if tested is not None:
            parts.append(f'this page as tested: {tested:.0f} s')
        full = _full_size(name, report.get('full_size', {}))
        if full:
            parts.append(full)
        lines.append(f'- **{kind}** ({report["device"]}): ' + '; '.join(parts) + '.')
    return (
        '\n'.join(lines)
        + '\n\nMeasured by `benchmarks/tutorial_costs.py` (the tested run uses the '
        'small data this page declares; the full-size figures use random tensors '
        'and synthetic scenes of the real sizes).\n'
    )


def package_version() -> str:
    """The package's version, read from its ``__init__.py`` (no import)."""
    text = (ROOT / 'torchgeo_cstf' / '__init__.py').read_text()
    found = re.search(r"^__version__ = '([^']+)'", text, re.MULTILINE)
    assert found is not None, 'torchgeo_cstf/__init__.py sets no __version__'
    return found[1]


def versioned() -> bool:
    """Whether this build goes into a folder named after the version."""
    return os.environ.get(VERSIONED, '').strip().lower() in {'1', 'true', 'yes'}


def on_config(config: Any, **_: Any) -> Any:
    """Name the site after the version it documents; versioned: build into ``<version>/``."""
    version = package_version()
    config['site_name'] = f'torchgeo-cstf {version}'
    if versioned():
        config['site_dir'] = str(Path(config['site_dir']) / version)
    return config


def _version_order(name: str) -> tuple[int, Version | str]:
    """Sort key of a folder name: versions by number, other names after them."""
    try:
        return (0, Version(name))
    except InvalidVersion:
        return (1, name)


def on_post_build(config: Any, **_: Any) -> None:
    """Versioned builds: list the built versions and point the root at this one.

    Writes ``versions.json`` (the version folders holding a built site, oldest
    first by version number: 0.9 before 0.10) and an ``index.html`` that redirects to the version just built,
    both in the folder above the version's.
    """
    if not versioned():
        return
    site = Path(config['site_dir'])
    root = site.parent
    versions = sorted(
        (
            folder.name
            for folder in root.iterdir()
            if folder.is_dir() and (folder / 'index.html').is_file()
        ),
        key=_version_order,
    )
    (root / 'versions.json').write_text(
        json.dumps({'latest': site.name, 'versions': versions}, indent=2) + '\n'
    )
    (root / 'index.html').write_text(
        '<!doctype html>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="refresh" content="0; url={site.name}/">\n'
        f'<link rel="canonical" href="{site.name}/">\n'
        f'<a href="{site.name}/">torchgeo-cstf {site.name}</a>\n'
    )


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Expand the error-code and tutorial-cost markers."""
    markdown = COSTS.sub(lambda match: tutorial_costs(match[1]), markdown)
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, _errors_module().troubleshooting_markdown())
