"""Lightning datamodule for HRSC2016 (oriented ship detection)."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..datasets.hrsc2016 import HRSC2016, HRSC2016Split
from ..errors import InputError
from .augmentation import letterbox
from .detection import OrientedDetectionDataModule


class HRSC2016DataModule(OrientedDetectionDataModule):
    """HRSC2016 batches of letterboxed images with oriented boxes.

    Each image is scaled to fit a ``patch_size`` square keeping its aspect ratio
    and padded with zeros at the right and bottom
    (:func:`~torchgeo_cstf.datamodules.augmentation.letterbox`; the factor is
    kept as ``scale``, (B, 2) per batch, to map predictions back). Batches are
    collated by :func:`~torchgeo_cstf.datamodules.augmentation.collate_rotated_detection`:
    ``image`` (B, 3, S, S) and per-image lists ``bbox`` (N_i, 5) CXCYWHR,
    ``bbox_xyxy`` (N_i, 4) enclosing horizontal boxes, ``label``, ``difficult``
    and ``id``.

    On the device, images are divided by 255 and, for training only, augmented
    by :func:`~torchgeo_cstf.datamodules.detection_augmentation`: random flips,
    multiples of 90°, a free rotation with scale jitter 0.8–1.2 and
    brightness/contrast jitter; boxes follow the geometry and those left less
    than half inside are dropped.

    Splits: ``fit`` trains on ``train_split`` and validates on ``val_split``,
    ``test`` uses ``'test'``. The standard HRSC2016 protocol trains on
    ``'trainval'`` and reports on ``'test'``: use ``train_split='trainval'`` and
    ``val_split='test'`` for it (``'val'`` is part of ``'trainval'``).

    Args:
        batch_size: images per batch.
        patch_size: side of the square every image is letterboxed to.
        num_workers: data-loading worker processes.
        train_split: HRSC2016 split to train on.
        val_split: HRSC2016 split to validate on.
        horizontal_targets: shape batches for TorchGeo's horizontal
            ``ObjectDetection`` (see
            :class:`~torchgeo_cstf.datamodules.detection.OrientedDetectionDataModule`).
        **kwargs: passed to :class:`~torchgeo_cstf.datasets.HRSC2016` (``root``,
            ``classes``); its ``transforms`` is set to the letterbox.

    Raises:
        InputError: an unknown split.
    """

    def __init__(
        self,
        batch_size: int = 8,
        patch_size: int = 800,
        num_workers: int = 0,
        train_split: HRSC2016Split = 'train',
        val_split: HRSC2016Split = 'val',
        horizontal_targets: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialise the datamodule; see the class docstring."""
        super().__init__(
            HRSC2016, batch_size, num_workers, horizontal_targets, **kwargs
        )
        for name, split in (('train_split', train_split), ('val_split', val_split)):
            if split not in HRSC2016.splits:
                raise InputError(
                    name, f'must be one of {HRSC2016.splits}, got {split!r}'
                )
        self.patch_size = patch_size
        self.train_split = train_split
        self.val_split = val_split

    def setup(self, stage: str) -> None:
        """Create the datasets of a stage.

        Args:
            stage: ``'fit'``, ``'validate'`` or ``'test'``.
        """
        self.kwargs['transforms'] = partial(letterbox, size=self.patch_size)
        if stage == 'fit':
            self.train_dataset = HRSC2016(split=self.train_split, **self.kwargs)
        if stage in ('fit', 'validate'):
            self.val_dataset = HRSC2016(split=self.val_split, **self.kwargs)
        if stage == 'test':
            self.test_dataset = HRSC2016(split='test', **self.kwargs)
