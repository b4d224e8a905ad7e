"""HRSC2016: high-resolution optical ship images with oriented boxes.

The layout read, the box conversion, the class levels and where the class tree
comes from are documented in ``docs/datasets/hrsc2016.md``; the class
docstring of :class:`HRSC2016` summarises them.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import ClassVar, Literal

import torch
from torch import Tensor

from ..errors import InputError
from ..ops.boxes import hrsc_mbox_to_cxcywhr
from ..plotting import DetectionPlotMixin
from .listed import ListedImages
from .xml_fields import xml_number

#: ``Class_ID`` → (fine class, as MMRotate spells it; level-2 parent), in
#: MMRotate's ``classwise=True`` order; sources in ``docs/datasets/hrsc2016.md``.
CLASS_IDS: dict[int, tuple[str, str]] = {
    100000001: ('ship', 'ship'),
    100000002: ('aircraft carrier', 'aircraft carrier'),
    100000003: ('warcraft', 'warcraft'),
    100000004: ('merchant ship', 'merchant ship'),
    100000005: ('Nimitz', 'aircraft carrier'),
    100000006: ('Enterprise', 'aircraft carrier'),
    100000007: ('Arleigh Burke', 'warcraft'),
    100000008: ('WhidbeyIsland', 'warcraft'),
    100000009: ('Perry', 'warcraft'),
    100000010: ('Sanantonio', 'warcraft'),
    100000011: ('Ticonderoga', 'warcraft'),
    100000012: ('Kitty Hawk', 'aircraft carrier'),
    100000013: ('Kuznetsov', 'aircraft carrier'),
    100000014: ('Abukuma', 'warcraft'),
    100000015: ('Austen', 'warcraft'),
    100000016: ('Tarawa', 'aircraft carrier'),
    100000017: ('Blue Ridge', 'warcraft'),
    100000018: ('Container', 'merchant ship'),
    100000019: ('OXo|--)', 'warcraft'),
    100000020: ('Car carrier([]==[])', 'merchant ship'),
    100000022: ('Hovercraft', 'merchant ship'),
    100000024: ('yacht', 'merchant ship'),
    100000025: ('CntShip(_|.--.--|_]=', 'merchant ship'),
    100000026: ('Cruise', 'merchant ship'),
    100000027: ('submarine', 'submarine'),
    100000028: ('lute', 'warcraft'),
    100000029: ('Medical', 'warcraft'),
    100000030: ('Car carrier(======|', 'merchant ship'),
    100000031: ('Ford-class', 'aircraft carrier'),
    100000032: ('Midway-class', 'aircraft carrier'),
    100000033: ('Invincible-class', 'aircraft carrier'),
}

_DOWNLOAD_HINT = (
    "download HRSC2016 (e.g. from the link in MMRotate's tools/data/hrsc/README.md, "
    'https://aistudio.baidu.com/aistudio/datasetdetail/54106, or a Kaggle mirror) '
    'and extract it so that root holds ImageSets/{train,val,trainval,test}.txt, '
    'FullDataSet/AllImages/<id>.bmp and FullDataSet/Annotations/<id>.xml'
)


#: the splits of HRSC2016
HRSC2016Split = Literal['train', 'val', 'trainval', 'test']
#: its class levels
HRSC2016Classes = Literal['ship', 'L2', 'L3']


class HRSC2016(DetectionPlotMixin, ListedImages):
    """HRSC2016 ship detection dataset with oriented boxes.

    Dataset features:

    * 1,061 Google Earth images of ships at sea and in harbours, about 300×300
      to 1500×900 px, 0.4–2 m per pixel
    * one oriented box per ship (2,976 ships), a difficult flag
    * official splits: train 436, val 181, test 444 images

    Dataset format:

    * images: ``FullDataSet/AllImages/<id>.bmp`` (RGB)
    * annotations: ``FullDataSet/Annotations/<id>.xml`` (``HRSC_Object`` with
      ``mbox_cx``, ``mbox_cy``, ``mbox_w``, ``mbox_h``, ``mbox_ang`` in radians)
    * splits: ``ImageSets/{train,val,trainval,test}.txt``

    Dataset classes: ``'ship'`` (1 class, the usual benchmark), ``'L2'`` (5 ship
    categories) or ``'L3'`` (31 classes, MMRotate's ``classwise=True``).

    If you use this dataset in your research, please cite:

    * Z. Liu, L. Yuan, L. Weng, Y. Yang: "A High Resolution Optical Satellite
      Image Dataset for Ship Recognition and Some New Baselines", ICPRAM 2017,
      https://doi.org/10.5220/0006120603240331

    Samples are dicts with

    - ``image``: float32 (3, H, W), RGB values 0–255;
    - ``bbox``: float32 (N, 5) canonical CXCYWHR boxes (pixels, degrees CCW);
    - ``label``: int64 (N,), indices into :attr:`classes`;
    - ``difficult``: bool (N,);
    - ``id``: int64 (N,), the annotation's ``Object_ID``.

    Images without objects give (0, 5) boxes. See the module docstring for the
    layout under ``root`` and the class levels.

    Attributes:
        level: the class level (the ``classes`` argument).
        classes: class names of the level; label *i* is ``classes[i]``.
        ids: image ids of the split, in file order.

    Args:
        root: directory holding ``ImageSets`` and ``FullDataSet``.
        split: ``'train'``, ``'val'``, ``'trainval'`` or ``'test'``.
        classes: class level, ``'ship'``, ``'L2'`` or ``'L3'``.
        transforms: function applied to each sample dict.

    Raises:
        InputError: unknown ``split`` or ``classes``.
        DatasetNotFoundError: ``root``, the split's list, or a listed image or
            annotation is missing.
    """

    splits: ClassVar[tuple[str, ...]] = ('train', 'val', 'trainval', 'test')
    levels: ClassVar[dict[str, tuple[str, ...]]] = {
        'ship': ('ship',),
        'L2': ('ship', 'aircraft carrier', 'warcraft', 'merchant ship', 'submarine'),
        'L3': tuple(name for name, _ in CLASS_IDS.values()),
    }
    rgb_bands = ('red', 'green', 'blue')
    all_bands = rgb_bands
    title = 'HRSC2016'
    hint = _DOWNLOAD_HINT
    listing = 'ImageSets/{split}.txt'
    images = 'FullDataSet/AllImages/{id}.bmp'
    annotations = 'FullDataSet/Annotations/{id}.xml'

    def __init__(
        self,
        root: str | os.PathLike[str] = 'data',
        split: HRSC2016Split = 'trainval',
        classes: HRSC2016Classes = 'ship',
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialise the dataset; see the class docstring."""
        if split not in self.splits:
            raise InputError('split', f'must be one of {self.splits}, got {split!r}')
        if classes not in self.levels:
            raise InputError(
                'classes', f'must be one of {tuple(self.levels)}, got {classes!r}'
            )
        self.split = split
        self.level = classes
        self.classes = self.levels[classes]
        self._label_of = self._labels_by_class_id(classes)
        super().__init__(root, transforms)

    @staticmethod
    def _labels_by_class_id(level: str) -> dict[int, int]:
        if level == 'ship':
            return {}
        names = HRSC2016.levels[level]
        column = 0 if level == 'L3' else 1
        return {cid: names.index(pair[column]) for cid, pair in CLASS_IDS.items()}

    def _load_target(self, path: str) -> dict[str, Tensor]:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as error:
            raise InputError(path, f'is not valid XML ({error})') from error
        if root.tag != 'HRSC_Image':
            raise InputError(
                path, f'has root element <{root.tag}>, expected <HRSC_Image>'
            )
        mboxes: list[list[float]] = []
        labels: list[int] = []
        difficult: list[bool] = []
        ids: list[int] = []
        for obj in root.findall('HRSC_Objects/HRSC_Object'):
            mboxes.append(
                [
                    xml_number(obj, tag, path)
                    for tag in ('mbox_cx', 'mbox_cy', 'mbox_w', 'mbox_h', 'mbox_ang')
                ]
            )
            labels.append(self._label(obj, path))
            difficult.append(xml_number(obj, 'difficult', path, default=0.0) != 0)
            ids.append(int(xml_number(obj, 'Object_ID', path)))
        mbox = torch.tensor(mboxes, dtype=torch.float64).reshape(-1, 5)
        return {
            'bbox': hrsc_mbox_to_cxcywhr(mbox).float(),
            'label': torch.tensor(labels, dtype=torch.int64),
            'difficult': torch.tensor(difficult, dtype=torch.bool),
            'id': torch.tensor(ids, dtype=torch.int64),
        }

    def _label(self, obj: ET.Element, path: str) -> int:
        if self.level == 'ship':
            return 0
        class_id = int(xml_number(obj, 'Class_ID', path))
        if class_id not in self._label_of:
            raise InputError(
                path,
                f'Class_ID {class_id} is not one of the 31 HRSC2016 classes '
                f'(100000001 … 100000033); use classes="ship" to ignore classes',
            )
        return self._label_of[class_id]
