import re
import subprocess
import sys
import tomllib
from pathlib import Path

import torchgeo_cstf
import workers
from torchgeo_cstf.errors import (
    BandCountError,
    CSTFError,
    InputError,
    InputNotFoundError,
    NoCRSError,
    NotARasterError,
    UnsupportedDtypeError,
)

ROOT = Path(__file__).resolve().parents[1]


def test_version_has_one_source() -> None:
    pyproject = tomllib.loads((ROOT / 'pyproject.toml').read_text())
    assert 'version' in pyproject['project']['dynamic']
    assert pyproject['tool']['setuptools']['dynamic']['version'] == {
        'attr': 'torchgeo_cstf.__version__'
    }
    assert re.fullmatch(r'\d+\.\d+\.\d+', torchgeo_cstf.__version__)
    assert workers.__name__ == 'workers'


def test_package_root_does_not_import_torch() -> None:
    code = (
        'import sys, torchgeo_cstf, torchgeo_cstf.errors; print("torch" in sys.modules)'
    )
    out = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == 'False'


def test_error_hierarchy_and_messages() -> None:
    err = NoCRSError('/data/scene.tif', 'has no coordinate reference system')
    assert isinstance(err, InputError)
    assert isinstance(err, CSTFError)
    assert isinstance(err, ValueError)
    assert str(err) == '/data/scene.tif: has no coordinate reference system'
    assert err.code == 'NO_CRS'
    assert isinstance(InputNotFoundError('x', 'missing'), FileNotFoundError)
    codes = {
        cls.code
        for cls in (
            InputNotFoundError,
            NotARasterError,
            NoCRSError,
            UnsupportedDtypeError,
            BandCountError,
        )
    }
    assert codes == {
        'INPUT_NOT_FOUND',
        'NOT_A_RASTER',
        'NO_CRS',
        'BAD_DTYPE',
        'BAD_BANDS',
    }


def test_errors_survive_pickling() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(BandCountError('a.tif', 'has 7 bands')))
    assert isinstance(err, BandCountError)
    assert err.subject == 'a.tif'
    assert str(err) == 'a.tif: has 7 bands'
