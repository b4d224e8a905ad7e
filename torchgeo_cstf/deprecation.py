"""Names that moved keep a deprecated alias for one release (one helper for all)."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def moved_names(module: str, aliases: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves old names with a DeprecationWarning.

    Args:
        module: the module that keeps the aliases (its ``__name__``).
        aliases: old name → where it is now, ``'package.module:name'``.

    Returns:
        The ``__getattr__`` to assign in that module.
    """

    def __getattr__(name: str) -> Any:
        target = aliases.get(name)
        if target is None:
            raise AttributeError(f'module {module!r} has no attribute {name!r}')
        where, _, new = target.partition(':')
        warnings.warn(
            f'{module}.{name} is now {where}.{new}; the alias goes in the next release',
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(where), new)

    return __getattr__
