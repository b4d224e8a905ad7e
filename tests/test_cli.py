import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import rasterio

from torchgeo_cstf import __version__
from torchgeo_cstf.cli import main
from torchgeo_cstf.synthetic import PairTruth, SceneTruth


def test_synth_scene(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / 'scene.tif'
    code = main(
        [
            'synth',
            'scene',
            str(out),
            '--size',
            '200x240',
            '--seed',
            '3',
            '--truth',
            str(tmp_path / 't.json'),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    truth = SceneTruth.load(tmp_path / 't.json')
    assert f'{len(truth.objects)} objects' in printed
    assert '200x240 px' in printed
    with rasterio.open(out) as src:
        assert (src.height, src.width) == (200, 240)


def test_synth_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            'synth',
            'pair',
            str(tmp_path / 'r.tif'),
            str(tmp_path / 'q.tif'),
            '--size',
            '128',
            '--modality',
            'thermal',
            '--warp',
            'affine',
            '--scale',
            '1:1.2',
            '--truth',
            str(tmp_path / 'p.json'),
        ]
    )
    assert code == 0
    truth = PairTruth.load(tmp_path / 'p.json')
    assert truth.query.modality == 'thermal'
    assert truth.warp_model == 'affine'
    assert 'warp (affine)' in capsys.readouterr().out


def test_user_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            '-m',
            'torchgeo_cstf.cli',
            'synth',
            'scene',
            str(tmp_path / 'x.tif'),
            '--size',
            '8',
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith('cstf: error: size: must be')
    assert 'Traceback' not in result.stderr
    result = subprocess.run(
        [
            sys.executable,
            '-m',
            'torchgeo_cstf.cli',
            'synth',
            'scene',
            'x.tif',
            '--size',
            'big',
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "'big' is not a size" in result.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(['--version'])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f'cstf {__version__}'


def test_export_writes_half_precision_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from torchgeo_cstf.models import CSTFDetector
    from torchgeo_cstf.models.weights import sha256_of

    detector = CSTFDetector(backbone='regnetx_002', channels=16, num_classes=2)
    state = {f'model.{k}': v for k, v in detector.state_dict().items()}
    torch.save({'state_dict': state}, tmp_path / 'run.ckpt')
    code = main(['export', str(tmp_path / 'run.ckpt'), str(tmp_path / 'w.pth')])
    assert code == 0
    digest = sha256_of(tmp_path / 'w.pth')
    assert digest in capsys.readouterr().out
    exported = torch.load(tmp_path / 'w.pth', weights_only=True)
    assert exported['head.cls.weight'].dtype == torch.float16
    assert exported['trunk.stem.bn.num_batches_tracked'].dtype == torch.int64
    restored = CSTFDetector(backbone='regnetx_002', channels=16, num_classes=2)
    restored.load_state_dict(exported)
    torch.testing.assert_close(
        restored.head.cls.weight, detector.head.cls.weight, atol=1e-3, rtol=1e-3
    )


def test_broken_rasters_exit_2_with_their_code(
    tmp_path: Path, bad_rasters: Callable[[Path], dict[str, Path]]
) -> None:
    bad = bad_rasters(tmp_path / 'bad')

    def cstf(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, '-m', 'torchgeo_cstf.cli', *argv],
            capture_output=True,
            text=True,
            check=False,
        )

    cases = {
        'truncated': 'cannot read rows',
        'corrupt': 'cannot read rows 0–1023, cols 0–1023',  # its one tile
        'unknown_codec': 'missing codec of code 65000',
        'nodata': 'no valid pixel',
        'nan': 'no valid pixel',
        'line': 'too small',
    }
    for name, message in cases.items():
        result = cstf(
            'detect', str(bad[name]), '--out', str(tmp_path / f'{name}.gpkg'), '--quiet'
        )
        assert result.returncode == 2, (name, result.stderr)
        assert f'cstf: error: {bad[name]}: ' in result.stderr
        assert message in result.stderr and 'Traceback' not in result.stderr
        assert not (tmp_path / f'{name}.gpkg').exists()
    good = bad['good']
    match = cstf(
        'match', str(bad['truncated']), str(good), '--out', str(tmp_path / 'coreg')
    )
    assert match.returncode == 2, match.stderr
    assert 'truncated or damaged' in match.stderr and 'Traceback' not in match.stderr
    # an all-nodata query on the reference's ground: refused, not "no transform"
    empty = cstf(
        'match', str(good), str(bad['nodata']), '--out', str(tmp_path / 'empty')
    )
    assert empty.returncode == 2, empty.stderr
    assert f'cstf: error: {bad["nodata"]}: has no valid pixel' in empty.stderr
    assert 'nothing to match' in empty.stderr and 'Traceback' not in empty.stderr
    assert not (tmp_path / 'empty').exists()
