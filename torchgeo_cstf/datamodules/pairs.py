"""Datamodules of image pairs for matching."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset
from torchgeo.datamodules import NonGeoDataModule

from ..datasets.pairs import CrossModalPairs, PairedRasters, Sample
from ..errors import InputError
from ..io.radiometry import fit_bands
from .splits import setup_generated_splits

#: the sample keys every pair dataset provides
PAIR_KEYS = ('reference', 'query', 'query_valid', 'warp', 'modality')


@dataclass(frozen=True)
class FitPairBands:
    """Give pairs of any source the same bands and keys, so they batch together.

    Args:
        reference_bands: bands of the reference (see
            :func:`~torchgeo_cstf.io.radiometry.fit_bands`).
        query_bands: bands of the query.
    """

    reference_bands: int = 3
    query_bands: int = 1

    def __call__(self, sample: Sample) -> Sample:
        """Adapt one sample."""
        out = {key: sample[key] for key in PAIR_KEYS}
        for key, bands in (
            ('reference', self.reference_bands),
            ('query', self.query_bands),
        ):
            out[key] = torch.from_numpy(
                fit_bands(sample[key].numpy(), bands).copy()
            ).contiguous()
        return out


class CrossModalPairsDataModule(NonGeoDataModule):
    """Random cross-modal pairs with exact warps (synthetic or from real rasters).

    Every pair is already a random draw of warp, modality and time change, and
    images come normalised to [0, 1] by the dataset, so no batch augmentation
    is applied.

    With ``paired_roots`` (folders of real co-registered pairs, see
    :class:`~torchgeo_cstf.datasets.PairedRasters`), their ``train`` tiles join
    the training pairs, the query resampled into the reference frame and moved
    by a random similarity within the same ``scale`` and ``rotation`` ranges
    (and up to ``paired_shift`` pixels): real cross-modal radiometry beside
    the simulated one. With ``synthetic_pairs`` (and a ``root``), that many
    pairs of the synthetic generator (same modalities, warp, scale and
    rotation ranges) join them too: a fine-tune on real imagery then keeps
    what the synthetic weights learned. Validation and test stay on the
    simulated pairs of ``root``.

    Args:
        batch_size: pairs per batch.
        patch_size: side of both images.
        num_workers: data loader processes.
        train_length: pairs in the train split.
        val_length: pairs in the val split.
        test_length: pairs in the test split.
        paired_roots: folders holding a ``pairs.csv`` of real pairs.
        paired_shift: largest centre shift of their resampled queries, pixels.
        synthetic_pairs: synthetic training pairs joined to those of ``root``.
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
        paired_roots: Sequence[str] = (),
        paired_shift: float = 25.0,
        synthetic_pairs: int = 0,
        **kwargs: Any,
    ) -> None:
        """Initialise the datamodule; see the class docstring for arguments.

        Raises:
            InputError: ``synthetic_pairs`` is negative, or given without a
                ``root`` (the pairs would all be synthetic already).
        """
        if synthetic_pairs < 0:
            raise InputError(
                'synthetic_pairs', f'must be 0 or more, got {synthetic_pairs}'
            )
        if synthetic_pairs and kwargs.get('root') is None:
            raise InputError(
                'synthetic_pairs',
                'joins synthetic pairs to those of a folder of real rasters: '
                'give root too (without root every pair is synthetic already)',
            )
        super().__init__(
            CrossModalPairs, batch_size, num_workers, size=patch_size, **kwargs
        )
        self.lengths = {'train': train_length, 'val': val_length, 'test': test_length}
        self.paired_roots = list(paired_roots)
        self.paired_shift = paired_shift
        self.synthetic_pairs = synthetic_pairs
        self.aug = nn.Identity()

    def setup(self, stage: str) -> None:
        """Create the split datasets.

        Args:
            stage: ``fit``, ``validate``, ``test`` or ``predict``.
        """
        setup_generated_splits(self, stage, self.lengths)
        if stage != 'fit' or not (self.paired_roots or self.synthetic_pairs):
            return
        simulated = self.train_dataset
        assert isinstance(simulated, CrossModalPairs)
        fit = FitPairBands(simulated.reference_bands, simulated.query_bands)
        simulated.transforms = fit
        extra: list[Dataset[Sample]] = []
        if self.synthetic_pairs:
            generated = {
                key: value for key, value in self.kwargs.items() if key != 'root'
            }
            extra.append(
                CrossModalPairs(
                    split='train',
                    length=self.synthetic_pairs,
                    transforms=fit,
                    **generated,
                )
            )
        extra += [
            PairedRasters(
                root,
                split='train',
                size=simulated.size,
                resample=True,
                shift=self.paired_shift,
                rotation=simulated.rotation,
                scale=simulated.scale,
                transforms=fit,
            )
            for root in self.paired_roots
        ]
        self.train_dataset = ConcatDataset([simulated, *extra])


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
