"""The error of a dataset whose files are missing, as TorchGeo users catch it."""

from __future__ import annotations

from torchgeo.datasets import DatasetNotFoundError as TorchGeoDatasetNotFoundError

from ..errors import InputNotFoundError


class DatasetNotFoundError(InputNotFoundError, TorchGeoDatasetNotFoundError):
    """A dataset's root, list or files are missing (no download is possible here).

    Both the package's :class:`~torchgeo_cstf.errors.InputNotFoundError` (code
    ``INPUT_NOT_FOUND``, a message naming the missing path and how to get the
    data) and ``torchgeo.datasets.DatasetNotFoundError``, which code written for
    TorchGeo's datasets catches.
    """
