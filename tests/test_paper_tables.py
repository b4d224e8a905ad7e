"""benchmarks/paper_tables.py end to end on the fake-format data and synthetic scenes."""

import importlib.util
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lightning.pytorch import LightningDataModule, Trainer

from torchgeo_cstf.datamodules import DOTADataModule, HRSC2016DataModule
from torchgeo_cstf.datasets.dota import VERSION_CLASSES
from torchgeo_cstf.errors import InputError
from torchgeo_cstf.tasks import CSTFDetection

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / 'tests' / 'data'
_SPEC = importlib.util.spec_from_file_location(
    'paper_tables', ROOT / 'benchmarks' / 'paper_tables.py'
)
assert _SPEC is not None and _SPEC.loader is not None
paper_tables: Any = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(paper_tables)

pytestmark = pytest.mark.slow


def _checkpoint(folder: Path, datamodule: LightningDataModule, classes: int) -> Path:
    """A CSTFDetection checkpoint after two training steps (the harness's input)."""
    task = CSTFDetection(backbone='regnetx_002', num_classes=classes, channels=32)
    trainer = Trainer(
        max_steps=2,
        accelerator='cpu',
        logger=False,
        enable_checkpointing=False,
        limit_val_batches=0,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(task, datamodule=datamodule)
    path = folder / 'model.ckpt'
    trainer.save_checkpoint(path)
    return path


def test_hrsc2016_table_speed_and_markdown(tmp_path: Path) -> None:
    datamodule = HRSC2016DataModule(
        batch_size=2, patch_size=128, train_split='trainval', val_split='test',
        root=DATA / 'hrsc2016',
    )  # fmt: skip
    ckpt = _checkpoint(tmp_path, datamodule, 1)
    out = tmp_path / 'tables'
    report = paper_tables.main([
        '--checkpoint', str(ckpt), '--hrsc', str(DATA / 'hrsc2016'),
        '--hrsc-size', '128', '--data-kind', 'fake-format', '--repeats', '2',
        '--out', str(out),
    ])  # fmt: skip
    table = report['hrsc2016']
    assert table['images'] == 2 and table['split'] == 'test'
    assert set(table['ap07']) == {'ship'}
    for key in ('map07', 'map12'):
        assert 0.0 <= table[key] <= 100.0
    assert table['map07'] == pytest.approx(table['ap07']['ship'])
    assert report['speed']['fps'] > 0 and report['speed']['input'] == 128
    assert 'CPU' in report['speed']['device']
    saved = json.loads((out / 'paper_tables.json').read_text())
    assert saved['hrsc2016']['map07'] == table['map07']
    text = (out / 'paper_tables.md').read_text()
    assert '## HRSC2016 (test split, fake-format data, input 128)' in text
    assert '| ship |' in text and '## Speed' in text
    # a checkpoint of other classes is refused, naming both counts
    with pytest.raises(InputError, match='detects 1 classes but the data have 5'):
        paper_tables.main([
            '--checkpoint', str(ckpt), '--hrsc', str(DATA / 'hrsc2016'),
            '--hrsc-classes', 'L2', '--hrsc-size', '128', '--out', str(out),
        ])  # fmt: skip


def test_dota_val_scored_and_test_written_as_task1(tmp_path: Path) -> None:
    classes = VERSION_CLASSES['1.0']
    datamodule = DOTADataModule(batch_size=2, patch_size=64, root=DATA / 'dota')
    ckpt = _checkpoint(tmp_path, datamodule, len(classes))
    out = tmp_path / 'tables'
    report = paper_tables.main([
        '--checkpoint', str(ckpt), '--dota', str(DATA / 'dota'),
        '--dota-test', str(DATA / 'dota'), '--dota-size', '64', '--dota-gap', '16',
        '--data-kind', 'fake-format', '--repeats', '1', '--out', str(out),
    ])  # fmt: skip
    table = report['dota']
    assert table['split'] == 'val' and table['images'] == 2
    assert set(table['ap07']) == set(classes)
    scored = [v for v in table['ap07'].values() if not math.isnan(v)]
    assert scored and table['map07'] == pytest.approx(sum(scored) / len(scored))
    # the classes with ground truth in the fake val images are the scored ones
    assert {n for n, v in table['ap07'].items() if not math.isnan(v)} == {
        n for n, count in table['ground_truths'].items() if count
    }
    files = sorted(p.name for p in (out / 'dota_val').glob('Task1_*.txt'))
    assert len(files) == len(classes)
    with zipfile.ZipFile(table['test_submission']['zip']) as bundle:
        assert sorted(bundle.namelist()) == files
    assert report['speed']['input'] == 64
    # only the test images: the speed is still measured at the DOTA size
    report = paper_tables.main([
        '--checkpoint', str(ckpt), '--dota-test', str(DATA / 'dota'),
        '--dota-size', '64', '--dota-gap', '16', '--data-kind', 'fake-format',
        '--repeats', '1', '--out', str(tmp_path / 'test_only'),
    ])  # fmt: skip
    assert 'test_submission' in report['dota'] and 'ap07' not in report['dota']
    assert report['speed']['input'] == 64


@pytest.mark.parametrize(
    ('given', 'expected'),
    [
        (['--hrsc', 'H', '--dota', 'D'], 800),
        (['--dota', 'D'], 1024),
        (['--dota-test', 'D'], 1024),
        (['--dota-test', 'D', '--dota-size', '640'], 640),
        (['--synthetic', '2', '--synthetic-size', '256'], 256),
        (['--dota-test', 'D', '--speed-size', '320'], 320),
    ],
)
def test_the_speed_input_is_the_scored_data_size(
    given: list[str], expected: int
) -> None:
    args = paper_tables.parse_args(['--checkpoint', 'ckpt', *given])
    assert paper_tables.speed_input(args) == expected


def test_the_ablation_times_the_set_it_trains_on() -> None:
    # DOTA is scored, but the ablation trains on the synthetic scenes: their size
    args = paper_tables.parse_args(
        ['--fusion', '--dota', 'D', '--synthetic', '2', '--synthetic-size', '256']
    )
    assert paper_tables.ablation_data(args) == 'synthetic'
    assert paper_tables.speed_input(args) == 1024
    assert paper_tables.speed_input(args, 'synthetic') == 256


def test_fusion_ablation_rows_from_one_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = paper_tables.main([
        '--fusion', '--synthetic', '2', '--synthetic-size', '128', '--steps', '1',
        '--train-batch', '1', '--backbone', 'regnetx_002', '--repeats', '1',
        '--out', str(tmp_path),
    ])  # fmt: skip
    ablation = report['ablation']
    assert list(ablation['rows']) == ['none', 'sum', 'ca', 'sca', 'concat']
    assert ablation['data'] == 'synthetic' and ablation['steps'] == 1
    assert ablation['dataset'] == 'synthetic scenes'
    assert 'fusion ablation: training and scoring on synthetic scenes' in (
        capsys.readouterr().out
    )
    for row in ablation['rows'].values():
        assert row['images'] == 2 and 0.0 <= row['map07'] <= 100.0 and row['fps'] > 0
    assert ablation['best'] in ablation['rows']
    text = (tmp_path / 'paper_tables.md').read_text()
    assert 'CA‖SCA (concat)' in text
    assert '## Fusion ablation (synthetic scenes, synthetic data, 1 steps' in text


@pytest.mark.parametrize('dota', [['--dota', 'D'], ['--dota-test', 'D']])
def test_fusion_on_dota_only_is_refused_naming_the_sets(
    dota: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        paper_tables.parse_args(['--fusion', *dota])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert (
        'HRSC2016 (--hrsc ROOT)' in error
        and 'synthetic scenes (--synthetic N)' in error
    )
    assert 'does not train on DOTA' in error
