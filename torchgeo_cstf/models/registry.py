"""Model entry points, as TorchGeo's ``get_model`` / ``list_models`` / ``get_weight``."""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, cast

from torch import nn
from torchvision.models._api import WeightsEnum

from ..errors import InputError, ModelNotFoundError
from .detector import CSTFDetector
from .matcher import CSTFMatcher
from .weights import load_checkpoint, load_weights, model_state, read_checkpoint

#: what the builders' and :func:`get_model`'s ``weights`` accept
type WeightsArg = WeightsEnum | str | os.PathLike[str] | None


def _built[M: nn.Module](
    kind: type[M], name: str, backbone: str, weights: WeightsArg, kwargs: dict[str, Any]
) -> M:
    """A builder's model: constructed, or through :func:`get_model` with weights."""
    if weights is None:
        return kind(backbone=backbone, **kwargs)
    return cast(M, get_model(name, weights, **kwargs))


def cstf_matcher_resnet18(weights: WeightsArg = None, **kwargs: Any) -> CSTFMatcher:
    """CSTF matcher on a ResNet-18 trunk (strides 4 and 16)."""
    return _built(CSTFMatcher, 'cstf_matcher_resnet18', 'resnet18', weights, kwargs)


def cstf_matcher_resnet50(weights: WeightsArg = None, **kwargs: Any) -> CSTFMatcher:
    """CSTF matcher on a ResNet-50 trunk (strides 4 and 16)."""
    return _built(CSTFMatcher, 'cstf_matcher_resnet50', 'resnet50', weights, kwargs)


def cstf_matcher_regnetx_004(weights: WeightsArg = None, **kwargs: Any) -> CSTFMatcher:
    """Small CSTF matcher on a RegNetX-400MF trunk (the demo's matcher).

    0.6 M trunk parameters to stride 16: about 5× faster than ResNet-18 on a
    CPU, so that matching keeps pace with SIFT.
    """
    return _built(
        CSTFMatcher, 'cstf_matcher_regnetx_004', 'regnetx_004', weights, kwargs
    )


def cstf_detector_resnet18(weights: WeightsArg = None, **kwargs: Any) -> CSTFDetector:
    """CSTF oriented detector on a ResNet-18 trunk (pyramid strides 8, 16, 32)."""
    return _built(CSTFDetector, 'cstf_detector_resnet18', 'resnet18', weights, kwargs)


def cstf_detector_resnet50(weights: WeightsArg = None, **kwargs: Any) -> CSTFDetector:
    """CSTF oriented detector on a ResNet-50 trunk (pyramid strides 8, 16, 32)."""
    return _built(CSTFDetector, 'cstf_detector_resnet50', 'resnet50', weights, kwargs)


def cstf_detector_regnetx_002(
    weights: WeightsArg = None, **kwargs: Any
) -> CSTFDetector:
    """Small CSTF oriented detector on a RegNetX-200MF trunk (the demo's model).

    2.3 M trunk parameters: light enough to train and ship for the CPU demo.
    """
    return _built(
        CSTFDetector, 'cstf_detector_regnetx_002', 'regnetx_002', weights, kwargs
    )


#: model name → builder
BUILDERS: dict[str, Callable[..., nn.Module]] = {
    'cstf_detector_resnet18': cstf_detector_resnet18,
    'cstf_detector_resnet50': cstf_detector_resnet50,
    'cstf_detector_regnetx_002': cstf_detector_regnetx_002,
    'cstf_matcher_resnet18': cstf_matcher_resnet18,
    'cstf_matcher_resnet50': cstf_matcher_resnet50,
    'cstf_matcher_regnetx_004': cstf_matcher_regnetx_004,
}
#: model name → its weights enum (models without released weights are absent)
WEIGHTS: dict[str, type[WeightsEnum]] = {}


def list_models() -> list[str]:
    """Names of all models, sorted."""
    return sorted(BUILDERS)


def register_weights(model: str, enum: type[WeightsEnum]) -> None:
    """Attach a weights enum to a model name (used for released weights).

    Args:
        model: a name from :func:`list_models`.
        enum: its weights enum.
    """
    if model not in BUILDERS:
        raise InputError('model', f'unknown model {model!r}; known: {list_models()}')
    WEIGHTS[model] = enum


def get_model_weights(name: str) -> type[WeightsEnum]:
    """The weights enum of a registered model (TorchGeo's ``get_model_weights``).

    Raises:
        ModelNotFoundError: an unknown model, or one without released weights.
    """
    if name not in BUILDERS:
        raise ModelNotFoundError(
            'name', f'unknown model {name!r}; known: {list_models()}'
        )
    if name not in WEIGHTS:
        raise ModelNotFoundError('name', f'{name} has no released weights')
    return WEIGHTS[name]


def get_weight(name: str) -> WeightsEnum:
    """A weights member by its full name, e.g. ``CSTFMatcherRegNetX004_Weights.SYNTHETIC``.

    Args:
        name: ``<EnumName>.<MEMBER>``.

    Returns:
        The member.

    Raises:
        InputError: when no registered enum has that member.
    """
    for enum in WEIGHTS.values():
        for member in enum:
            if f'{enum.__name__}.{member.name}' == name:
                return member
    known = [f'{e.__name__}.{m.name}' for e in WEIGHTS.values() for m in e]
    raise ModelNotFoundError(
        'weights', f'unknown weights {name!r}; known: {known or "none"}'
    )


def model_of(member: WeightsEnum) -> str:
    """The registered model name a weights member belongs to.

    Raises:
        ModelNotFoundError: when the member's enum is not registered.
    """
    for name, enum in WEIGHTS.items():
        if isinstance(member, enum):
            return name
    raise ModelNotFoundError('weights', f'{member} belong to no registered model')


def get_model(name: str, weights: WeightsArg = None, **kwargs: Any) -> nn.Module:
    """Build a model, optionally with weights.

    Args:
        name: a name from :func:`list_models`.
        weights: ``None`` (random initialisation), a weights enum member (or
            its name for :func:`get_weight`), or a path to a Lightning
            checkpoint or a state dict.
        **kwargs: arguments of the model's constructor (a weights member's
            ``meta['model_kwargs']`` provide defaults).

    Returns:
        The model, in eval mode when weights were loaded.

    Raises:
        InputError: an unknown name or weights that do not fit the model.
    """
    if name not in BUILDERS:
        raise ModelNotFoundError(
            'name', f'unknown model {name!r}; known: {list_models()}'
        )
    member = _member(weights)
    if member is not None:
        kwargs = {**member.value.meta.get('model_kwargs', {}), **kwargs}
    model = BUILDERS[name](**kwargs)  # weights=None: constructed only
    if weights is None:
        return model
    load_into(model, member if member is not None else weights, name)
    return model.eval()


def _names_weights(text: str) -> bool:
    """Whether a string is a weights name (``Enum.MEMBER``), not a file path.

    One rule for :func:`get_model` and :func:`resolve_model`: an existing file
    or a name with a checkpoint suffix is a path; another dotted name is a
    weights name.
    """
    path = Path(text)
    return '.' in text and path.suffix not in CHECKPOINT_SUFFIXES and not path.exists()


def _member(weights: WeightsEnum | str | os.PathLike[str] | None) -> WeightsEnum | None:
    """The weights member ``weights`` names, or None for a path (or nothing).

    Raises:
        ModelNotFoundError: a checkpoint path that does not exist.
    """
    if isinstance(weights, Enum):
        return weights
    if isinstance(weights, str) and _names_weights(weights):
        return get_weight(weights)
    if weights is not None and not os.path.exists(weights):
        raise ModelNotFoundError(weights, 'no such checkpoint')
    return None


def load_into(
    model: nn.Module,
    weights: WeightsEnum | str | os.PathLike[str] | Mapping[str, Any],
    name: str | None = None,
    *,
    fresh: Sequence[str] = (),
) -> None:
    """Load weights into a built model, in place (all keys must fit).

    Args:
        model: the model.
        weights: a weights enum member (or its name for :func:`get_weight`), a
            path to a Lightning checkpoint or a state dict, or a state dict.
        name: the model's name for error messages (default its class name).
        fresh: key prefixes of parameters that may be missing from the weights
            or shaped differently (fine-tuning a model whose stems changed):
            they keep their fresh initialisation.

    Raises:
        InputError: weights that do not fit the model, or cannot be found.
    """
    name = name or type(model).__name__
    if isinstance(weights, Mapping):
        state = dict(weights)
    else:
        member = _member(weights)
        state = load_weights(member) if member is not None else load_checkpoint(weights)
    if fresh:
        own = model.state_dict()
        state = {
            key: value
            for key, value in state.items()
            if not (
                key.startswith(tuple(fresh))
                and (key not in own or own[key].shape != value.shape)
            )
        }
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise InputError('weights', f'do not fit {name}: {err}') from err
    missing = [key for key in missing if not key.startswith(tuple(fresh))]
    if missing or unexpected:
        raise InputError(
            'weights',
            f'do not fit {name}: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}',
        )


#: file suffixes read as checkpoints, never as weights names
CHECKPOINT_SUFFIXES = ('.ckpt', '.pth', '.pt')


@dataclass(frozen=True)
class ModelKind:
    """A kind of model the resolver finds: its class, names, task and default.

    Attributes:
        cls: the model class.
        family: the prefix of its registered names (``cstf_detector``).
        task: the Lightning task whose checkpoints hold it (``CSTFDetection``).
        default: the registered name a bare state dict is loaded into (``None``:
            bare state dicts are refused).
    """

    cls: type[nn.Module]
    family: str
    task: str
    default: str | None = None

    @property
    def noun(self) -> str:
        """``detector``, ``matcher``."""
        return self.family.rpartition('_')[2]


DETECTORS = ModelKind(CSTFDetector, 'cstf_detector', 'CSTFDetection')
MATCHERS = ModelKind(
    CSTFMatcher, 'cstf_matcher', 'CSTFMatching', 'cstf_matcher_regnetx_004'
)


@dataclass(frozen=True)
class ResolvedModel:
    """A model found by :func:`resolve_model`, and where it came from.

    Attributes:
        model: the model, in eval mode (unless random weights were allowed).
        name: its registered name, its checkpoint's file stem, or its class name.
        weights: the released weights member it was loaded with, if any.
        hparams: the hyperparameters its checkpoint recorded (empty otherwise).
        sha256: the SHA-256 of the weights file it was loaded from (released
            weights or a checkpoint; ``None`` for an object or random weights),
            which results record as their provenance.
    """

    model: nn.Module
    name: str
    weights: WeightsEnum | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None


def resolve_model(
    model: nn.Module | str | os.PathLike[str],
    kind: ModelKind,
    *,
    allow_random: bool = False,
) -> ResolvedModel:
    """The one resolver of what a model argument means, for every kind of model.

    In this order:

    1. an instance of ``kind.cls`` is used as it is;
    2. an existing file is a Lightning checkpoint of ``kind.task`` (the model is
       built from the constructor arguments among its recorded
       hyperparameters) or, without hyperparameters, a state dict of
       ``kind.default``;
    3. ``Enum.MEMBER`` is a weights name (:func:`get_weight`);
    4. a registered name of the family means its first released weights
       member. A model without released weights has random weights: refused
       unless ``allow_random`` (then built, with a warning) — no model is
       used for inference with random weights by accident.

    Args:
        model: the model argument.
        kind: what kind of model is wanted (:data:`DETECTORS`, :data:`MATCHERS`).
        allow_random: allow a registered name without released weights.

    Returns:
        The model and its provenance.

    Raises:
        ModelNotFoundError: an unknown name, a name without released weights,
            or a path that does not exist.
        InputError: a file that is not a checkpoint of the kind, weights of
            another kind, or weights that do not fit.
    """
    if isinstance(model, kind.cls):
        return ResolvedModel(model, type(model).__name__)
    if isinstance(model, nn.Module):
        raise InputError('model', f'a {type(model).__name__} is not a {kind.noun}')
    text = os.fspath(model)
    path = Path(text)
    names = [name for name in list_models() if name.startswith(kind.family)]
    if path.exists():
        return _from_file(path, kind)
    if _names_weights(text):
        member = get_weight(text)
        owner = model_of(member)
        if owner not in names:
            raise InputError('model', f'{text}: not a {kind.noun} (weights of {owner})')
        return _released(owner, member)
    if text in names:
        if text in WEIGHTS:
            return _released(text, next(iter(WEIGHTS[text].__members__.values())))
        if not allow_random:
            released = sorted(name for name in names if name in WEIGHTS)
            raise ModelNotFoundError(
                'model',
                f'{text} has no released weights; pass a {kind.task} checkpoint, '
                f'one of {released}, or get_model({text!r}) to use random weights '
                'on purpose',
            )
        warnings.warn(
            f'{text}: no weights given, the {kind.noun} is randomly initialised',
            stacklevel=2,
        )
        return ResolvedModel(get_model(text), text)
    if path.suffix:
        raise ModelNotFoundError(path, 'no such checkpoint')
    raise ModelNotFoundError(
        'model', f'unknown {kind.noun} {text!r}; known: {names} or a checkpoint path'
    )


def _released(name: str, member: WeightsEnum) -> ResolvedModel:
    """A registered model with one of its released weights."""
    built = get_model(name, weights=member)
    return ResolvedModel(built, name, member, sha256=member.value.meta.get('sha256'))


def _from_file(path: Path, kind: ModelKind) -> ResolvedModel:
    """A model from a Lightning checkpoint's hyperparameters, or a default's state dict."""
    checkpoint = read_checkpoint(path)  # once: hyperparameters, weights, hash
    data = checkpoint.content
    hparams = data.get('hyper_parameters')
    if not isinstance(hparams, dict) or 'backbone' not in hparams:
        if kind.default is None:
            raise InputError(
                path,
                f'is not a {kind.task} checkpoint (no {kind.noun} hyperparameters); '
                f'pass a .ckpt written by `torchgeo fit` with {kind.task}',
            )
        built = get_model(kind.default)
        load_into(built, model_state(data), f'{path.name} ({kind.default})')
        return ResolvedModel(built.eval(), path.stem, sha256=checkpoint.sha256)
    accepted = inspect.signature(kind.cls).parameters
    kwargs = {key: value for key, value in hparams.items() if key in accepted}
    built = kind.cls(**kwargs)
    load_into(built, model_state(data), f'{path.name} ({kind.cls.__name__}({kwargs}))')
    return ResolvedModel(
        built.eval(), path.stem, None, dict(hparams), sha256=checkpoint.sha256
    )
