"""The API pages cover every public name (each module's ``__all__``)."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the public modules: each name in their ``__all__`` needs an API entry
PUBLIC = (
    'torchgeo_cstf.allocator',
    'torchgeo_cstf.datamodules',
    'torchgeo_cstf.datasets',
    'torchgeo_cstf.demo',
    'torchgeo_cstf.errors',
    'torchgeo_cstf.inference',
    'torchgeo_cstf.io',
    'torchgeo_cstf.jobs',
    'torchgeo_cstf.metrics',
    'torchgeo_cstf.models',
    'torchgeo_cstf.ops',
    'torchgeo_cstf.options',
    'torchgeo_cstf.plotting',
    'torchgeo_cstf.remote',
    'torchgeo_cstf.stac',
    'torchgeo_cstf.synthetic',
    'torchgeo_cstf.tasks',
)


def _directives() -> set[str]:
    found: set[str] = set()
    for page in (ROOT / 'docs' / 'api').glob('*.md'):
        found |= set(re.findall(r'^::: ([\w.]+)', page.read_text(), re.MULTILINE))
    return found


@pytest.mark.parametrize('module_name', PUBLIC)
def test_every_public_name_has_an_api_entry(module_name: str) -> None:
    module = importlib.import_module(module_name)
    documented = _directives()
    missing = []
    for name in getattr(module, '__all__', ()):
        value = getattr(module, name)
        home = getattr(value, '__module__', None)
        candidates = {module_name, f'{module_name}.{name}'}
        if isinstance(home, str) and home.startswith('torchgeo_cstf'):
            candidates |= {home, f'{home}.{name}'}
        if not candidates & documented:
            missing.append(name)
    assert not missing, f'{module_name}: no API entry for {missing}'


def test_every_api_page_is_in_the_site_navigation() -> None:
    nav = (ROOT / 'mkdocs.yml').read_text()
    for page in (ROOT / 'docs' / 'api').glob('*.md'):
        assert f'api/{page.name}' in nav, page.name
