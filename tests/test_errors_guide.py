import importlib.util
import inspect
from pathlib import Path

import pytest

from torchgeo_cstf import errors
from torchgeo_cstf.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_every_error_class_documents_its_own_cause_and_fix() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, errors.CSTFError)
    ]
    assert len(classes) >= 19
    for cls in classes:
        # its own code, cause and fix (an inherited text would describe the parent)
        assert {'code', 'cause', 'fix'} <= set(vars(cls)), cls.__name__
        assert cls.cause.strip() and cls.fix.strip(), cls.__name__
    codes = [entry.code for entry in errors.error_codes()]
    assert len(codes) == len(set(codes))
    assert {c.code for c in classes} | {'TIME_LIMIT', 'IO_ERROR'} <= set(codes)


def test_the_docs_page_is_generated_from_the_code() -> None:
    page = (ROOT / 'docs' / 'troubleshooting.md').read_text()
    spec = importlib.util.spec_from_file_location(
        'hooks', ROOT / 'tools' / 'mkdocs_hooks.py'
    )
    assert spec is not None
    assert spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    assert hooks.MARKER in page
    built = hooks.on_page_markdown(page)
    for entry in errors.error_codes():
        assert f'### `{entry.code}`' in built
        assert entry.fix in built
    assert hooks.on_page_markdown('# other page') == '# other page'


def test_cstf_errors_prints_the_guide(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['errors', 'corrupt_raster']) == 0
    out = capsys.readouterr().out
    assert out.startswith('CORRUPT_RASTER (CorruptRasterError):')
    assert 'gdalinfo -checksum' in out
    assert main(['errors']) == 0
    assert capsys.readouterr().out.count('\n  fix:') == len(errors.error_codes())
    assert main(['errors', 'NOPE']) == 2
    assert 'is not an error code' in capsys.readouterr().err
