"""CSTFMatching: train and evaluate the cross-modal matcher with TorchGeo."""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import Tensor
from torchgeo.tasks import BaseTask
from torchmetrics import CatMetric, MeanMetric

from ..metrics import corner_error, homography_auc, mean_matching_accuracy
from ..models.cstf import Fusion
from ..models.matcher import CSTFMatcher, Matches
from ..models.registry import load_into
from ..models.transform import estimate_transform
from .schedule import warmup_cosine_adamw

#: pixel thresholds of the logged mean matching accuracy
MMA_THRESHOLDS: tuple[int, ...] = (1, 3, 5)
#: pixel thresholds of the logged homography AUC
AUC_THRESHOLDS: tuple[int, ...] = (3, 5, 10)


class CSTFMatching(BaseTask):
    """Cross-modal matching with :class:`~torchgeo_cstf.models.CSTFMatcher`.

    Batches are pairs (``reference``, ``query``, ``warp``, ``query_valid``) as
    made by :class:`~torchgeo_cstf.datamodules.CrossModalPairsDataModule`. The loss is
    the matcher's cross-entropy over query cells + dustbin plus the sub-pixel
    refinement loss. Validation and test log ``*_loss``, ``*_accuracy`` (correct
    class share), ``*_mma1/3/5`` (mean matching accuracy at 1/3/5 px) and
    ``*_auc3/5/10`` (homography AUC of the corner error, MAGSAC++ fit).
    ``predict_step`` returns one :class:`Matches` per pair.

    Args:
        backbone: timm backbone of the matcher.
        reference_channels: reference bands.
        query_channels: query bands.
        fusion: CSTF fusion mode.
        num_keypoints: keypoints per image.
        refine_weight: weight of the refinement loss.
        min_confidence: confidence threshold of predicted matches.
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        structure: give the matcher oriented-gradient input channels.
        weights: start from these weights (fine-tuning): a weights name such as
            ``CSTFMatcherRegNetX004_Weights.SYNTHETIC`` or a checkpoint path;
            band adapters that do not fit (other bands, structure channels)
            start fresh.
        warmup: share of the training steps spent warming the learning rate up
            linearly from 0; it then decays to 0 along a cosine. The schedule
            spans the trainer's ``estimated_stepping_batches``, so bound training
            by ``max_steps`` (``max_time`` only as a safety stop).
    """

    monitor = 'val_loss'
    mode = 'min'

    def __init__(
        self,
        backbone: str = 'resnet18',
        reference_channels: int = 3,
        query_channels: int = 1,
        fusion: Fusion = 'concat',
        num_keypoints: int = 256,
        refine_weight: float = 1.0,
        min_confidence: float = 0.2,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        warmup: float = 0.05,
        structure: bool = False,
        weights: str | None = None,
    ) -> None:
        """Initialise the task; see the class docstring for arguments."""
        # TorchGeo's BaseTask leaves ``weights`` out of the hyperparameters
        self.weights = weights
        super().__init__()

    def configure_models(self) -> None:
        """Build the matcher from the hyperparameters."""
        self.model = CSTFMatcher(
            backbone=self.hparams['backbone'],
            reference_channels=self.hparams['reference_channels'],
            query_channels=self.hparams['query_channels'],
            fusion=self.hparams['fusion'],
            num_keypoints=self.hparams['num_keypoints'],
            structure=self.hparams.get('structure', False),
        )
        if self.weights:
            load_into(self.model, self.weights, fresh=('adapters.',))

    def forward(self, reference: Tensor, query: Tensor) -> list[Matches]:
        """Matches of each pair of a batch.

        The same step :func:`~torchgeo_cstf.match` runs for the ``cstf``
        method (:meth:`CSTFMatcher.match <torchgeo_cstf.models.CSTFMatcher.match>`),
        at this task's ``min_confidence``.

        Args:
            reference: (B, C_ref, H, W) in [0, 1].
            query: (B, C_query, H', W') in [0, 1], sides multiples of the
                matcher's ``size_multiple``.

        Returns:
            One :class:`~torchgeo_cstf.models.Matches` per pair.
        """
        found: list[Matches] = self.model.match(
            reference, query, self.hparams['min_confidence']
        )
        return found

    def configure_optimizers(self) -> OptimizerLRScheduler:
        """AdamW with a per-step linear warm-up and cosine decay."""
        return warmup_cosine_adamw(
            self.parameters(),
            self.trainer,
            self.hparams['lr'],
            self.hparams['weight_decay'],
            self.hparams['warmup'],
        )

    def configure_metrics(self) -> None:
        """Running means of the matching accuracy and the corner errors."""
        self.mma = torch.nn.ModuleDict(
            {
                f'{stage}_mma{t}': MeanMetric()
                for stage in ('val', 'test')
                for t in MMA_THRESHOLDS
            }
        )
        self.corner_errors = torch.nn.ModuleDict(
            {stage: CatMetric() for stage in ('val', 'test')}
        )

    def _mean(self, name: str) -> MeanMetric:
        return cast(MeanMetric, self.mma[name])

    def _errors(self, stage: str) -> CatMetric:
        return cast(CatMetric, self.corner_errors[stage])

    def _losses(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        losses: dict[str, Tensor] = self.model.loss(
            batch['reference'],
            batch['query'],
            batch['warp'],
            batch['query_valid'],
            refine_weight=self.hparams['refine_weight'],
        )
        return losses

    def training_step(
        self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """One optimisation step's loss."""
        losses = self._losses(batch)
        size = batch['reference'].shape[0]
        self.log_dict({f'train_{k}': v for k, v in losses.items()}, batch_size=size)
        return losses['loss']

    def _evaluate(self, batch: dict[str, Tensor], stage: str) -> None:
        size = batch['reference'].shape[0]
        losses = self._losses(batch)
        self.log(f'{stage}_loss', losses['loss'], batch_size=size)
        self.log(f'{stage}_accuracy', losses['accuracy'], batch_size=size)
        matches = self(batch['reference'], batch['query'])
        height, width = batch['reference'].shape[-2:]  # corners of the reference
        for pair, warp in zip(matches, batch['warp'], strict=True):
            accuracy = mean_matching_accuracy(
                pair.ref_xy, pair.query_xy, warp, thresholds=MMA_THRESHOLDS
            )
            for t, value in zip(MMA_THRESHOLDS, accuracy, strict=True):
                self._mean(f'{stage}_mma{t}').update(float(value))
            fitted = estimate_transform(pair, 'homography')
            error = corner_error(
                None if fitted is None else fitted.matrix, warp, width, height
            )
            self._errors(stage).update(torch.tensor([min(error, 1e6)]))

    def _log_epoch(self, stage: str) -> None:
        for t in MMA_THRESHOLDS:
            metric = self._mean(f'{stage}_mma{t}')
            self.log(f'{stage}_mma{t}', metric.compute())
            metric.reset()
        errors = self._errors(stage).compute()
        values = homography_auc(
            np.atleast_1d(errors.cpu().numpy()), thresholds=AUC_THRESHOLDS
        )
        for t, value in zip(AUC_THRESHOLDS, values, strict=True):
            self.log(f'{stage}_auc{t}', float(value))
        self._errors(stage).reset()

    def validation_step(
        self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Losses and matching metrics of a validation batch."""
        self._evaluate(batch, 'val')

    def on_validation_epoch_end(self) -> None:
        """Log the epoch's matching accuracy and homography AUC."""
        self._log_epoch('val')

    def test_step(
        self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Losses and matching metrics of a test batch."""
        self._evaluate(batch, 'test')

    def on_test_epoch_end(self) -> None:
        """Log the test set's matching accuracy and homography AUC."""
        self._log_epoch('test')

    def predict_step(
        self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> list[Matches]:
        """Matches of each pair of the batch."""
        return [pair.cpu() for pair in self(batch['reference'], batch['query'])]
