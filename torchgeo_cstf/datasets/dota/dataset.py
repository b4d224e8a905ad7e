"""DOTA for oriented detection: TorchGeo's layout, oriented boxes, difficult flags.

Versions, class order, the layout read and what differs from
``torchgeo.datasets.DOTA`` are documented in ``docs/datasets/dota.md``; the
class docstring of :class:`DOTA` summarises them. Patches written by
:mod:`.split` are read like whole images; :class:`PatchOrigin` records where
each came from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import pandas as pd
import torch
from torch import Tensor
from torchgeo.datasets import DOTA as TorchGeoDOTA

from ...errors import InputError
from ...ops.boxes import poly_to_cxcywhr
from ...plotting import DetectionPlotMixin
from ..errors import DatasetNotFoundError
from .labels import DotaObject, read_dota_labels

#: class names of each DOTA version; label ``i`` is ``VERSION_CLASSES[v][i]``
VERSION_CLASSES: dict[str, tuple[str, ...]] = {
    '1.0': tuple(TorchGeoDOTA.classes[:15]),
    '1.5': tuple(TorchGeoDOTA.classes[:16]),
    '2.0': tuple(TorchGeoDOTA.classes),
}

#: columns of ``samples.csv``: TorchGeo's four, then where each patch came from
INDEX_COLUMNS = (
    'image_path',
    'annotation_path',
    'split',
    'version',
    'image_id',
    'x',
    'y',
    'rate',
)

_DOWNLOAD_HINT = (
    'this package cannot download DOTA: get the images and the labelTxt files of '
    'the version from https://captain-whu.github.io/DOTA/ and arrange them in '
    "TorchGeo's layout, root/samples.csv (columns image_path, annotation_path, "
    'split, version; paths relative to root), root/{split}/images/<id>.png and '
    'root/{split}/annotations/version{version}/<id>.txt (a folder written by '
    'split_dota is such a root)'
)

_PATCH_NAME = re.compile(
    r'^(?P<id>.+)__(?P<rate>\d+(?:\.\d+)?)__(?P<x>\d+)___(?P<y>\d+)$'
)

Sample = dict[str, Any]

#: one ``samples.csv`` row of a patch, in :data:`INDEX_COLUMNS` order
_Row = tuple[str, str, str, str, str, int, int, float]


@dataclass(frozen=True)
class PatchOrigin:
    """Where a patch lies in its source image.

    The patch's pixel ``(px, py)`` is the source pixel
    ``((px + x) / rate, (py + y) / rate)``: the image was scaled by ``rate``,
    then the window at ``(x, y)`` was cut out.

    Attributes:
        image_id: the source image's id (file stem, e.g. ``P0000``).
        x: column of the window in the scaled image.
        y: row of the window in the scaled image.
        rate: the scale factor applied before cutting.
    """

    image_id: str
    x: int = 0
    y: int = 0
    rate: float = 1.0

    @property
    def name(self) -> str:
        """The patch's file stem, ``<image_id>__<rate>__<x>___<y>``."""
        return f'{self.image_id}__{float(self.rate)!r}__{self.x}___{self.y}'

    @classmethod
    def from_name(cls, name: str) -> PatchOrigin:
        """Parse a patch stem; any other stem is a whole image at rate 1.

        Args:
            name: a file stem such as ``P0000__1.0__824___1648`` or ``P0000``.

        Returns:
            The origin.
        """
        match = _PATCH_NAME.match(name)
        if match is None:
            return cls(name)
        return cls(match['id'], int(match['x']), int(match['y']), float(match['rate']))


#: the splits with public labels
DOTASplit = Literal['train', 'val']
#: the versions
DOTAVersion = Literal['1.0', '1.5', '2.0']


class DOTA(DetectionPlotMixin, TorchGeoDOTA):
    """DOTA images with oriented boxes, difficult flags and per-version classes.

    Dataset features:

    * aerial and satellite images (Google Earth, GF-2, JL-1, CycloMedia),
      800 to 20,000 px a side
    * objects annotated with quadrilaterals and a difficult flag
    * v1.0: 2,806 images, v1.5 the same images with small objects added,
      v2.0: 11,268 images; train and val labels public (test on the server)

    Dataset format:

    * TorchGeo's layout: ``samples.csv``, ``{split}/images/*.png``,
      ``{split}/annotations/version{v}/*.txt`` (``x1 y1 … x4 y4 class
      difficult`` lines)

    Dataset classes: 15 (v1.0), 16 (v1.5, + container-crane), 18 (v2.0, +
    airport, helipad), in TorchGeo's order.

    If you use this dataset in your research, please cite:

    * G.-S. Xia et al.: "DOTA: A Large-scale Dataset for Object Detection in
      Aerial Images", CVPR 2018, https://doi.org/10.1109/CVPR.2018.00418
    * J. Ding et al.: "Object Detection in Aerial Images: A Large-Scale
      Benchmark and Challenges", TPAMI 2021,
      https://doi.org/10.1109/TPAMI.2021.3117983

    Samples are dicts with

    - ``image``: float32 (3, H, W), RGB values 0–255;
    - ``bbox``: float32 (N, 5) canonical CXCYWHR boxes (pixels, degrees CCW),
      the minimum-area rectangles of the label quadrilaterals
      (:func:`~torchgeo_cstf.ops.poly_to_cxcywhr`);
    - ``label``: int64 (N,), indices into :attr:`classes` (0-based, as
      TorchGeo's);
    - ``difficult``: bool (N,), the label files' difficult flag.

    The layout under ``root`` is TorchGeo's (see the module docstring); the
    output of :func:`split_dota` is such a root. Nothing is downloaded.

    Attributes:
        classes: the class names of ``version``.
        origins: for each sample, where its image lies in the source image
            (parsed from the file name; a whole image for unsplit roots).

    Args:
        root: the dataset root.
        split: ``'train'`` or ``'val'`` (DOTA's test labels are not public).
        version: ``'1.0'``, ``'1.5'`` or ``'2.0'``.
        transforms: function applied to each sample dict.

    Raises:
        InputError: an unknown split or version.
        DatasetNotFoundError: ``root``, ``samples.csv``, the split's folders, or a
            listed file is missing, or ``samples.csv`` lists no image of the
            split and version.
    """

    splits: ClassVar[tuple[str, ...]] = ('train', 'val')

    def __init__(
        self,
        root: str | os.PathLike[str] = 'data',
        split: DOTASplit = 'train',
        version: DOTAVersion = '1.0',
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        """Initialise the dataset; see the class docstring."""
        if split not in self.splits:
            raise InputError('split', f'must be one of {self.splits}, got {split!r}')
        if version not in VERSION_CLASSES:
            raise InputError(
                'version', f'must be one of {tuple(VERSION_CLASSES)}, got {version!r}'
            )
        _check_layout(Path(root), split, version)
        super().__init__(
            os.fspath(root),
            split,
            version,
            bbox_orientation='oriented',
            transforms=transforms,
            download=False,
            checksum=False,
        )
        # torchgeo's ``classes`` is inferred as a tuple of exactly 18 names
        self.classes: tuple[str, ...] = VERSION_CLASSES[version]  # type: ignore[assignment]
        _check_listed_files(Path(root), self.sample_df, split, version)
        self.origins = [
            PatchOrigin.from_name(Path(path).stem)
            for path in self.sample_df['image_path']
        ]

    def __getitem__(self, index: int) -> Sample:
        """Load one image and its objects.

        Args:
            index: sample index.

        Returns:
            The sample (see the class docstring), after ``transforms``.

        Raises:
            InputError: a malformed label file or a class not in :attr:`classes`.
        """
        row = self.sample_df.iloc[index]
        path = Path(self.root, row['annotation_path'])
        objects = read_dota_labels(path)
        sample: Sample = {
            'image': self._load_image(row['image_path']),
            'bbox': poly_to_cxcywhr(_polygons(objects)).float(),
            'label': torch.tensor(
                [_class_label(obj.name, self.version, path) for obj in objects],
                dtype=torch.int64,
            ),
            'difficult': torch.tensor(
                [obj.difficult for obj in objects], dtype=torch.bool
            ),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample


def _check_layout(root: Path, split: str, version: str) -> None:
    """Raise :class:`DatasetNotFoundError` unless the folders and index exist."""
    for path in (
        root,
        root / 'samples.csv',
        root / split / 'images',
        root / split / 'annotations' / f'version{version}',
    ):
        if not path.exists():
            raise DatasetNotFoundError(path, f'not found; {_DOWNLOAD_HINT}')


def _check_listed_files(
    root: Path, index: pd.DataFrame, split: str, version: str
) -> None:
    """Raise unless ``index`` lists images and all of its files exist."""
    if index.empty:
        raise DatasetNotFoundError(
            root / 'samples.csv',
            f'lists no {split} image of version {version}; {_DOWNLOAD_HINT}',
        )
    missing = [
        root / path
        for column in ('image_path', 'annotation_path')
        for path in index[column]
        if not (root / path).is_file()
    ]
    if missing:
        raise DatasetNotFoundError(
            missing[0],
            f'not found ({len(missing)} of the files samples.csv lists for '
            f'{split} v{version} are missing); {_DOWNLOAD_HINT}',
        )


def _class_label(name: str, version: str, path: Path) -> int:
    """Label of a class name in ``version``; :class:`InputError` naming ``path``."""
    classes = VERSION_CLASSES[version]
    if name not in classes:
        raise InputError(
            path, f'class {name!r} is not a DOTA-v{version} class {classes}'
        )
    return classes.index(name)


def _polygons(objects: Sequence[DotaObject]) -> Tensor:
    """(N, 8) float64 polygons of label objects."""
    return torch.tensor([obj.polygon for obj in objects], dtype=torch.float64).reshape(
        -1, 8
    )
