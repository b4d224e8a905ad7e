"""A detection dataset of synthetic scenes, generated on the fly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchgeo.datasets import NonGeoDataset

from ..errors import InputError
from ..plotting import DetectionPlotMixin
from ..synthetic import (
    CLASSES,
    PairSettings,
    SceneSettings,
    SceneTruth,
    synthesize_pair,
    synthesize_scene,
)
from ..synthetic.render import Modality

Sample = dict[str, Any]

#: default number of scenes per split
DEFAULT_LENGTHS: dict[str, int] = {'train': 256, 'val': 32, 'test': 32}
_SPLIT_CODES = {'train': 0, 'val': 1, 'test': 2}


class SyntheticScenes(DetectionPlotMixin, NonGeoDataset):
    """Synthetic oriented-object scenes (ships, planes, vehicles), made on demand.

    Scene ``i`` of a split is always the same (its seed derives from ``seed``,
    the split and ``i``) and splits never share a scene. Nothing is written to
    disk: a 512×512 optical scene takes about 0.1 s to make.

    With ``temporal=True`` each sample also holds ``reference``: a
    co-registered earlier acquisition of the same ground (same modality, objects
    moved, added and removed by ``time_change``), for temporal fusion.

    Sample keys: ``image`` float32 (C, H, W) digital numbers; ``bbox`` float32
    (N, 5) CXCYWHR; ``label`` int64 (N,) (0 ship, 1 plane, 2 vehicle);
    ``difficult`` bool (N,) (all False); ``id`` int64 (N,); optionally
    ``reference`` float32 (C, H, W).

    Args:
        split: ``train``, ``val`` or ``test``.
        length: number of scenes (default :data:`DEFAULT_LENGTHS`).
        size: scene side, or (rows, columns).
        seed: base seed.
        modality: ``optical``, ``sar`` or ``thermal``.
        bands: band count (default 3 optical, 2 SAR, 1 thermal).
        temporal: add a co-registered earlier acquisition as ``reference``.
        time_change: share of objects that change between the two times.
        objects_per_megapixel: target density of objects (default the
            generator's, 48 per 1024² pixels); denser scenes give a detector
            more objects per training step.
        transforms: a callable applied to each sample.
    """

    classes = CLASSES

    def __init__(
        self,
        split: str = 'train',
        length: int | None = None,
        size: int | tuple[int, int] = 512,
        seed: int = 0,
        modality: Modality = 'optical',
        bands: int | None = None,
        temporal: bool = False,
        time_change: float = 0.3,
        objects_per_megapixel: float | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        """Initialise the dataset; see the class docstring for arguments."""
        if split not in _SPLIT_CODES:
            raise InputError(
                'split', f'must be one of {list(_SPLIT_CODES)}, got {split!r}'
            )
        self.length = DEFAULT_LENGTHS[split] if length is None else int(length)
        if self.length < 1:
            raise InputError('length', f'must be at least 1, got {length}')
        self.split = split
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.seed = seed
        self.modality = modality
        self.bands = bands
        self.temporal = temporal
        self.time_change = time_change
        if objects_per_megapixel is not None and objects_per_megapixel < 0:
            raise InputError(
                'objects_per_megapixel', f'must be >= 0, got {objects_per_megapixel}'
            )
        self.num_objects = (
            None
            if objects_per_megapixel is None
            else round(objects_per_megapixel * self.size[0] * self.size[1] / 1024**2)
        )
        self.transforms = transforms

    def __len__(self) -> int:
        """Number of scenes."""
        return self.length

    def scene_seed(self, index: int) -> int:
        """The generator seed of scene ``index``."""
        state = np.random.SeedSequence([self.seed, _SPLIT_CODES[self.split], index])
        return int(state.generate_state(1)[0])

    def __getitem__(self, index: int) -> Sample:
        """Make scene ``index``.

        Args:
            index: scene index in [0, len).

        Returns:
            The sample (see the class docstring).
        """
        if not 0 <= index < self.length:
            raise IndexError(f'scene {index} out of range [0, {self.length})')
        seed = self.scene_seed(index)
        reference: np.ndarray[Any, Any] | None = None
        if self.temporal:
            pair = synthesize_pair(
                seed,
                PairSettings(
                    size=self.size,  # type: ignore[arg-type]
                    modality=self.modality,
                    reference_modality=self.modality,
                    reference_bands=self.bands,
                    query_bands=self.bands,
                    warp='identity',
                    time_change=self.time_change,
                    georef_error=0.0,
                    num_objects=self.num_objects,
                ),
            )
            image, truth, reference = pair.query, pair.truth.query, pair.reference
        else:
            scene = synthesize_scene(
                self.size,  # type: ignore[arg-type]
                seed,
                SceneSettings(
                    modality=self.modality,
                    bands=self.bands,
                    num_objects=self.num_objects,
                ),
            )
            image, truth = scene.image, scene.truth
        sample = _sample(image, truth)
        if reference is not None:
            sample['reference'] = torch.from_numpy(reference.astype(np.float32))
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample


def _sample(image: np.ndarray[Any, Any], truth: SceneTruth) -> Sample:
    boxes: Tensor = torch.from_numpy(truth.boxes()).float()
    return {
        'image': torch.from_numpy(image.astype(np.float32)),
        'bbox': boxes,
        'label': torch.from_numpy(truth.labels()),
        'difficult': torch.zeros(len(boxes), dtype=torch.bool),
        'id': torch.tensor([o.id for o in truth.objects], dtype=torch.int64),
    }
