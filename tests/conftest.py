"""Shared fixtures and marker handling."""

from __future__ import annotations

import pytest
import torch


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests on machines without CUDA."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA device')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_domain_warnings() -> None:
    """Every test sees each domain warning anew (they are once per process)."""
    from torchgeo_cstf.models.domain import forget_domain_warnings

    forget_domain_warnings()
