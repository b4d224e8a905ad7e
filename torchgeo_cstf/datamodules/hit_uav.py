"""Lightning datamodule for HIT-UAV (real thermal UAV images, oriented boxes)."""

from __future__ import annotations

from typing import Any

from ..datasets.hit_uav import HITUAV, HITUAVSplit
from ..errors import InputError
from .augmentation import letterbox
from .detection import OrientedDetectionDataModule

#: rows and columns of a HIT-UAV image
HIT_UAV_SIZE = (512, 640)


class HITUAVSample:
    """The per-sample transform of the HIT-UAV datamodule.

    Letterboxes the image to ``size`` (HIT-UAV images already are 640×512: a
    no-op for them), repeats the thermal band ``bands`` times and, with
    ``drop_difficult``, removes difficult boxes (``DontCare`` regions and
    difficult objects are ignored in training, the VOC practice).

    Args:
        size: (rows, columns) of the output.
        bands: bands of the output (the thermal band repeated).
        drop_difficult: remove difficult boxes.
    """

    def __init__(self, size: tuple[int, int], bands: int, drop_difficult: bool) -> None:
        """Initialise the transform; see the class docstring."""
        self.size = size
        self.bands = bands
        self.drop_difficult = drop_difficult

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        """Transform one sample."""
        out = letterbox(sample, self.size)
        out['image'] = out['image'].expand(self.bands, -1, -1).contiguous()
        if self.drop_difficult:
            keep = ~out['difficult']
            for key in ('bbox', 'label', 'difficult', 'id'):
                out[key] = out[key][keep]
        return out


class HITUAVDataModule(OrientedDetectionDataModule):
    """HIT-UAV batches: 640×512 thermal images with oriented boxes.

    Splits are the official ones: ``fit`` trains on ``train`` and validates on
    ``val``, ``test`` uses ``test``. Training drops difficult boxes (see
    :class:`HITUAVSample`); validation and test keep them, so that detections
    in ``DontCare`` regions count neither way. Batches are those of
    :class:`~torchgeo_cstf.datamodules.detection.OrientedDetectionDataModule`
    (flips, free rotations, scale and brightness/contrast jitter in training;
    90° rotations only when ``patch_size`` is square, which HIT-UAV's 640×512
    is not).

    Args:
        batch_size: images per batch.
        patch_size: (rows, columns) every image is letterboxed to.
        bands: bands of the images given to the model: 1 (the thermal band) or 3
            (repeated, for models with RGB stems).
        num_workers: data-loading worker processes.
        horizontal_targets: shape batches for TorchGeo's horizontal
            ``ObjectDetection`` (the peer).
        **kwargs: passed to :class:`~torchgeo_cstf.datasets.HITUAV` (``root``,
            ``dont_care``).

    Raises:
        InputError: ``bands`` is not 1 or 3.
    """

    def __init__(
        self,
        batch_size: int = 8,
        patch_size: tuple[int, int] = HIT_UAV_SIZE,
        bands: int = 3,
        num_workers: int = 0,
        horizontal_targets: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialise the datamodule; see the class docstring."""
        if bands not in (1, 3):
            raise InputError('bands', f'must be 1 or 3, got {bands}')
        rows, columns = int(patch_size[0]), int(patch_size[1])
        super().__init__(
            HITUAV,
            batch_size,
            num_workers,
            horizontal_targets,
            square=rows == columns,
            **kwargs,
        )
        self.patch_size = (rows, columns)
        self.bands = bands

    def _dataset(self, split: HITUAVSplit) -> HITUAV:
        sample = HITUAVSample(self.patch_size, self.bands, split == 'train')
        return HITUAV(split=split, transforms=sample, **self.kwargs)

    def setup(self, stage: str) -> None:
        """Create the datasets of a stage.

        Args:
            stage: ``'fit'``, ``'validate'``, ``'test'`` or ``'predict'``.
        """
        if stage == 'fit':
            self.train_dataset = self._dataset('train')
        if stage in ('fit', 'validate'):
            self.val_dataset = self._dataset('val')
        if stage == 'test':
            self.test_dataset = self._dataset('test')
        if stage == 'predict':
            self.predict_dataset = self._dataset('test')
