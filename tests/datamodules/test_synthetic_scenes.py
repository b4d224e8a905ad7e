from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure
from torchgeo.main import main

from torchgeo_cstf.datamodules import SyntheticScenesDataModule
from torchgeo_cstf.datasets import SyntheticScenes
from torchgeo_cstf.errors import InputError


def test_scenes_are_deterministic_and_splits_disjoint() -> None:
    train = SyntheticScenes('train', length=3, size=96)
    again = SyntheticScenes('train', length=3, size=96)
    val = SyntheticScenes('val', length=3, size=96)
    assert len(train) == 3
    a, b = train[1], again[1]
    assert torch.equal(a['image'], b['image'])
    assert torch.equal(a['bbox'], b['bbox'])
    seeds = {train.scene_seed(i) for i in range(3)} | {
        val.scene_seed(i) for i in range(3)
    }
    assert len(seeds) == 6
    assert a['image'].dtype == torch.float32 and a['image'].shape == (3, 96, 96)
    assert a['bbox'].shape == (len(a['label']), 5)
    assert not a['difficult'].any()
    with pytest.raises(IndexError):
        train[3]
    with pytest.raises(InputError, match='split'):
        SyntheticScenes('holdout')


def test_temporal_samples_have_a_coregistered_reference() -> None:
    data = SyntheticScenes('train', length=1, size=128, temporal=True, modality='sar')
    sample = data[0]
    assert sample['reference'].shape == sample['image'].shape == (2, 128, 128)
    assert not torch.equal(sample['reference'], sample['image'])
    figure = data.plot(
        {
            **sample,
            'prediction_bbox': sample['bbox'],
            'prediction_label': sample['label'],
        }
    )
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 2


def test_datamodule_batches() -> None:
    datamodule = SyntheticScenesDataModule(
        batch_size=2, patch_size=64, train_length=2, val_length=2
    )
    datamodule.setup('fit')
    batch = next(iter(datamodule.train_dataloader()))
    assert batch['image'].shape == (2, 3, 64, 64)
    assert len(batch['bbox']) == len(batch['label']) == len(batch['bbox_xyxy']) == 2
    augmented = datamodule.train_aug(batch)
    assert augmented['image'].max() <= 1.0
    assert all(b.shape[-1] == 5 for b in augmented['bbox'])


@pytest.mark.slow
def test_torchgeo_fit_by_class_path(tmp_path: Path) -> None:
    main(
        [
            'fit',
            '--config',
            'tests/conf/synthetic_scenes.yaml',
            '--trainer.accelerator',
            'cpu',
            '--trainer.fast_dev_run',
            '1',
            '--trainer.default_root_dir',
            str(tmp_path),
        ]
    )
