"""What a worker process keeps between jobs: its device and its loaded models.

Models load lazily, on the first job that needs them, inside the process that
runs the job (a prefork child, or the solo worker itself), so CUDA is never
initialised in a parent that forks.
"""

from __future__ import annotations

import time
from typing import Any

from .app import worker_settings
from .metrics import MODEL_LOAD

_MODELS: dict[tuple[str, str], Any] = {}


def device() -> str:
    """The device jobs run on: ``CSTF_DEVICE``, else ``cuda`` when present, else ``cpu``.

    The first call also applies ``CSTF_TORCH_THREADS`` (torch's CPU threads
    in this process; one per worker process avoids oversubscribing cores).
    """
    import torch

    settings = worker_settings
    threads = settings.torch_threads
    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if settings.device:
        return settings.device
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def detector(name: str) -> Any:
    """The detector ``name`` (registered name, weights name or checkpoint), loaded once."""
    key = ('detector', name)
    if key not in _MODELS:
        from torchgeo_cstf.inference import resolve_detector

        began = time.perf_counter()
        loaded = resolve_detector(name)
        loaded.model.to(device())
        MODEL_LOAD.labels('detector', name).observe(time.perf_counter() - began)
        _MODELS[key] = loaded
    return _MODELS[key]


def matcher(name: str) -> Any:
    """The matcher ``name`` (registered name, weights name or checkpoint), loaded once."""
    key = ('matcher', name)
    if key not in _MODELS:
        from torchgeo_cstf.models.registry import MATCHERS, resolve_model

        began = time.perf_counter()
        found = resolve_model(name, MATCHERS)  # kept whole: it knows its weights
        found.model.to(device()).eval()
        MODEL_LOAD.labels('matcher', name).observe(time.perf_counter() - began)
        _MODELS[key] = found
    return _MODELS[key].model


def matcher_sha256(name: str) -> str | None:
    """The SHA-256 of the weights file of the matcher :func:`matcher` loads."""
    matcher(name)
    sha256: str | None = _MODELS[('matcher', name)].sha256
    return sha256
