"""Lightning datamodule for DOTA patches (oriented detection in aerial images)."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..datasets.dota import DOTA, VERSION_CLASSES
from ..errors import InputError
from .detection import OrientedDetectionDataModule


def pad_to_patch(sample: dict[str, Any], size: int) -> dict[str, Any]:
    """Pad a sample's image with zeros at the right and bottom to ``size``².

    The image is not scaled, so boxes keep their pixel coordinates and objects
    keep the size they have in the patches a detector is trained on.

    Args:
        sample: dict with ``image`` (C, H, W), ``H, W <= size``.
        size: the patch side.

    Returns:
        A new sample whose image is (C, size, size).

    Raises:
        InputError: the image is larger than ``size`` (split it first).
    """
    image = sample['image']
    height, width = image.shape[-2:]
    if height > size or width > size:
        raise InputError(
            'patch_size',
            f'a {height}×{width} px DOTA image does not fit {size} px: split the '
            'images first (cstf dota split ROOT OUT, or '
            'torchgeo_cstf.datasets.split_dota)',
        )
    canvas = image.new_zeros((image.shape[0], size, size))
    canvas[:, :height, :width] = image
    return {**sample, 'image': canvas}


class DOTADataModule(OrientedDetectionDataModule):
    """DOTA batches of fixed-size patches with oriented boxes.

    ``root`` is a DOTA root whose images are at most ``patch_size`` px a side:
    normally the output of :func:`~torchgeo_cstf.datasets.split_dota` run on
    ``train`` and ``val`` with ``size=patch_size``. Smaller images are padded
    with zeros at the right and bottom (never scaled, so that object sizes
    match the split patches); a larger image raises
    :class:`~torchgeo_cstf.errors.InputError` when loaded.

    Batches are collated by
    :func:`~torchgeo_cstf.datamodules.augmentation.collate_rotated_detection`:
    ``image`` (B, 3, S, S) and per-image lists ``bbox`` (N_i, 5) CXCYWHR,
    ``bbox_xyxy``, ``label`` and ``difficult``. On the device, images are divided
    by 255 and, for training only, augmented by
    :func:`~torchgeo_cstf.datamodules.detection_augmentation`.

    Splits: ``fit`` trains on ``'train'`` and validates on ``'val'``; ``test``
    also uses ``'val'``, since DOTA's test labels are not public (test-set
    scores come from the DOTA server: predict on split test patches, merge with
    :func:`~torchgeo_cstf.datasets.merge_patch_predictions` and upload the files
    of :func:`~torchgeo_cstf.datasets.write_task1`). Validation on patches
    scores patch-level objects; for the image-level protocol, merge and score
    with :func:`~torchgeo_cstf.metrics.evaluate_dota_task1`.

    Args:
        batch_size: patches per batch.
        patch_size: side every image is padded to (the split's ``size``).
        num_workers: data-loading worker processes.
        version: DOTA version of the annotations, ``'1.0'``, ``'1.5'`` or
            ``'2.0'``.
        horizontal_targets: shape batches for TorchGeo's horizontal
            ``ObjectDetection`` (see
            :class:`~torchgeo_cstf.datamodules.detection.OrientedDetectionDataModule`);
            ``num_classes`` is then the version's class count plus one.
        **kwargs: passed to :class:`~torchgeo_cstf.datasets.DOTA` (``root``); its
            ``transforms`` is set to the padding.

    Raises:
        InputError: an unknown version or a patch size below 1.
    """

    def __init__(
        self,
        batch_size: int = 8,
        patch_size: int = 1024,
        num_workers: int = 0,
        version: str = '1.0',
        horizontal_targets: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialise the datamodule; see the class docstring."""
        if version not in VERSION_CLASSES:
            raise InputError(
                'version', f'must be one of {tuple(VERSION_CLASSES)}, got {version!r}'
            )
        if isinstance(patch_size, bool) or not isinstance(patch_size, int):
            raise InputError('patch_size', f'must be an integer, got {patch_size!r}')
        if patch_size < 1:
            raise InputError('patch_size', f'must be positive, got {patch_size}')
        super().__init__(
            DOTA, batch_size, num_workers, horizontal_targets, version=version, **kwargs
        )
        self.patch_size = patch_size

    def setup(self, stage: str) -> None:
        """Create the datasets of a stage.

        Args:
            stage: ``'fit'``, ``'validate'`` or ``'test'``.
        """
        self.kwargs['transforms'] = partial(pad_to_patch, size=self.patch_size)
        if stage == 'fit':
            self.train_dataset = DOTA(split='train', **self.kwargs)
        if stage in ('fit', 'validate'):
            self.val_dataset = DOTA(split='val', **self.kwargs)
        if stage == 'test':
            self.test_dataset = DOTA(split='val', **self.kwargs)
