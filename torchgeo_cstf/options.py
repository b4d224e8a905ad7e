"""Options as values: one frozen dataclass per family of settings.

The library, the job specification and the command line share these records
instead of copying keyword lists: :func:`~torchgeo_cstf.inference.detect_scene`
takes a :class:`TilingOptions`, the job spec nests one (pydantic validates the
dataclass), and ``cstf detect`` / ``cstf submit`` build one from their flags.
This module imports nothing heavy, so the torch-free job client can use it.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self, get_args

from .errors import InputError

#: how a pair is matched (see :mod:`torchgeo_cstf.inference.methods`)
MatchMethod = Literal['cstf', 'dense', 'auto']
#: the values of :data:`MatchMethod`
METHODS: tuple[str, ...] = get_args(MatchMethod)
#: the transform models fitted to matches
TransformModel = Literal['affine', 'homography']


def _probability(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise InputError(name, f'must lie in [0, 1], got {value}')


def _from_mapping[T](cls: type[T], values: Mapping[str, Any], subject: str) -> T:
    known = {item.name for item in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(
            subject, f'unknown option(s) {", ".join(unknown)}; known: {sorted(known)}'
        )
    return cls(**{k: v for k, v in values.items() if v is not None})


def options_or_keywords[T](
    cls: type[T],
    options: T | None,
    keywords: Mapping[str, Any],
    caller: str,
    renamed: Mapping[str, str] | None = None,
) -> T:
    """``options``, or options built from a caller's deprecated keyword arguments.

    Functions that took their options as keywords (``detect_scene(tile=512)``)
    keep accepting them for one release, with a ``DeprecationWarning``.

    Args:
        cls: the options class.
        options: the options given, or ``None`` for the defaults.
        keywords: the deprecated keyword arguments given (may be empty).
        caller: the function's name, for the messages.
        renamed: old keyword → field name, where they differ.

    Returns:
        The options.

    Raises:
        InputError: both forms given, an unknown keyword, or a bad value.
    """
    if not keywords:
        return options if options is not None else cls()
    if options is not None:
        raise InputError(
            'options',
            f'{caller}: give either options or the keywords {sorted(keywords)}, '
            'not both',
        )
    warnings.warn(
        f'{caller}({", ".join(f"{k}=" for k in keywords)}…) is deprecated: pass '
        f'{cls.__name__}(…) as options; the keywords go in the next release',
        DeprecationWarning,
        stacklevel=3,
    )
    names = renamed or {}
    return _from_mapping(
        cls, {names.get(key, key): value for key, value in keywords.items()}, caller
    )


@dataclass(frozen=True, kw_only=True)
class TilingOptions:
    """How a scene of any size is cut into tiles and its detections kept.

    Attributes:
        tile: tile side in pixels; a multiple of the detector's
            ``size_multiple`` (32 for the shipped detectors, checked against the
            model when it is loaded).
        overlap: pixels shared by neighbouring tiles; must exceed the largest
            object, and be smaller than ``tile``.
        batch_size: tiles per forward pass.
        score_threshold: minimum score kept (``None``: the detector's operating
            threshold; pass a low value such as 0.05 to compute mAP).
        nms_threshold: IoU of the cross-tile class-wise NMS (``None``: the
            model's).
        prefetch: tiles read ahead on a background thread (``None``:
            ``2 × batch_size``).

    Raises:
        InputError: a value out of its range.

    Example:
        >>> from torchgeo_cstf.options import TilingOptions
        >>> TilingOptions(tile=512, overlap=64).batch_size
        2
        >>> TilingOptions(tile=512, overlap=600)
        Traceback (most recent call last):
        ...
        torchgeo_cstf.errors.InputError: overlap: must be in [0, tile=512), got 600
    """

    tile: int = 1024
    overlap: int = 200
    batch_size: int = 2
    score_threshold: float | None = None
    nms_threshold: float | None = None
    prefetch: int | None = None

    def __post_init__(self) -> None:
        """Check each value against its range."""
        if self.tile <= 0:
            raise InputError('tile', f'must be positive, got {self.tile}')
        if not 0 <= self.overlap < self.tile:
            raise InputError(
                'overlap', f'must be in [0, tile={self.tile}), got {self.overlap}'
            )
        if self.batch_size < 1:
            raise InputError('batch_size', f'must be at least 1, got {self.batch_size}')
        if self.prefetch is not None and self.prefetch < 1:
            raise InputError('prefetch', f'must be at least 1, got {self.prefetch}')
        _probability('score_threshold', self.score_threshold)
        _probability('nms_threshold', self.nms_threshold)

    @property
    def read_ahead(self) -> int:
        """Tiles read ahead: ``prefetch``, or two batches."""
        return self.prefetch if self.prefetch is not None else 2 * self.batch_size

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """Options from a mapping; ``None`` values take the defaults.

        Raises:
            InputError: an unknown key, or a value out of its range.
        """
        return _from_mapping(cls, values, 'tiling')


@dataclass(frozen=True, kw_only=True)
class RegistrationOptions:
    """How a query acquisition is matched and fitted onto its reference.

    Attributes:
        method: ``auto`` (CSTF, falling back to the dense matcher when CSTF
            finds no consistent transform), ``cstf`` or ``dense``.
        window: side (reference pixels) of each matching window.
        windows: at most this many windows, spread over the overlap.
        transform: the fitted model, ``affine`` (what two georeferenced,
            orthorectified acquisitions differ by) or ``homography``.
        min_confidence: matches less probable than this are dropped.
        inlier_threshold: inlier distance of the robust fit, in query pixels.

    Raises:
        InputError: a value out of its range.
    """

    method: MatchMethod = 'auto'
    window: int = 1024
    windows: int = 9
    transform: TransformModel = 'affine'
    min_confidence: float = 0.2
    inlier_threshold: float = 3.0

    def __post_init__(self) -> None:
        """Check each value against its range."""
        if self.method not in METHODS:
            raise InputError('method', f'must be one of {METHODS}, got {self.method!r}')
        if self.window < 64:
            raise InputError('window', f'must be at least 64, got {self.window}')
        if not 1 <= self.windows <= 64:
            raise InputError('windows', f'must be in [1, 64], got {self.windows}')
        if self.transform not in get_args(TransformModel):
            raise InputError(
                'transform',
                f'must be one of {get_args(TransformModel)}, got {self.transform!r}',
            )
        _probability('min_confidence', self.min_confidence)
        if not self.inlier_threshold > 0:
            raise InputError(
                'inlier_threshold', f'must be positive, got {self.inlier_threshold}'
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """Options from a mapping; ``None`` values take the defaults.

        Raises:
            InputError: an unknown key, or a value out of its range.
        """
        return _from_mapping(cls, values, 'registration')
