from pathlib import Path
from typing import Any

import pytest
import torch
from lightning import Trainer
from torchgeo.main import main

from torchgeo_cstf.datamodules import SyntheticScenesDataModule
from torchgeo_cstf.ops import pad_to_multiple
from torchgeo_cstf.tasks import CSTFDetection
from torchgeo_cstf.tasks.detection import targets_of

SMALL = {'backbone': 'regnetx_002', 'channels': 32}


def _batch() -> dict[str, Any]:
    boxes = [
        torch.tensor([[40.0, 30.0, 30.0, 10.0, 20.0], [80.0, 70.0, 16.0, 8.0, -45.0]]),
        torch.tensor([[50.0, 50.0, 40.0, 12.0, 0.0]]),
    ]
    return {
        'image': torch.rand(2, 3, 100, 120),
        'bbox': boxes,
        'label': [torch.tensor([0, 2]), torch.tensor([1])],
    }


def test_padding_and_targets() -> None:
    padded = pad_to_multiple(torch.ones(1, 3, 100, 120), 32)
    assert padded.shape[-2:] == (128, 128)
    assert padded[..., :100, :120].eq(1).all() and padded[..., 100:, :].eq(0).all()
    aligned = torch.ones(1, 1, 64, 96)
    assert pad_to_multiple(aligned, 32) is aligned
    targets = targets_of(_batch())
    assert [len(t['boxes']) for t in targets] == [2, 1]
    assert [t['difficult'].tolist() for t in targets] == [[False, False], [False]]


def test_validation_scores_perfect_predictions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The logged mAP comes from the real metric: truth as predictions scores 1."""
    task = CSTFDetection(class_names=['ship', 'plane', 'vehicle'], **SMALL)
    batch = _batch()

    def oracle(outputs: Any) -> list[dict[str, torch.Tensor]]:
        return [
            {'boxes': b, 'scores': torch.ones(len(b)), 'labels': lab}
            for b, lab in zip(batch['bbox'], batch['label'], strict=True)
        ]

    monkeypatch.setattr(task.model, 'detections_from_outputs', oracle)
    logged: dict[str, float] = {}
    monkeypatch.setattr(
        task,
        'log',
        lambda name, value, **kw: logged.__setitem__(name, float(value.detach())),
    )
    task._evaluate(batch, 'val')
    task._log_epoch('val')
    assert logged['val_map'] == 1.0 and logged['val_map_area'] == 1.0
    assert logged['val_map_ship'] == logged['val_map_vehicle'] == 1.0
    assert logged['val_loss'] > 0


def test_predict_step_returns_oriented_boxes_on_cpu() -> None:
    task = CSTFDetection(score_threshold=0.0, max_detections=5, **SMALL)
    found = task.predict_step(_batch(), 0)
    assert len(found) == 2
    for item in found:
        assert item['boxes'].shape[1] == 5 and item['boxes'].device.type == 'cpu'
        assert len(item['boxes']) == len(item['scores']) == len(item['labels']) <= 5
        assert (item['boxes'][:, 2] >= item['boxes'][:, 3]).all()


def _fit_two_steps(tmp_path: Path, logger: Any, val_length: int) -> Trainer:
    """Two training steps of a small task on synthetic scenes, then validation."""
    datamodule = SyntheticScenesDataModule(
        batch_size=2,
        patch_size=128,
        train_length=4,
        val_length=val_length,
        test_length=2,
        objects_per_megapixel=300,
    )
    task = CSTFDetection(class_names=['ship', 'plane', 'vehicle'], **SMALL)
    trainer = Trainer(
        max_steps=2,
        num_sanity_val_steps=0,
        accelerator='cpu',
        logger=logger,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule)
    return trainer


def test_fit_logs_val_map_and_plots(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import CSVLogger

    figures: list[tuple[str, int]] = []

    class FigureLogger(CSVLogger):
        """A CSV logger whose experiment also takes figures, as TensorBoard's."""

        @property
        def experiment(self) -> Any:
            writer = super().experiment
            writer.add_figure = lambda tag, figure, global_step: figures.append(
                (tag, len(figure.axes))
            )
            return writer

    logger = FigureLogger(tmp_path)
    metrics = _fit_two_steps(tmp_path, logger, val_length=2).callback_metrics
    assert 0.0 <= float(metrics['val_map']) <= 1.0
    assert 'val_map_area' in metrics and 'train_loss' in metrics
    assert figures == [('image/0', 2)]  # truth beside predictions
    assert not (Path(logger.log_dir) / 'plots').exists()  # the logger took them


def test_csv_logger_gets_plots_as_png(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import CSVLogger
    from PIL import Image

    logger = CSVLogger(tmp_path)
    _fit_two_steps(tmp_path, logger, val_length=4)
    plots = sorted((Path(logger.log_dir) / 'plots').glob('*.png'))
    assert [p.name for p in plots] == ['val_step2_0.png', 'val_step2_1.png']
    with Image.open(plots[0]) as picture:  # truth and predictions side by side
        assert picture.width > 1.5 * picture.height


@pytest.mark.slow
@pytest.mark.parametrize(
    ('config', 'overrides'),
    [
        ('configs/synthetic_cstf_r18.yaml', ['--data.init_args.patch_size', '96']),
        ('configs/demo_detector.yaml', ['--data.init_args.patch_size', '96']),
        (
            'configs/hrsc2016_cstf_r50.yaml',
            [
                '--model.init_args.pretrained',
                'false',
                '--data.dict_kwargs.root',
                'tests/data/hrsc2016',
                '--data.init_args.patch_size',
                '64',
                '--data.init_args.train_split',
                'train',
                '--data.init_args.val_split',
                'val',
                '--data.init_args.batch_size',
                '2',
                '--trainer.precision',
                '32',
            ],
        ),
        (
            'configs/dota_cstf_r50.yaml',
            [
                '--model.init_args.pretrained',
                'false',
                '--data.dict_kwargs.root',
                'tests/data/dota',
                '--data.init_args.patch_size',
                '64',
                '--data.init_args.batch_size',
                '2',
                '--trainer.precision',
                '32',
            ],
        ),
    ],
)
def test_configs_fit(config: str, overrides: list[str], tmp_path: Path) -> None:
    main(
        [
            'fit',
            '--config',
            config,
            '--trainer.accelerator',
            'cpu',
            '--trainer.fast_dev_run',
            '1',
            '--trainer.default_root_dir',
            str(tmp_path),
            '--data.init_args.num_workers',
            '0',
            *overrides,
        ]
    )
