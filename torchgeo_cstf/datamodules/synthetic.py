"""Datamodule of synthetic detection scenes (trainable on a laptop CPU)."""

from __future__ import annotations

from typing import Any

import torch

from ..datasets.synthetic_scenes import SyntheticScenes
from ..synthetic.render import UINT16_MAX, Modality
from .detection import OrientedDetectionDataModule
from .splits import setup_generated_splits


class SyntheticScenesDataModule(OrientedDetectionDataModule):
    """Synthetic oriented-object scenes for training and evaluating detectors.

    Scenes are generated on the fly (see
    :class:`~torchgeo_cstf.datasets.SyntheticScenes`); train, val and test never
    share a scene. Images are divided by the largest digital number of their
    type (255 for the default uint8 optical scenes) and, in training, augmented
    with flips, 90° and free rotations, scale and brightness/contrast jitter
    (:func:`~torchgeo_cstf.datamodules.detection_augmentation`).

    Args:
        batch_size: scenes per batch.
        patch_size: scene side in pixels.
        num_workers: data loader processes.
        train_length: scenes in the train split.
        val_length: scenes in the val split.
        test_length: scenes in the test split.
        seed: base seed of all splits.
        modality: ``optical``, ``sar`` or ``thermal``.
        bands: band count (default 3 optical, 2 SAR, 1 thermal).
        temporal: add a co-registered earlier acquisition (``reference``).
        horizontal_targets: shape batches for TorchGeo's horizontal
            ``ObjectDetection`` (see
            :class:`~torchgeo_cstf.datamodules.detection.OrientedDetectionDataModule`).
        **kwargs: further arguments of :class:`SyntheticScenes`.
    """

    def __init__(
        self,
        batch_size: int = 8,
        patch_size: int = 512,
        num_workers: int = 0,
        train_length: int = 256,
        val_length: int = 32,
        test_length: int = 32,
        seed: int = 0,
        modality: Modality = 'optical',
        bands: int | None = None,
        temporal: bool = False,
        horizontal_targets: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialise the datamodule; see the class docstring for arguments."""
        self.std = torch.tensor(
            255.0 if modality == 'optical' else float(UINT16_MAX[modality])
        )
        super().__init__(
            SyntheticScenes,
            batch_size,
            num_workers,
            horizontal_targets,
            size=patch_size,
            seed=seed,
            modality=modality,
            bands=bands,
            temporal=temporal,
            **kwargs,
        )
        self.lengths = {'train': train_length, 'val': val_length, 'test': test_length}

    def setup(self, stage: str) -> None:
        """Create the split datasets.

        Args:
            stage: ``fit``, ``validate``, ``test`` or ``predict``.
        """
        setup_generated_splits(self, stage, self.lengths)
