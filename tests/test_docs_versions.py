"""The versioned docs layout of tools/mkdocs_hooks.py (what `tox -e docs` builds)."""

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location(
    'hooks_versions', ROOT / 'tools' / 'mkdocs_hooks.py'
)
assert _SPEC is not None and _SPEC.loader is not None
hooks: Any = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(hooks)


def test_a_versioned_build_sits_beside_the_earlier_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / 'site'
    version = hooks.package_version()
    monkeypatch.delenv('CSTF_DOCS_VERSIONED', raising=False)
    assert hooks.on_config({'site_dir': str(site)})['site_dir'] == str(site)
    monkeypatch.setenv('CSTF_DOCS_VERSIONED', '1')
    config = hooks.on_config({'site_dir': str(site)})
    assert config['site_dir'] == str(site / version)
    assert config['site_name'] == f'torchgeo-cstf {version}'
    # earlier builds, one not a version, one folder without a site
    for name in ('0.0.9', '0.0.10', version, 'preview', 'notes'):
        (site / name).mkdir(parents=True, exist_ok=True)
        if name != 'notes':
            (site / name / 'index.html').write_text('<html></html>')
    hooks.on_post_build(config)
    listed = json.loads((site / 'versions.json').read_text())
    # by number (0.0.9 before 0.0.10), other names last, folders without a site out
    assert listed == {
        'latest': version,
        'versions': ['0.0.9', '0.0.10', version, 'preview'],
    }
    assert f'url={version}/' in (site / 'index.html').read_text()
