"""Datamodules of image pairs for matching."""

from __future__ import annotations

from typing import Any

from torch import nn
from torchgeo.datamodules import NonGeoDataModule

from ..datasets.pairs import CrossModalPairs, PairedRasters
from .splits import setup_generated_splits


class CrossModalPairsDataModule(NonGeoDataModule):
    """Random cross-modal pairs with exact warps (synthetic or from real rasters).

    Every pair is already a random draw of warp, modality and time change, and
    images come normalised to [0, 1] by the dataset, so no batch augmentation
    is applied.

    Args:
        batch_size: pairs per batch.
        patch_size: side of both images.
        num_workers: data loader processes.
        train_length: pairs in the train split.
        val_length: pairs in the val split.
        test_length: pairs in the test split.
        **kwargs: further arguments of
            :class:`~torchgeo_cstf.datasets.CrossModalPairs` (``root``,
            ``modalities``, ``warp``, ``scale`` …).
    """

    def __init__(
        self,
        batch_size: int = 8,
        patch_size: int = 256,
        num_workers: int = 0,
        train_length: int = 2000,
        val_length: int = 100,
        test_length: int = 100,
        **kwargs: Any,
    ) -> None:
        """Initialise the datamodule; see the class docstring for arguments."""
        super().__init__(
            CrossModalPairs, batch_size, num_workers, size=patch_size, **kwargs
        )
        self.lengths = {'train': train_length, 'val': val_length, 'test': test_length}
        self.aug = nn.Identity()

    def setup(self, stage: str) -> None:
        """Create the split datasets.

        Args:
            stage: ``fit``, ``validate``, ``test`` or ``predict``.
        """
        setup_generated_splits(self, stage, self.lengths)


class PairedRastersDataModule(NonGeoDataModule):
    """Real co-registered pairs with check points, for validation and testing.

    Splits follow the ``split`` column of ``pairs.csv`` (see
    :class:`~torchgeo_cstf.datasets.PairedRasters`); predict uses the test split.

    Args:
        batch_size: tiles per batch.
        patch_size: tile side.
        num_workers: data loader processes.
        **kwargs: further arguments of :class:`PairedRasters` (``root``).
    """

    def __init__(
        self,
        batch_size: int = 4,
        patch_size: int = 512,
        num_workers: int = 0,
        **kwargs: Any,
    ) -> None:
        """Initialise the datamodule; see the class docstring for arguments."""
        super().__init__(
            PairedRasters, batch_size, num_workers, size=patch_size, **kwargs
        )
        self.aug = nn.Identity()

    def setup(self, stage: str) -> None:
        """Create the split datasets.

        Args:
            stage: ``fit``, ``validate``, ``test`` or ``predict``.
        """
        super().setup(stage)
        if stage == 'predict':
            self.predict_dataset = PairedRasters(split='test', **self.kwargs)
