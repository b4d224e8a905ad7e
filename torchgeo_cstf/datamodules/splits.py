"""Datasets of generated data: one per split, each with its own length."""

from __future__ import annotations

from collections.abc import Mapping

from torchgeo.datamodules import NonGeoDataModule


def setup_generated_splits(
    datamodule: NonGeoDataModule, stage: str, lengths: Mapping[str, int]
) -> None:
    """Create the datasets a stage needs, as ``dataset_class(split=, length=)``.

    ``fit`` makes train and val, ``validate`` val, ``test`` and ``predict`` the
    test split (generated data has no unlabelled split to predict on).

    Args:
        datamodule: the datamodule (its ``dataset_class`` and ``kwargs`` are used).
        stage: ``fit``, ``validate``, ``test`` or ``predict``.
        lengths: number of items per split name.
    """

    def make(split: str) -> object:
        return datamodule.dataset_class(  # type: ignore[call-arg]
            split=split, length=lengths[split], **datamodule.kwargs
        )

    if stage == 'fit':
        datamodule.train_dataset = make('train')  # type: ignore[assignment]
    if stage in ('fit', 'validate'):
        datamodule.val_dataset = make('val')  # type: ignore[assignment]
    if stage in ('test', 'predict'):
        datamodule.test_dataset = make('test')  # type: ignore[assignment]
        datamodule.predict_dataset = datamodule.test_dataset
