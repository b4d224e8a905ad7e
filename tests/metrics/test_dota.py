import pytest


def test_the_label_reader_moved_with_an_alias() -> None:
    from torchgeo_cstf.datasets.dota import read_dota_labels
    from torchgeo_cstf.datasets.dota.labels import DotaObject

    with pytest.warns(
        DeprecationWarning, match='is now torchgeo_cstf.datasets.dota.labels'
    ):
        from torchgeo_cstf.metrics import read_dota_labels as old
    assert old is read_dota_labels
    with pytest.warns(DeprecationWarning, match='metrics.DotaObject is now'):
        from torchgeo_cstf.metrics import DotaObject as old_object
    assert old_object is DotaObject
