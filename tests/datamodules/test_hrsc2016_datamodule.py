from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torchgeo.main import main

from torchgeo_cstf.datamodules.hrsc2016 import HRSC2016DataModule
from torchgeo_cstf.datasets.hrsc2016 import HRSC2016
from torchgeo_cstf.errors import InputError
from torchgeo_cstf.ops import cxcywhr_to_poly

ROOT = Path(__file__).parents[1] / 'data' / 'hrsc2016'
CONFIG = Path(__file__).parents[1] / 'conf' / 'hrsc2016.yaml'


def _trainer(stage: str) -> SimpleNamespace:
    flags = ('training', 'validating', 'sanity_checking', 'testing', 'predicting')
    return SimpleNamespace(**{flag: flag == stage for flag in flags})


def _train_batch(datamodule: HRSC2016DataModule) -> dict[str, Any]:
    datamodule.setup('fit')
    return next(iter(datamodule.train_dataloader()))


def test_letterboxed_train_batch() -> None:
    datamodule = HRSC2016DataModule(root=ROOT, batch_size=2)
    batch = _train_batch(datamodule)
    assert datamodule.train_dataset is not None and datamodule.val_dataset is not None
    assert len(datamodule.train_dataset) == 2 and len(datamodule.val_dataset) == 2
    assert batch['image'].shape == (2, 3, 800, 800)
    # 64×48 images: scaled by 800 / 64 = 12.5, the bottom 200 rows are padding
    assert batch['scale'].tolist() == [[12.5, 12.5], [12.5, 12.5]]
    assert batch['image'][:, :, 600:].abs().max() == 0
    assert batch['image'][:, :, :600].min() > 0
    dataset = HRSC2016(ROOT, split='train')
    by_count = {len(boxes): boxes for boxes in batch['bbox']}
    for sample in dataset:
        expected = sample['bbox'].clone()
        expected[:, :4] *= 12.5
        assert torch.allclose(by_count[len(expected)], expected)
    assert [len(x) for x in batch['bbox_xyxy']] == [len(b) for b in batch['bbox']]


def test_train_augmentation_keeps_boxes_lists() -> None:
    datamodule = HRSC2016DataModule(root=ROOT, batch_size=2)
    batch = _train_batch(datamodule)
    torch.manual_seed(3)
    out = datamodule.train_aug(batch)
    assert out['image'].shape == (2, 3, 800, 800)
    assert out['image'].min() >= 0 and out['image'].max() <= 1
    assert isinstance(out['bbox'], list) and len(out['bbox']) == 2
    for key in ('label', 'difficult', 'id', 'bbox_xyxy'):
        assert [len(v) for v in out[key]] == [len(b) for b in out['bbox']]
    assert all(b.shape[-1] == 5 and b.dtype == torch.float32 for b in out['bbox'])


def test_on_after_batch_transfer_per_stage() -> None:
    datamodule = HRSC2016DataModule(root=ROOT, batch_size=2, patch_size=64)
    batch = _train_batch(datamodule)
    datamodule.trainer = _trainer('validating')
    out = datamodule.on_after_batch_transfer(batch, 0)
    assert torch.equal(out['image'], batch['image'] / 255)
    for got, boxes in zip(out['bbox'], batch['bbox'], strict=True):
        assert torch.allclose(got, boxes, atol=1e-4)
    assert [v.tolist() for v in out['label']] == [v.tolist() for v in batch['label']]

    datamodule.horizontal_targets = True
    datamodule.trainer = _trainer('training')
    out = datamodule.on_after_batch_transfer(batch, 0)
    assert 'bbox' not in out
    assert [labels.tolist() for labels in out['label']] == [
        [1] * len(boxes) for boxes in out['bbox_xyxy']
    ]


def test_splits_and_protocol_option() -> None:
    datamodule = HRSC2016DataModule(root=ROOT, train_split='trainval', val_split='test')
    datamodule.setup('fit')
    assert datamodule.train_dataset.split == 'trainval'
    assert len(datamodule.train_dataset) == 4
    assert datamodule.val_dataset.split == 'test'
    datamodule.setup('test')
    assert datamodule.test_dataset.split == 'test'
    with pytest.raises(InputError, match="train_split: must be one of .*'all'"):
        HRSC2016DataModule(root=ROOT, train_split='all')


def test_plot_undoes_label_shift() -> None:
    datamodule = HRSC2016DataModule(root=ROOT, classes='L2', horizontal_targets=True)
    datamodule.setup('validate')
    sample = datamodule.val_dataset[1]
    shifted = {**sample, 'label': sample['label'] + 1}
    figure = datamodule.plot(shifted)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts == ['warcraft', 'submarine', 'aircraft carrier']


def _point_in_box(points: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h, angle = box.double().tolist()
    rad = torch.deg2rad(torch.tensor(angle, dtype=torch.float64))
    u = torch.stack((torch.cos(rad), -torch.sin(rad)))
    v = torch.stack((torch.sin(rad), torch.cos(rad)))
    rel = points - torch.tensor([cx, cy], dtype=torch.float64)
    return ((rel @ u).abs() <= w / 2) & ((rel @ v).abs() <= h / 2)


def test_augmented_box_covers_its_object() -> None:
    size = 128
    box = torch.tensor([[64.0, 64.0, 48.0, 16.0, 30.0]])
    rows, cols = torch.meshgrid(
        torch.arange(size, dtype=torch.float64),
        torch.arange(size, dtype=torch.float64),
        indexing='ij',
    )
    centres = torch.stack((cols + 0.5, rows + 0.5), -1).reshape(-1, 2)
    inside = _point_in_box(centres, box[0]).reshape(size, size)
    # the painted object and its box agree before augmentation
    assert inside.sum().item() == 48 * 16
    image = (inside.float() * 255).expand(1, 3, size, size).clone()
    augment = HRSC2016DataModule(root=ROOT).train_aug
    angles, widths = [], set()
    for seed in range(8):
        torch.manual_seed(seed)
        out = augment({'image': image, 'bbox': [box], 'label': [torch.tensor([0])]})
        (moved,) = out['bbox'][0]
        angles.append(moved[4].item())
        widths.add(round(moved[2].item(), 1))
        mask = out['image'][0].mean(0) > 0.5
        pixels = centres[mask.flatten()]
        covered = _point_in_box(pixels, moved).double().mean().item()
        assert covered >= 0.95, (seed, covered)
        area_ratio = (moved[2] * moved[3]).item() / mask.sum().item()
        assert 0.95 <= area_ratio <= 1.05, (seed, area_ratio)
        assert torch.allclose(
            cxcywhr_to_poly(moved[None]).mean(1), torch.tensor([[64.0, 64.0]]), atol=1
        )
    # the geometry really changed: rotations by other than multiples of 90° (a
    # flip or a quarter turn of 30° gives a multiple of 30°) and rescaling
    assert sum(abs(a / 30 - round(a / 30)) > 0.01 for a in angles) >= 3
    assert len(widths) >= 3


@pytest.mark.slow
def test_torchgeo_fit_by_class_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plotted: list[dict[str, torch.Tensor]] = []
    plot = HRSC2016.plot

    def spy(self: HRSC2016, sample: dict[str, torch.Tensor], **kwargs: Any) -> Any:
        plotted.append(sample)
        return plot(self, sample, **kwargs)

    monkeypatch.setattr(HRSC2016, 'plot', spy)
    monkeypatch.setattr('sys.argv', ['torchgeo'])
    main(
        [
            'fit',
            '--config',
            str(CONFIG),
            '--data.dict_kwargs.root',
            str(ROOT),
            '--data.val_split',
            'train',
            '--trainer.accelerator',
            'cpu',
            '--trainer.fast_dev_run',
            '1',
            '--trainer.default_root_dir',
            str(tmp_path),
        ]
    )
    # TorchGeo's validation step plotted the first image (two ships) with the
    # labels shifted back to the dataset's 0 and with the model's predictions
    assert len(plotted) == 1
    assert plotted[0]['label'].tolist() == [0, 0]
    assert plotted[0]['bbox_xyxy'].shape == (2, 4)
    assert 'prediction_label' in plotted[0] and 'bbox' not in plotted[0]
