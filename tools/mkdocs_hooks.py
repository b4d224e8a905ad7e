"""mkdocs hooks: pages whose content is generated from the code, so it cannot drift.

``docs/troubleshooting.md`` holds the marker ``<!-- error-codes -->``; at build
time it is replaced by :func:`torchgeo_cstf.errors.troubleshooting_markdown`,
read from ``torchgeo_cstf/errors.py`` itself (stdlib only, so the docs build
needs neither the package installed nor PyTorch).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

MARKER = '<!-- error-codes -->'
ERRORS = Path(__file__).resolve().parents[1] / 'torchgeo_cstf' / 'errors.py'


def _errors_module() -> Any:
    spec = importlib.util.spec_from_file_location('_cstf_errors_for_docs', ERRORS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Expand the error-code marker."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, _errors_module().troubleshooting_markdown())
