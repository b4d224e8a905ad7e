from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torchgeo.main import main

from torchgeo_cstf.datamodules.dota import DOTADataModule, pad_to_patch
from torchgeo_cstf.datasets.dota import DOTA, split_dota
from torchgeo_cstf.errors import InputError

ROOT = Path(__file__).parents[1] / 'data' / 'dota'
CONFIG = Path(__file__).parents[1] / 'conf' / 'dota.yaml'


def _trainer(stage: str) -> SimpleNamespace:
    flags = ('training', 'validating', 'sanity_checking', 'testing', 'predicting')
    return SimpleNamespace(**{flag: flag == stage for flag in flags})


def _train_batch(datamodule: DOTADataModule) -> dict[str, Any]:
    datamodule.setup('fit')
    return next(iter(datamodule.train_dataloader()))


def test_padded_batches_from_unsplit_root() -> None:
    datamodule = DOTADataModule(root=ROOT, batch_size=2, patch_size=64)
    batch = _train_batch(datamodule)
    assert len(datamodule.train_dataset) == 2 and len(datamodule.val_dataset) == 2
    assert batch['image'].shape == (2, 3, 64, 64)
    by_count = {len(boxes): boxes for boxes in batch['bbox']}
    for sample in DOTA(ROOT, 'train'):
        # padding only: the boxes keep their pixel coordinates
        assert torch.equal(by_count[len(sample['bbox'])], sample['bbox'])
    # P0000 (3 objects) is 64×48, P0001 56×64: the rest of the patch is zeros
    for image, boxes in zip(batch['image'], batch['bbox'], strict=True):
        if len(boxes) == 3:
            assert image[:, 48:].max() == 0 and image[:, :48].min() > 0
        else:
            assert image[:, :, 56:].max() == 0 and image[:, :, :56].min() > 0
    assert [len(d) for d in batch['difficult']] == [len(b) for b in batch['bbox']]


def test_train_augmentation_keeps_box_lists() -> None:
    datamodule = DOTADataModule(root=ROOT, batch_size=2, patch_size=64)
    batch = _train_batch(datamodule)
    torch.manual_seed(0)
    out = datamodule.train_aug(batch)
    assert out['image'].shape == (2, 3, 64, 64)
    assert out['image'].min() >= 0 and out['image'].max() <= 1
    assert isinstance(out['bbox'], list) and len(out['bbox']) == 2
    for key in ('label', 'difficult', 'bbox_xyxy'):
        assert [len(v) for v in out[key]] == [len(b) for b in out['bbox']]
    assert all(b.shape[-1] == 5 and b.dtype == torch.float32 for b in out['bbox'])


def test_horizontal_targets_shift_labels() -> None:
    datamodule = DOTADataModule(
        root=ROOT, batch_size=2, patch_size=64, horizontal_targets=True
    )
    batch = _train_batch(datamodule)
    datamodule.trainer = _trainer('validating')
    out = datamodule.on_after_batch_transfer(batch, 0)
    assert 'bbox' not in out
    assert [v.tolist() for v in out['label']] == [
        (v + 1).tolist() for v in batch['label']
    ]
    assert torch.equal(out['image'], batch['image'] / 255)


def test_split_folder_splits_and_test_stage(tmp_path: Path) -> None:
    for split in ('train', 'val'):
        split_dota(ROOT, tmp_path, split, '1.5', size=32, gap=8, progress=False)
    datamodule = DOTADataModule(
        root=tmp_path, batch_size=4, patch_size=32, version='1.5'
    )
    batch = _train_batch(datamodule)
    assert batch['image'].shape == (4, 3, 32, 32)
    assert datamodule.train_dataset.split == 'train'
    assert len(datamodule.train_dataset) == 12
    assert datamodule.val_dataset.split == 'val'
    datamodule.setup('test')
    # DOTA's test labels are not public: test runs on val
    assert datamodule.test_dataset.split == 'val'
    assert len(datamodule.test_dataset) == 13
    assert datamodule.test_dataset.classes[-1] == 'container-crane'


def test_image_larger_than_patch() -> None:
    datamodule = DOTADataModule(root=ROOT, batch_size=2, patch_size=32)
    datamodule.setup('fit')
    with pytest.raises(InputError, match=r'patch_size: a 48×64 px DOTA image'):
        datamodule.train_dataset[0]


def test_pad_to_patch() -> None:
    sample = {'image': torch.ones(3, 5, 7), 'bbox': torch.ones(1, 5)}
    out = pad_to_patch(sample, 8)
    assert out['image'].shape == (3, 8, 8)
    assert out['image'].sum() == 3 * 5 * 7
    assert out['bbox'] is sample['bbox']


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'version': '1'}, r"version: must be one of \('1.0', '1.5', '2.0'\)"),
        ({'patch_size': 0}, 'patch_size: must be positive'),
        ({'patch_size': 64.0}, 'patch_size: must be an integer'),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        DOTADataModule(root=ROOT, **kwargs)


@pytest.mark.slow
def test_torchgeo_fit_by_class_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plotted: list[dict[str, torch.Tensor]] = []
    plot = DOTA.plot

    def spy(self: DOTA, sample: dict[str, torch.Tensor], **kwargs: Any) -> Any:
        plotted.append(sample)
        return plot(self, sample, **kwargs)

    monkeypatch.setattr(DOTA, 'plot', spy)
    monkeypatch.setattr('sys.argv', ['torchgeo'])
    main(
        [
            'fit',
            '--config',
            str(CONFIG),
            '--data.dict_kwargs.root',
            str(ROOT),
            '--trainer.accelerator',
            'cpu',
            '--trainer.fast_dev_run',
            '1',
            '--trainer.default_root_dir',
            str(tmp_path),
        ]
    )
    # the validation step plotted the first val image (P0002: tennis-court,
    # bridge, swimming-pool) with labels shifted back to the dataset's
    assert len(plotted) == 1
    assert plotted[0]['label'].tolist() == [4, 8, 14]
    assert plotted[0]['image'].shape == (3, 64, 64)
    assert 'prediction_label' in plotted[0] and 'bbox' not in plotted[0]
