"""Pretrained weights: torchvision ``WeightsEnum`` members loaded with a hash check.

A member's ``url`` is a ``file://`` URL, a plain path, a ``package:`` path inside
the installed ``torchgeo_cstf`` package, or an ``http(s)://`` URL; its
``meta['sha256']`` is the SHA-256 of the file. Local files are read in place;
remote files are downloaded once into torch's hub cache. Either way the whole
file is read once, hashed, and only then loaded from those bytes
(``torch.load(weights_only=True)``); a mismatch is an error: nothing unverified
reaches a model.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import torch
from torchvision.models._api import Weights, WeightsEnum

from ..errors import InputError, ModelNotFoundError
from ..io.atomic import atomic_output

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def sha256_of(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_url(url: str) -> Path:
    """The local file behind a weights URL, downloading ``http(s)`` URLs once.

    Args:
        url: ``file://…``, ``package:relative/path``, a plain path, or
            ``http(s)://…``.

    Returns:
        A local path.

    Raises:
        ModelNotFoundError: a local file that does not exist.
    """
    parsed = urlparse(url)
    if parsed.scheme in ('http', 'https'):
        cache = Path(torch.hub.get_dir()) / 'checkpoints'
        cache.mkdir(parents=True, exist_ok=True)
        target = cache / Path(parsed.path).name
        if not target.exists():
            torch.hub.download_url_to_file(url, str(target), progress=False)
        return target
    if parsed.scheme == 'file':
        path = Path(unquote(parsed.path))
    elif url.startswith('package:'):
        path = PACKAGE_ROOT / url.removeprefix('package:')
    else:
        path = Path(url)
    if not path.exists():
        raise ModelNotFoundError(path, 'no such weights file')
    return path


def load_weights(weights: Weights | WeightsEnum) -> dict[str, Any]:
    """Load a weights entry's state dict after checking its SHA-256.

    Args:
        weights: a ``WeightsEnum`` member (or its ``Weights`` value) whose
            ``meta['sha256']`` holds the file's digest.

    Returns:
        The state dict.

    Raises:
        InputError: no digest in the metadata, or the file's digest differs.
    """
    entry = weights.value if isinstance(weights, WeightsEnum) else weights
    expected = entry.meta.get('sha256')
    if not expected:
        raise InputError(entry.url, "weights metadata has no 'sha256'")
    path = resolve_url(entry.url)
    raw, actual = _read_hashed(path)
    if actual != expected:
        raise InputError(
            path, f'SHA-256 is {actual}, expected {expected}: corrupt or wrong file'
        )
    state: dict[str, Any] = torch.load(
        io.BytesIO(raw), map_location='cpu', weights_only=True
    )
    return state


class PackagedWeightsEnum(WeightsEnum):  # type: ignore[misc]
    """A ``WeightsEnum`` whose ``get_state_dict()`` works for every URL this module reads.

    torchvision's ``get_state_dict`` downloads ``url`` with
    ``load_state_dict_from_url``, which knows neither ``package:`` paths nor
    local files; TorchGeo users call it anyway. Here it is
    :func:`load_weights`: the file is found, its SHA-256 checked, then loaded.
    """

    def get_state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The state dict, hash-checked (``progress``/``check_hash`` are accepted
        for torchvision compatibility; the hash is always checked).
        """  # noqa: D205
        return load_weights(self)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """State dict of a model from a Lightning checkpoint or a plain state dict.

    A Lightning checkpoint's ``state_dict`` has the task's ``model.`` prefix;
    it is stripped so the result loads into the bare model.

    Args:
        path: ``.ckpt`` or ``.pth``/``.pt`` file.

    Returns:
        The model's state dict.
    """
    return model_state(read_checkpoint(path).content)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file's content and the SHA-256 of its bytes.

    Attributes:
        content: what ``torch.load`` returns (on the CPU).
        sha256: hex digest of the file the content was loaded from.
    """

    content: dict[str, Any]
    sha256: str


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """A checkpoint file, read once: loaded and hashed from the same bytes.

    Raises:
        ModelNotFoundError: the file does not exist.
    """
    file = Path(path)
    if not file.exists():
        raise ModelNotFoundError(file, 'no such checkpoint')
    raw, sha256 = _read_hashed(file)
    data: dict[str, Any] = torch.load(
        io.BytesIO(raw), map_location='cpu', weights_only=False
    )
    return Checkpoint(data, sha256)


def _read_hashed(path: Path) -> tuple[bytes, str]:
    """A file's bytes and their SHA-256: what is loaded is what was hashed."""
    raw = path.read_bytes()
    return raw, hashlib.sha256(raw).hexdigest()


def model_state(data: dict[str, Any]) -> dict[str, Any]:
    """The bare model's state dict in a checkpoint's content (see :func:`load_checkpoint`)."""
    state: dict[str, Any] = data.get('state_dict', data)
    if any(key.startswith('model.') for key in state):
        state = {
            key.removeprefix('model.'): value
            for key, value in state.items()
            if key.startswith('model.')
        }
    return state


def export_weights(
    checkpoint: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    half: bool = True,
) -> str:
    """Write a checkpoint's model state dict as a weights file for release.

    Floating-point tensors are stored in fp16 when ``half`` (they are cast back
    to the model's dtype when loaded); integer buffers are kept.

    Args:
        checkpoint: a Lightning checkpoint or a state dict.
        output: the weights file to write (atomically).
        half: store floating-point tensors in fp16.

    Returns:
        The SHA-256 of the written file (for the weights' ``meta['sha256']``).
    """
    state = load_checkpoint(checkpoint)
    if half:
        state = {
            key: value.half() if value.is_floating_point() else value
            for key, value in state.items()
        }
    with atomic_output(output) as temporary:
        torch.save(state, temporary)
    return sha256_of(output)
