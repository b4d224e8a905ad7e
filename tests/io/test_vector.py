from pathlib import Path

import pytest
import shapely
from shapely.geometry import Point, Polygon

from torchgeo_cstf.errors import InputError, InputNotFoundError
from torchgeo_cstf.io import (
    Feature,
    atomic_output,
    infer_schema,
    list_layers,
    read_features,
    write_features,
    write_layers,
)

SQUARE = Polygon(
    [
        (500_000.123456, 4_600_000.5),
        (500_010.5, 4_600_000.5),
        (500_010.5, 4_600_010.987654),
        (500_000.123456, 4_600_010.987654),
    ]
)


def _features() -> list[Feature]:
    return [
        Feature(SQUARE, {'cls': 'ship', 'score': 0.9, 'n': 1, 'ok': True}),
        Feature(
            shapely.affinity.translate(SQUARE, 20, 5),
            {'cls': 'plane', 'score': 1, 'n': 2, 'ok': False},
        ),
    ]


@pytest.mark.parametrize('suffix', ['.gpkg', '.geojson'])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    path = write_features(tmp_path / f'objects{suffix}', _features(), crs='EPSG:32633')
    features, crs = read_features(path)
    assert crs.to_epsg() == 32633
    assert [f.properties['cls'] for f in features] == ['ship', 'plane']
    assert features[1].properties['score'] == pytest.approx(1.0)
    assert isinstance(features[1].properties['score'], float)
    assert features[0].properties['ok'] in (True, 1)
    for got, want in zip(features, _features(), strict=True):
        assert shapely.equals_exact(got.geometry, want.geometry, tolerance=1e-6)


def test_layers_and_empty_layer(tmp_path: Path) -> None:
    path = write_layers(
        tmp_path / 'out.gpkg',
        {'objects': _features(), 'tie_points': []},
        crs=32633,
        schemas={'tie_points': {'residual': 'float'}},
        geometry_types={'tie_points': 'Point'},
    )
    assert list_layers(path) == ['objects', 'tie_points']
    empty, crs = read_features(path, layer='tie_points')
    assert empty == [] and crs.to_epsg() == 32633
    with pytest.raises(InputError, match="no layer 'nope'"):
        read_features(path, layer='nope')


def test_schema_inference_errors() -> None:
    assert infer_schema(_features()) == {
        'cls': 'str',
        'score': 'float',
        'n': 'int',
        'ok': 'bool',
    }
    with pytest.raises(InputError, match=r'features\[1\]'):
        infer_schema([Feature(Point(0, 0), {'a': 1}), Feature(Point(0, 0), {'b': 1})])
    with pytest.raises(InputError, match=r'features\[1\]\.a'):
        infer_schema([Feature(Point(0, 0), {'a': 1}), Feature(Point(0, 0), {'a': 'x'})])
    with pytest.raises(InputError, match='cannot be stored'):
        infer_schema([Feature(Point(0, 0), {'a': [1]})])  # type: ignore[dict-item]


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(InputError, match='unknown vector format'):
        write_features(tmp_path / 'x.shp', _features(), crs=32633)
    with pytest.raises(InputError, match='exactly one layer'):
        write_layers(tmp_path / 'x.geojson', {'a': [], 'b': []}, crs=32633)
    with pytest.raises(InputNotFoundError):
        read_features(tmp_path / 'missing.gpkg')
    junk = tmp_path / 'junk.gpkg'
    junk.write_text('not a geopackage')
    with pytest.raises(InputError, match='not a readable vector file'):
        read_features(junk)


def test_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    path = write_features(tmp_path / 'keep.gpkg', _features(), crs=32633)
    before = path.read_bytes()
    bad = [Feature(SQUARE, {'cls': 'ship'}), Feature(SQUARE, {'other': 1})]
    with pytest.raises(InputError):
        write_features(path, bad, crs=32633)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['keep.gpkg']


def test_atomic_output_cleans_up_on_error(tmp_path: Path) -> None:
    target = tmp_path / 'sub' / 'report.txt'
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text('partial')
        raise RuntimeError('crash while writing')
    assert not target.exists()
    assert list((tmp_path / 'sub').iterdir()) == []
    with atomic_output(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == '.txt'
        tmp.write_text('done')
    assert target.read_text() == 'done'
