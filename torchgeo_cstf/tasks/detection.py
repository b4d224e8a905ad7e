"""CSTFDetection: train and evaluate the oriented detector with TorchGeo."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import matplotlib.pyplot as plt
import torch
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import Tensor
from torchgeo.tasks import BaseTask

from ..metrics import OrientedMeanAveragePrecision
from ..models.cstf import Fusion
from ..models.detector import BatchPredictions, CSTFDetector
from ..models.registry import load_into
from ..ops.padding import pad_to_multiple
from .schedule import warmup_cosine_adamw

#: validation batches whose first sample is plotted (when the logger can show figures)
PLOTTED_BATCHES = 4


def targets_of(batch: dict[str, Any]) -> list[dict[str, Tensor]]:
    """Per-image targets (``boxes``, ``labels``, ``difficult``) of a batch."""
    difficult = batch.get('difficult') or [
        torch.zeros(len(labels), dtype=torch.bool, device=labels.device)
        for labels in batch['label']
    ]
    return [
        {'boxes': boxes, 'labels': labels, 'difficult': hard}
        for boxes, labels, hard in zip(
            batch['bbox'], batch['label'], difficult, strict=True
        )
    ]


class CSTFDetection(BaseTask):
    """Oriented object detection with :class:`~torchgeo_cstf.models.CSTFDetector`.

    Batches are those of the oriented-detection datamodules
    (:class:`~torchgeo_cstf.datamodules.SyntheticScenesDataModule`,
    :class:`~torchgeo_cstf.datamodules.HRSC2016DataModule`,
    :class:`~torchgeo_cstf.datamodules.DOTADataModule`): ``image`` (B, C, H, W),
    per-image lists ``bbox`` (N, 5) CXCYWHR and ``label`` (N,), optionally
    ``difficult`` and ``reference`` (a co-registered earlier acquisition, used
    for temporal fusion when ``temporal`` is set). Images are zero-padded on the
    right and bottom to a multiple of the detector's ``size_multiple`` (32).

    Training logs ``train_loss`` and its parts. Validation and test log
    ``*_loss``, ``*_map`` (VOC07 11-point mAP at IoU 0.5, the HRSC2016 "mAP07"
    and DOTA convention; monitored), ``*_map_area`` (area under the
    precision/recall curve, "mAP12") and, with ``class_names``, the AP of each
    class. The first sample of the first validation batches is plotted beside
    its predictions: in the logger when it shows figures (TensorBoard), else
    as PNG files in the logger's ``plots/`` folder (the CSV logger).
    ``predict_step`` returns one dict per image: ``boxes`` (N, 5) CXCYWHR in
    pixels of the (padded) input, ``scores``, ``labels`` (0-based).

    Args:
        backbone: timm backbone (``resnet18``, ``resnet50``, ...).
        in_channels: image bands.
        num_classes: object classes (without background).
        fusion: CSTF fusion mode (``concat``, ``sum``, ``ca``, ``sca``, ``none``).
        channels: pyramid channels.
        pretrained: start the trunk from timm's ImageNet weights (downloaded
            once; only when asked for).
        weights: start the whole detector from these weights (fine-tuning): a
            weights name such as ``CSTFDetectorRegNetX002_Weights.SYNTHETIC``,
            a Lightning checkpoint or a state dict; they must fit the model
            but for ``fresh``.
        fresh: key prefixes of parameters the weights may lack or shape
            otherwise, which keep their fresh initialisation (``head.cls.``
            when fine-tuning to other classes).
        temporal: fuse the batch's ``reference`` images (temporal fusion).
        class_names: class names, for per-class AP logging.
        score_threshold: minimum score of a detection.
        nms_threshold: rotated-IoU threshold of the class-wise NMS.
        max_detections: detections kept per image.
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup: share of the steps spent warming the learning rate up linearly
            from 0 before the cosine decay (bound training by ``max_steps`` or
            ``max_epochs``).
    """

    monitor = 'val_map'
    mode = 'max'
    model: CSTFDetector

    def __init__(
        self,
        backbone: str = 'resnet18',
        in_channels: int = 3,
        num_classes: int = 3,
        fusion: Fusion = 'concat',
        channels: int = 128,
        pretrained: bool = False,
        weights: str | None = None,
        fresh: Sequence[str] = (),
        temporal: bool = False,
        class_names: Sequence[str] | None = None,
        score_threshold: float = 0.05,
        nms_threshold: float = 0.1,
        max_detections: int = 300,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        warmup: float = 0.05,
    ) -> None:
        """Initialise the task; see the class docstring for arguments."""
        self.weights = weights
        super().__init__()

    def configure_models(self) -> None:
        """Build the detector from the hyperparameters."""
        self.model = CSTFDetector(
            backbone=self.hparams['backbone'],
            in_channels=self.hparams['in_channels'],
            num_classes=self.hparams['num_classes'],
            fusion=self.hparams['fusion'],
            channels=self.hparams['channels'],
            score_threshold=self.hparams['score_threshold'],
            nms_threshold=self.hparams['nms_threshold'],
            max_detections=self.hparams['max_detections'],
            pretrained=self.hparams['pretrained'],
        )
        if self.weights:
            load_into(self.model, self.weights, fresh=tuple(self.hparams['fresh']))

    def configure_metrics(self) -> None:
        """VOC07 and area mAP for validation and test."""
        names = self.hparams['class_names']
        kwargs: dict[str, Any] = (
            {'class_names': list(names)}
            if names
            else {'num_classes': self.hparams['num_classes']}
        )
        self.metrics = torch.nn.ModuleDict(
            {
                f'{stage}_{method}': OrientedMeanAveragePrecision(
                    ap_method=method, **kwargs
                )
                for stage in ('val', 'test')
                for method in ('voc07', 'area')
            }
        )

    def _metric(self, name: str) -> OrientedMeanAveragePrecision:
        return cast(OrientedMeanAveragePrecision, self.metrics[name])

    def configure_optimizers(self) -> OptimizerLRScheduler:
        """AdamW with a per-step linear warm-up and cosine decay."""
        return warmup_cosine_adamw(
            self.parameters(),
            self.trainer,
            self.hparams['lr'],
            self.hparams['weight_decay'],
            self.hparams['warmup'],
        )

    def _inputs(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor | None]:
        multiple = self.model.size_multiple
        image = pad_to_multiple(batch['image'], multiple)
        reference = batch.get('reference') if self.hparams['temporal'] else None
        return image, None if reference is None else pad_to_multiple(
            reference, multiple
        )

    def forward(
        self, image: Tensor, reference: Tensor | None = None
    ) -> BatchPredictions:
        """Detections of a batch of normalised images (see :meth:`predict_step`)."""
        multiple = self.model.size_multiple
        return self.model.predict(
            pad_to_multiple(image, multiple),
            None if reference is None else pad_to_multiple(reference, multiple),
        )

    def training_step(
        self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """One optimisation step's loss."""
        image, reference = self._inputs(batch)
        losses = self.model.loss(image, targets_of(batch), reference)
        self.log_dict(
            {f'train_{k}': v for k, v in losses.items()}, batch_size=image.shape[0]
        )
        return losses['loss']

    def _evaluate(self, batch: dict[str, Any], stage: str) -> BatchPredictions:
        image, reference = self._inputs(batch)
        targets = targets_of(batch)
        outputs = self.model(image, reference)
        losses = self.model.loss_from_outputs(outputs, targets)
        self.log(f'{stage}_loss', losses['loss'], batch_size=image.shape[0])
        detections = self.model.detections_from_outputs(outputs)
        for method in ('voc07', 'area'):
            self._metric(f'{stage}_{method}').update(detections, targets)
        return detections

    def _log_epoch(self, stage: str) -> None:
        for method, key in (('voc07', f'{stage}_map'), ('area', f'{stage}_map_area')):
            metric = self._metric(f'{stage}_{method}')
            result = metric.compute()
            self.log(key, result['map'])
            if method == 'voc07':
                names = self.hparams['class_names'] or []
                for name in names:
                    self.log(f'{stage}_map_{name}', result[f'map_{name}'])
            metric.reset()

    def validation_step(
        self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Loss, mAP update and (first batches) a plot of a validation batch."""
        detections = self._evaluate(batch, 'val')
        if batch_idx < PLOTTED_BATCHES:
            self._plot(batch, detections[0], batch_idx)

    def _plot(
        self, batch: dict[str, Any], found: dict[str, Tensor], index: int
    ) -> None:
        """Plot the first sample of a batch beside its predictions.

        The figure goes to the logger when it takes figures (TensorBoard),
        else to ``<log_dir>/plots/val_step<step>_<index>.png`` (CSV logger).
        """
        logger: Any = self.logger
        experiment: Any = getattr(logger, 'experiment', None)
        datamodule: Any = getattr(self.trainer, 'datamodule', None)
        folder: Any = getattr(logger, 'log_dir', None)
        if not hasattr(datamodule, 'plot') or not (
            hasattr(experiment, 'add_figure') or folder
        ):
            return
        image = batch['image'][0]
        if hasattr(datamodule, 'std'):  # back to digital numbers for display
            image = image * datamodule.std.to(image) + datamodule.mean.to(image)
        sample = {
            'image': image.cpu(),
            'bbox': batch['bbox'][0].cpu(),
            'label': batch['label'][0].cpu(),
            'prediction_bbox': found['boxes'].cpu(),
            'prediction_label': found['labels'].cpu(),
            'prediction_score': found['scores'].cpu(),
        }
        figure = datamodule.plot(sample)
        if figure is None:
            return
        if hasattr(experiment, 'add_figure'):
            experiment.add_figure(
                f'image/{index}', figure, global_step=self.global_step
            )
        else:
            plots = Path(folder) / 'plots'
            plots.mkdir(parents=True, exist_ok=True)
            figure.savefig(plots / f'val_step{self.global_step}_{index}.png', dpi=80)
        plt.close(figure)

    def on_validation_epoch_end(self) -> None:
        """Log the epoch's mAP."""
        self._log_epoch('val')

    def test_step(
        self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Loss and mAP update of a test batch."""
        self._evaluate(batch, 'test')

    def on_test_epoch_end(self) -> None:
        """Log the test set's mAP."""
        self._log_epoch('test')

    def predict_step(
        self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> BatchPredictions:
        """Detections of each image of the batch, on the CPU."""
        image, reference = self._inputs(batch)
        return [
            {key: value.cpu() for key, value in found.items()}
            for found in self.model.predict(image, reference)
        ]
