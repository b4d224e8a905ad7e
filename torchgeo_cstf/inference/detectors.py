"""Find the detector an inference call names: an instance, released weights or a checkpoint."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..errors import InputError, ModelNotFoundError
from ..models.detector import CSTFDetector
from ..models.domain import Domain
from ..models.registry import WEIGHTS, get_model, get_weight, list_models, model_of
from ..models.weights import load_checkpoint
from .tiles import StretchTargets

#: constructor arguments of CSTFDetector that a CSTFDetection checkpoint records
_DETECTOR_ARGS = (
    'backbone',
    'in_channels',
    'num_classes',
    'fusion',
    'channels',
    'score_threshold',
    'nms_threshold',
    'max_detections',
)


@dataclass(frozen=True)
class LoadedDetector:
    """A detector ready for inference and what the outputs say about it.

    Attributes:
        model: the detector (eval mode).
        class_names: one name per class index.
        name: the model's name (registry name, or the checkpoint's file name).
        version: the package version and, for released weights, the weights'
            member name, e.g. ``0.1.0+SYNTHETIC``.
        score_threshold: the operating threshold for reported objects: the
            weights' ``meta['score_threshold']`` (chosen where precision and
            recall balance), else the model's own (low, meant for mAP).
        stretch: where scenes that are not uint8 put their 2nd and 98th
            percentiles: the weights' ``meta['stretch']`` (those of the
            training images), else 0 and 1.
        domain: the imagery the weights were trained on (``meta['domain']``
            of released weights; ``None`` for checkpoints and bare models).
    """

    model: CSTFDetector
    class_names: list[str]
    name: str
    version: str
    score_threshold: float
    stretch: StretchTargets = field(default_factory=StretchTargets)
    domain: Domain | None = None


def _names(count: int, given: Any) -> list[str]:
    names = [str(n) for n in given] if given else []
    if len(names) != count:
        return [f'class_{i}' for i in range(count)]
    return names


def _from_checkpoint(path: Path) -> LoadedDetector:
    data: dict[str, Any] = torch.load(path, map_location='cpu', weights_only=False)
    hparams = data.get('hyper_parameters')
    if not isinstance(hparams, dict) or 'backbone' not in hparams:
        raise InputError(
            path,
            'is not a CSTFDetection checkpoint (no detector hyperparameters); '
            'pass a .ckpt written by `torchgeo fit` with CSTFDetection',
        )
    kwargs = {key: hparams[key] for key in _DETECTOR_ARGS if key in hparams}
    model = CSTFDetector(**kwargs)
    try:
        model.load_state_dict(load_checkpoint(path))
    except RuntimeError as err:
        raise InputError(path, f'weights do not fit the detector: {err}') from err
    return LoadedDetector(
        model.eval(),
        _names(model.num_classes, hparams.get('class_names')),
        path.stem,
        __version__,
        model.score_threshold,
    )


def resolve_detector(
    model: CSTFDetector | LoadedDetector | str | os.PathLike[str],
) -> LoadedDetector:
    """The detector named by ``model``.

    Args:
        model: a :class:`CSTFDetector` (classes are then named ``class_<i>``),
            a :class:`LoadedDetector`, a registered detector name with released
            weights (``cstf_detector_regnetx_002``), a weights name
            (``CSTFDetectorRegNetX002_Weights.SYNTHETIC``), or the path of a
            ``CSTFDetection`` Lightning checkpoint.

    Returns:
        The loaded detector in eval mode.

    Raises:
        ModelNotFoundError: an unknown name, a name without released weights
            or a path that does not exist.
        InputError: a file that is not a detector checkpoint.
    """
    if isinstance(model, LoadedDetector):
        return model
    if isinstance(model, CSTFDetector):
        return LoadedDetector(
            model.eval(),
            _names(model.num_classes, None),
            'CSTFDetector',
            __version__,
            model.score_threshold,
        )
    text = str(model)
    detectors = [name for name in list_models() if name.startswith('cstf_detector')]
    if text in detectors:
        if text not in WEIGHTS:
            released = sorted(name for name in detectors if name in WEIGHTS)
            raise ModelNotFoundError(
                'model',
                f'{text} has no released weights; pass a CSTFDetection checkpoint '
                f'(.ckpt) or one of {released}',
            )
        member = next(iter(WEIGHTS[text].__members__.values()))
        return _from_member(text, member)
    path = Path(text)
    if path.exists():
        return _from_checkpoint(path)
    if '.' in text and path.suffix != '.ckpt':
        member = get_weight(text)
        name = model_of(member)
        if name not in detectors:
            raise InputError('model', f'{text} are not detector weights')
        return _from_member(name, member)
    if path.suffix:
        raise ModelNotFoundError(path, 'no such checkpoint')
    raise ModelNotFoundError(
        'model', f'unknown detector {text!r}; known: {detectors} or a .ckpt path'
    )


def _from_member(name: str, member: Any) -> LoadedDetector:
    built = get_model(name, weights=member)
    if not isinstance(built, CSTFDetector):
        raise InputError('model', f'{name} is not a detector')
    meta = member.value.meta
    return LoadedDetector(
        built,
        _names(built.num_classes, meta.get('classes')),
        name,
        f'{__version__}+{member.name}',
        float(meta.get('score_threshold', built.score_threshold)),
        StretchTargets(**meta['stretch']) if 'stretch' in meta else StretchTargets(),
        meta.get('domain'),
    )
