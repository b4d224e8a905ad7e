from pathlib import Path

import pytest
import torch
from torchgeo.main import main

from torchgeo_cstf.datamodules import HITUAVDataModule
from torchgeo_cstf.errors import InputError
from torchgeo_cstf.tasks import CSTFDetection

ROOT = Path(__file__).parents[1] / 'data' / 'hit_uav' / 'rotate_xml'
CONFIG = Path(__file__).parents[1] / 'conf' / 'hit_uav_cstf.yaml'


def test_training_drops_difficult_boxes_evaluation_keeps_them() -> None:
    datamodule = HITUAVDataModule(root=ROOT, batch_size=2, patch_size=(96, 128))
    datamodule.setup('fit')
    batch = next(iter(datamodule.train_dataloader()))
    assert batch['image'].shape == (2, 3, 96, 128)
    # the three bands are the thermal band repeated
    assert torch.equal(batch['image'][:, 0], batch['image'][:, 2])
    # the 64x48 fake images are scaled by 2 (the loader shuffles them): one kept
    # no box (it held a difficult bicycle and a DontCare region)
    counts = [len(b) for b in batch['bbox']]
    assert sorted(counts) == [0, 2]
    boxes = batch['bbox'][counts.index(2)]
    assert boxes[:, :2].flatten().tolist() == pytest.approx([41.0, 30.5, 88.0, 67.0])
    assert not any(d.any() for d in batch['difficult'])
    val = next(iter(datamodule.val_dataloader()))
    assert [len(b) for b in val['bbox']] == [0]
    datamodule.setup('test')
    test = next(iter(datamodule.test_dataloader()))
    assert [len(b) for b in test['bbox']] == [1, 2]
    one_band = HITUAVDataModule(root=ROOT, bands=1, patch_size=(48, 64))
    one_band.setup('fit')
    assert one_band.train_dataset is not None
    assert one_band.train_dataset[1]['image'].shape == (1, 48, 64)
    with pytest.raises(InputError, match='bands'):
        HITUAVDataModule(root=ROOT, bands=2)


def test_fine_tunes_the_synthetic_weights_to_four_classes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).parents[2])
    monkeypatch.setattr('sys.argv', ['torchgeo'])
    main(
        [
            'fit',
            '--config',
            str(CONFIG),
            '--trainer.accelerator',
            'cpu',
            '--trainer.fast_dev_run',
            '1',
            '--trainer.default_root_dir',
            str(tmp_path),
        ]
    )
    # without `fresh` the synthetic weights' 3-class logits do not fit 4 classes
    with pytest.raises(InputError, match='do not fit'):
        CSTFDetection(
            backbone='regnetx_002',
            num_classes=4,
            channels=96,
            weights='CSTFDetectorRegNetX002_Weights.SYNTHETIC',
        )


def test_quarter_turns_only_for_square_patches() -> None:
    import kornia.augmentation as K

    def turns(datamodule: HITUAVDataModule) -> int:
        steps = datamodule.train_aug.sequence.children()
        return sum(isinstance(m, K.RandomRotation90) for m in steps)

    wide = HITUAVDataModule(root=ROOT, batch_size=2, patch_size=(96, 128))
    assert (
        turns(wide) == 0
        and turns(HITUAVDataModule(root=ROOT, patch_size=(96, 96))) == 1
    )
    # a training batch of the non-square patches goes through every augmentation
    # (kornia >= 0.9.2 refuses quarter turns of non-square images)
    wide.setup('fit')
    batch = next(iter(wide.train_dataloader()))
    torch.manual_seed(0)
    for _ in range(4):
        out = wide.on_after_batch_transfer(batch, 0)
        assert out['image'].shape == (2, 3, 96, 128)
