"""Find the detector an inference call names: an instance, released weights or a checkpoint."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..errors import InputError
from ..models.detector import CSTFDetector
from ..models.domain import Domain
from ..models.registry import DETECTORS, resolve_model
from .tiles import StretchTargets


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
        weights_sha256: the SHA-256 of the weights file (released weights or
            checkpoint; ``None`` for a bare model).
    """

    model: CSTFDetector
    class_names: list[str]
    name: str
    version: str
    score_threshold: float
    stretch: StretchTargets = field(default_factory=StretchTargets)
    domain: Domain | None = None
    weights_sha256: str | None = None


def _names(count: int, given: Any) -> list[str]:
    names = [str(n) for n in given] if given else []
    if len(names) != count:
        return [f'class_{i}' for i in range(count)]
    return names


def resolve_detector(
    model: CSTFDetector | LoadedDetector | str | os.PathLike[str],
) -> LoadedDetector:
    """The detector named by ``model``.

    Args:
        model: a :class:`CSTFDetector` (classes are then named ``class_<i>``),
            a :class:`LoadedDetector`, or what
            :func:`~torchgeo_cstf.models.registry.resolve_model` reads (in its
            order): the path of a ``CSTFDetection`` Lightning checkpoint, a
            weights name (``CSTFDetectorRegNetX002_Weights.SYNTHETIC``), a
            registered detector name with released weights
            (``cstf_detector_regnetx_002``).

    Returns:
        The loaded detector in eval mode.

    Raises:
        ModelNotFoundError: an unknown name, a name without released weights
            or a path that does not exist.
        InputError: a file that is not a detector checkpoint.
    """
    if isinstance(model, LoadedDetector):
        return model
    found = resolve_model(model, DETECTORS)
    built = found.model
    if not isinstance(built, CSTFDetector):  # resolve_model checked the kind
        raise InputError('model', f'{found.name} is not a detector')
    member = found.weights
    meta: dict[str, Any] = member.value.meta if member is not None else {}
    return LoadedDetector(
        built.eval(),
        _names(
            built.num_classes, meta.get('classes') or found.hparams.get('class_names')
        ),
        found.name,
        __version__ if member is None else f'{__version__}+{member.name}',
        float(meta.get('score_threshold', built.score_threshold)),
        StretchTargets(**meta['stretch']) if 'stretch' in meta else StretchTargets(),
        meta.get('domain'),
        found.sha256,
    )
