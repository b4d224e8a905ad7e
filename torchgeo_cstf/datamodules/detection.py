"""Common base of the oriented-detection datamodules."""

from __future__ import annotations

from typing import Any

import torch
from matplotlib.figure import Figure
from torchgeo.datamodules import NonGeoDataModule
from torchgeo.datasets import NonGeoDataset

from .augmentation import collate_rotated_detection, detection_augmentation


class OrientedDetectionDataModule(NonGeoDataModule):
    """Batches of images with per-image lists of CXCYWHR boxes.

    Collation keeps ``bbox``, ``label``, ``difficult`` and ``id`` as per-image
    lists and adds ``bbox_xyxy`` (enclosing horizontal boxes); on the device,
    images are normalised by ``mean``/``std`` and, in training, augmented by
    :func:`~torchgeo_cstf.datamodules.detection_augmentation` (flips, 90° and
    free rotations, scale and brightness/contrast jitter, boxes carried along).

    With ``horizontal_targets`` the batches suit TorchGeo's horizontal
    :class:`~torchgeo.tasks.ObjectDetection` (torchvision detectors): after
    augmentation the oriented ``bbox`` list is removed (kornia reads a ``bbox``
    key as corner boxes, and the task's validation plotting passes the whole
    batch to kornia) and labels are shifted by one, label 0 being torchvision's
    background; ``num_classes`` is then the number of classes plus one.

    Args:
        dataset_class: the dataset class.
        batch_size: images per batch.
        num_workers: data loader processes.
        horizontal_targets: shape batches for TorchGeo's ``ObjectDetection``.
        square: whether batches are square (random 90° rotations are added
            only then: see :func:`detection_augmentation`).
        **kwargs: arguments of the dataset class.
    """

    mean = torch.tensor(0.0)
    std = torch.tensor(255.0)

    def __init__(
        self,
        dataset_class: type[NonGeoDataset],
        batch_size: int = 8,
        num_workers: int = 0,
        horizontal_targets: bool = False,
        square: bool = True,
        **kwargs: Any,
    ) -> None:
        """Initialise the datamodule; see the class docstring for arguments."""
        super().__init__(dataset_class, batch_size, num_workers, **kwargs)
        self.horizontal_targets = horizontal_targets
        self.collate_fn = collate_rotated_detection
        self.train_aug = detection_augmentation(
            self.mean, self.std, train=True, quarter_turns=square
        )
        self.aug = detection_augmentation(self.mean, self.std, train=False)

    def on_after_batch_transfer(
        self, batch: dict[str, Any], dataloader_idx: int
    ) -> dict[str, Any]:
        """Augment a batch on the device (see the class docstring).

        Args:
            batch: a collated batch.
            dataloader_idx: index of the data loader.

        Returns:
            The augmented batch, in horizontal form if ``horizontal_targets``.
        """
        batch = super().on_after_batch_transfer(batch, dataloader_idx)
        if not self.horizontal_targets:
            return batch
        out: dict[str, Any] = {k: v for k, v in batch.items() if k != 'bbox'}
        out['label'] = [labels + 1 for labels in batch['label']]
        return out

    def plot(self, *args: Any, **kwargs: Any) -> Figure | None:
        """Plot a sample with the dataset's ``plot``.

        With ``horizontal_targets``, the label shift is undone first.

        Args:
            *args: the sample, then further arguments of the dataset's ``plot``.
            **kwargs: keyword arguments of the dataset's ``plot``.

        Returns:
            The figure, or None without a validation dataset.
        """
        if self.horizontal_targets and args:
            sample = dict(args[0])
            for key in ('label', 'prediction_label'):
                if key in sample:
                    sample[key] = sample[key] - 1
            args = (sample, *args[1:])
        return super().plot(*args, **kwargs)
