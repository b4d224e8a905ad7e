"""HIT-UAV: real high-altitude thermal UAV images with oriented boxes.

The source, licence, layout, box convention and the ``DontCare`` rule are
documented in ``docs/datasets/real_detection.md``; the class docstring of
:class:`HITUAV` summarises them.
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

#: the object classes, in label order
CLASSES = ('Person', 'Car', 'Bicycle', 'OtherVehicle')
#: the name of the regions annotators could not label
DONT_CARE = 'DontCare'

_DOWNLOAD_HINT = (
    'clone https://github.com/suojiashun/HIT-UAV-Infrared-Thermal-Dataset (or run '
    'benchmarks/prepare_real_detection.py) and pass its rotate_xml folder, which '
    'holds ImageSets/Main/<split>.txt, JPEGImages/<id>.jpg and Annotations/<id>.xml'
)


#: the splits of HIT-UAV (trainval: train and val together)
HITUAVSplit = Literal['train', 'val', 'trainval', 'test']


class HITUAV(DetectionPlotMixin, ListedImages):
    """HIT-UAV thermal detection dataset with oriented boxes.

    Dataset features:

    * 2,898 thermal infrared images, 640×512 px, from a UAV at 60–130 m
    * oriented boxes (roLabelImg ``robndbox``) and ``DontCare`` regions
    * official splits: train 2,029, val 290, test 579 images; CC BY 4.0

    Dataset format:

    * images: ``JPEGImages/<id>.jpg`` (one band)
    * annotations: ``Annotations/<id>.xml`` (``robndbox`` cx, cy, w, h, angle
      in radians)
    * splits: ``ImageSets/Main/{train,val,test}.txt``

    Dataset classes: Person, Car, Bicycle, OtherVehicle (``DontCare`` is not a
    class: see ``dont_care``).

    If you use this dataset in your research, please cite:

    * J. Suo, T. Wang, X. Zhang, H. Chen, W. Zhou, W. Shi: "HIT-UAV: A
      high-altitude infrared thermal dataset for Unmanned Aerial
      Vehicle-based object detection", Scientific Data 10, 227 (2023),
      https://doi.org/10.1038/s41597-023-02066-6

    Samples are dicts with

    - ``image``: float32 (1, H, W), thermal digital numbers 0–255;
    - ``bbox``: float32 (N, 5) canonical CXCYWHR boxes (pixels, degrees CCW);
    - ``label``: int64 (N,), indices into :attr:`classes`;
    - ``difficult``: bool (N,) (``DontCare`` regions and difficult objects);
    - ``id``: int64 (N,), the object's position in its annotation file.

    Images without objects give (0, 5) boxes. See the module docstring for the
    layout under ``root``.

    Attributes:
        classes: the class names; label *i* is ``classes[i]``.
        ids: image ids of the split, in file order.

    Args:
        root: the ``rotate_xml`` folder.
        split: ``'train'``, ``'val'``, ``'trainval'`` or ``'test'`` (the
            official split).
        dont_care: ``'difficult'`` or ``'drop'`` (see the module docstring).
        transforms: function applied to each sample dict.

    Raises:
        InputError: unknown ``split`` or ``dont_care``.
        DatasetNotFoundError: ``root``, the split's list, or a listed image or
            annotation is missing.
    """

    splits: ClassVar[tuple[str, ...]] = ('train', 'val', 'trainval', 'test')
    all_bands = ('thermal',)
    rgb_bands = ('thermal',)
    title = 'HIT-UAV'
    hint = _DOWNLOAD_HINT
    pil_mode = 'L'
    listing = 'ImageSets/Main/{split}.txt'
    images = 'JPEGImages/{id}.jpg'
    annotations = 'Annotations/{id}.xml'

    def __init__(
        self,
        root: str | os.PathLike[str] = 'data',
        split: HITUAVSplit = 'train',
        dont_care: Literal['difficult', 'drop'] = 'difficult',
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialise the dataset; see the class docstring."""
        if split not in self.splits:
            raise InputError('split', f'must be one of {self.splits}, got {split!r}')
        if dont_care not in ('difficult', 'drop'):
            raise InputError(
                'dont_care', f"must be 'difficult' or 'drop', got {dont_care!r}"
            )
        self.classes = CLASSES
        self.split = split
        self.dont_care = dont_care
        super().__init__(root, transforms)

    def _load_target(self, path: str) -> dict[str, Tensor]:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as error:
            raise InputError(path, f'is not valid XML ({error})') from error
        if root.tag != 'annotation':
            raise InputError(
                path, f'has root element <{root.tag}>, expected <annotation>'
            )
        boxes: list[list[float]] = []
        labels: list[int] = []
        difficult: list[bool] = []
        ids: list[int] = []
        for position, obj in enumerate(root.findall('object')):
            name = (obj.findtext('name') or '').strip()
            box = obj.find('robndbox')
            if box is None:
                raise InputError(path, f'object {position} ({name}) has no <robndbox>')
            mbox = [
                xml_number(box, tag, path) for tag in ('cx', 'cy', 'w', 'h', 'angle')
            ]
            if name == DONT_CARE:
                if self.dont_care == 'drop':
                    continue
                for label in range(len(self.classes)):
                    boxes.append(mbox)
                    labels.append(label)
                    difficult.append(True)
                    ids.append(position)
                continue
            if name not in self.classes:
                raise InputError(
                    path,
                    f'object {position} has class {name!r}, not one of '
                    f'{(*self.classes, DONT_CARE)}',
                )
            boxes.append(mbox)
            labels.append(self.classes.index(name))
            difficult.append(xml_number(obj, 'difficult', path, default=0.0) != 0)
            ids.append(position)
        mboxes = torch.tensor(boxes, dtype=torch.float64).reshape(-1, 5)
        return {
            'bbox': hrsc_mbox_to_cxcywhr(mboxes).float(),
            'label': torch.tensor(labels, dtype=torch.int64),
            'difficult': torch.tensor(difficult, dtype=torch.bool),
            'id': torch.tensor(ids, dtype=torch.int64),
        }
