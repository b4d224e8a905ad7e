"""Detection datasets laid out as a split list, an image and an annotation per id."""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchgeo.datasets import NonGeoDataset

from .errors import DatasetNotFoundError

Transforms = Callable[[dict[str, Tensor]], dict[str, Tensor]]


class ListedImages(NonGeoDataset):
    """Images and annotation files named by the ids of a split list.

    Subclasses give the layout as path patterns under ``root`` (``listing``
    with ``{split}``, ``images`` and ``annotations`` with ``{id}``), how an
    annotation reads (``_load_target``) and how the dataset is obtained
    (``hint``); this class checks the layout once and loads samples: ``image``
    float32 (C, H, W) with the digital numbers of ``pil_mode`` (``RGB`` or
    ``L``), the target's keys, then ``transforms``. Subclasses set ``split``
    before calling ``__init__``.

    Attributes:
        ids: image ids of the split, in file order.
    """

    #: the dataset's name in messages
    title = 'dataset'
    #: how to obtain the dataset, appended to every not-found message
    hint = ''
    #: the PIL mode images are converted to
    pil_mode = 'RGB'
    #: the split list under ``root`` (``{split}``: the split's name)
    listing = 'ImageSets/{split}.txt'
    #: an image under ``root`` (``{id}``: the image id)
    images = 'images/{id}.png'
    #: an annotation under ``root``
    annotations = 'annotations/{id}.xml'
    split: str

    def __init__(
        self, root: str | os.PathLike[str], transforms: Transforms | None
    ) -> None:
        """Read the split's ids and check that their files exist.

        Args:
            root: the dataset's root directory.
            transforms: function applied to each sample dict.

        Raises:
            DatasetNotFoundError: ``root``, the split's list, or a listed image or
                annotation is missing.
        """
        self.root = os.fspath(root)
        self.transforms = transforms
        self.ids = self._read_ids()

    def _listing(self) -> str:
        return os.path.join(self.root, self.listing.format(split=self.split))

    def _image_path(self, image_id: str) -> str:
        return os.path.join(self.root, self.images.format(id=image_id))

    def _annotation_path(self, image_id: str) -> str:
        return os.path.join(self.root, self.annotations.format(id=image_id))

    @abstractmethod
    def _load_target(self, path: str) -> dict[str, Tensor]:
        """``bbox``, ``label``, ``difficult`` and ``id`` of one annotation file."""

    def _read_ids(self) -> list[str]:
        if not os.path.isdir(self.root):
            raise DatasetNotFoundError(
                self.root, f'{self.title} root directory not found; {self.hint}'
            )
        listing = self._listing()
        if not os.path.isfile(listing):
            raise DatasetNotFoundError(listing, f'split list not found; {self.hint}')
        with open(listing, encoding='utf-8') as file:
            ids = [line.strip() for line in file if line.strip()]
        missing = [
            path
            for image_id in ids
            for path in (self._image_path(image_id), self._annotation_path(image_id))
            if not os.path.isfile(path)
        ]
        if missing:
            raise DatasetNotFoundError(
                missing[0],
                f'not found ({len(missing)} of the images and annotations listed in '
                f'{listing} are missing); {self.hint}',
            )
        return ids

    def __len__(self) -> int:
        """Number of images in the split.

        Returns:
            The length of the dataset.
        """
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Load one image and its objects.

        Args:
            index: position in :attr:`ids`.

        Returns:
            The sample (see the class docstring), after ``transforms``.

        Raises:
            InputError: the annotation is malformed.
        """
        image_id = self.ids[index]
        with Image.open(self._image_path(image_id)) as image:
            pixels = np.array(image.convert(self.pil_mode))
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        sample = {
            'image': torch.from_numpy(pixels).permute(2, 0, 1).float(),
            **self._load_target(self._annotation_path(image_id)),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
