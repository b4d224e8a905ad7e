import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
import torch
from shapely.geometry import Polygon

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.io import Feature, pixel_to_map, read_features, write_features
from torchgeo_cstf.ops import cxcywhr_to_poly
from torchgeo_cstf.synthetic import (
    CLASSES,
    PairTruth,
    SceneTruth,
    generate_pair,
    generate_scene,
    synthesize_pair,
    synthesize_scene,
)
from torchgeo_cstf.synthetic.render import polygon_coverage


def _digest(path: Path) -> str:
    with rasterio.open(path) as src:
        return hashlib.sha256(src.read().tobytes()).hexdigest()


def test_scene_is_deterministic_and_georeferenced(tmp_path: Path) -> None:
    a = generate_scene(
        tmp_path / 'a.tif', size=(256, 320), seed=7, truth_path=tmp_path / 'a.json'
    )
    b = generate_scene(tmp_path / 'b.tif', size=(256, 320), seed=7)
    c = generate_scene(tmp_path / 'c.tif', size=(256, 320), seed=8)
    assert _digest(tmp_path / 'a.tif') == _digest(tmp_path / 'b.tif')
    assert _digest(tmp_path / 'a.tif') != _digest(tmp_path / 'c.tif')
    assert a.objects == b.objects and a.objects != c.objects
    with rasterio.open(tmp_path / 'a.tif') as src:
        assert src.crs.to_epsg() == 32633
        assert (src.height, src.width, src.count, src.dtypes[0]) == (
            256,
            320,
            3,
            'uint8',
        )
        assert src.transform.a == pytest.approx(
            0.5
        ) and src.transform.e == pytest.approx(-0.5)
        assert tuple(src.transform)[:6] == a.transform
        assert src.descriptions == ('red', 'green', 'blue')
    assert SceneTruth.load(tmp_path / 'a.json') == a


def test_scene_objects_are_exact_and_canonical() -> None:
    scene = synthesize_scene(
        (512, 512), seed=3, num_objects=30, num_distractors=0, sea_fraction=0.4
    )
    truth = scene.truth
    assert len(truth.objects) >= 20
    boxes = truth.boxes()
    assert set(truth.labels().tolist()) <= set(range(len(CLASSES)))
    assert (boxes[:, 2] >= boxes[:, 3]).all()
    assert ((boxes[:, 4] >= -90) & (boxes[:, 4] < 90)).all()
    lengths = np.where(
        truth.labels() == 1, np.maximum(boxes[:, 2], boxes[:, 3]), boxes[:, 2]
    )
    assert lengths.min() >= 8 and lengths.max() <= 200
    # every object lies inside the image and objects do not overlap
    polygons = [Polygon(p) for p in cxcywhr_to_poly(torch.tensor(boxes)).numpy()]
    for i, poly in enumerate(polygons):
        assert poly.within(Polygon([(0, 0), (512, 0), (512, 512), (0, 512)]))
        for other in polygons[i + 1 :]:
            assert poly.intersection(other).area == pytest.approx(0.0, abs=1e-6)


def _box_mask(box: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    corners = cxcywhr_to_poly(torch.tensor(np.asarray(box)[None]))[0].numpy()
    return polygon_coverage(corners, (0, 0), shape) >= 0.5


def test_polygon_coverage_is_exact() -> None:
    xs = np.mgrid[0:30, 0:30][1] + 0.5
    square = np.array([[10.0, 10.0], [20.0, 10.0], [20.0, 20.0], [10.0, 20.0]])
    cover = polygon_coverage(square, (0, 0), (30, 30))
    assert cover.sum() == pytest.approx(100.0)
    assert (cover * xs).sum() / cover.sum() == pytest.approx(15.0)
    assert cover[10:20, 10:20].min() == 1.0 and cover[:10].max() == 0.0
    triangle = np.array([[3.3, 4.1], [17.8, 6.2], [9.1, 15.7]])
    area = 0.5 * abs((17.8 - 3.3) * (15.7 - 4.1) - (9.1 - 3.3) * (6.2 - 4.1))
    assert polygon_coverage(triangle, (0, 0), (20, 20)).sum() == pytest.approx(
        area, abs=0.2
    )
    # a window elsewhere sees the same pixels
    part = polygon_coverage(triangle, (5, 3), (10, 8))
    np.testing.assert_allclose(
        part, polygon_coverage(triangle, (0, 0), (20, 20))[3:13, 5:13]
    )


def _object_pixels(seed: int, size: int, sea: float, count: int) -> tuple:
    """Pixels changed by the objects: the scene minus the same scene without them."""
    scene = synthesize_scene(
        (size, size), seed, num_objects=count, num_distractors=0, sea_fraction=sea
    )
    empty = synthesize_scene(
        (size, size), seed, num_objects=0, num_distractors=0, sea_fraction=sea
    )
    diff = np.abs(scene.image.astype(float) - empty.image.astype(float)).max(axis=0)
    return diff > 6, scene.truth


def test_rendered_objects_fill_their_boxes() -> None:
    """Objects change the pixels inside their boxes and nothing outside."""
    changed, truth = _object_pixels(seed=11, size=384, sea=0.5, count=12)
    assert len(truth.objects) >= 8
    inside = np.zeros((384, 384), dtype=bool)
    for box in truth.boxes():
        own = _box_mask(box, (384, 384))
        assert changed[own].mean() > 0.3
        inside |= own
    # blur and shadows reach a few pixels beyond the boxes, nothing further
    near = cv2.dilate(inside.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert changed[~near].mean() < 0.002


def test_ship_orientation_matches_its_box() -> None:
    changed, truth = _object_pixels(seed=5, size=512, sea=0.9, count=25)
    ships = [o for o in truth.objects if o.label == 0 and o.box[2] > 40]
    assert len(ships) >= 3
    for ship in ships:
        cx, cy, w, h, a = ship.box
        own = _box_mask(np.array([cx, cy, w + 4, h + 4, a]), changed.shape)
        ys, xs = np.nonzero(changed & own)
        cov = np.cov(np.stack((xs + 0.5 - cx, ys + 0.5 - cy)))
        major = np.linalg.eigh(cov)[1][:, 1]
        angle = np.degrees(np.arctan2(-major[1], major[0]))
        assert abs((angle - a + 90) % 180 - 90) < 3.0, (ship, angle)
        # the heading runs along the box's long axis, one way or the other
        assert abs((ship.heading - a + 90) % 180 - 90) < 1e-6


@pytest.mark.parametrize(
    ('modality', 'bands', 'dtype'),
    [
        ('optical', 4, 'uint16'),
        ('optical', 1, 'uint8'),
        ('sar', 1, 'uint16'),
        ('thermal', 1, 'uint16'),
    ],
)
def test_modalities_bands_and_dtypes(modality: str, bands: int, dtype: str) -> None:
    scene = synthesize_scene(
        (128, 128), seed=2, modality=modality, bands=bands, dtype=dtype
    )  # type: ignore[arg-type]
    assert scene.image.shape == (bands, 128, 128)
    assert scene.image.dtype == np.dtype(dtype)
    assert scene.image.min() >= 1  # 0 is nodata
    assert len(scene.truth.bands) == bands


def test_pair_warp_maps_centres_exactly(tmp_path: Path) -> None:
    for seed, model in enumerate(['similarity', 'affine', 'homography', 'homography']):
        truth = generate_pair(
            tmp_path / f'r{seed}.tif',
            tmp_path / f'q{seed}.tif',
            seed=seed,
            size=(256, 256),
            warp=model,  # type: ignore[arg-type]
            truth_path=tmp_path / f'p{seed}.json',
        )
        ref = {o.id: o for o in truth.reference.objects}
        qry = {o.id: o for o in truth.query.objects}
        static = [i for i in ref if i in qry and truth.changes[i] == 'static']
        assert static, f'seed {seed} has no shared static object'
        ref_xy = np.array([ref[i].box[:2] for i in static])
        qry_xy = np.array([qry[i].box[:2] for i in static])
        assert np.abs(truth.reference_to_query(ref_xy) - qry_xy).max() < 0.5
        assert np.abs(truth.query_to_reference(qry_xy) - ref_xy).max() < 0.5
        assert PairTruth.load(tmp_path / f'p{seed}.json') == truth


def test_pair_differs_in_time_modality_and_geometry(tmp_path: Path) -> None:
    truth = generate_pair(
        tmp_path / 'ref.tif',
        tmp_path / 'sar.tif',
        seed=4,
        size=(256, 256),
        query_size=(200, 240),
        modality='sar',
        scale=(1.5, 1.5),
        rotation=(30.0, 30.0),
        warp='similarity',
        time_change=0.9,
        num_objects=30,
    )
    warp = truth.warp_matrix()
    scale = np.sqrt(abs(np.linalg.det(warp[:2, :2])))
    assert scale == pytest.approx(1.5)
    # a vector along +x turns 30° counter-clockwise on screen (y down)
    v = warp[:2, :2] @ [1.0, 0.0]
    assert np.degrees(np.arctan2(-v[1], v[0])) == pytest.approx(30.0)
    statuses = set(truth.changes.values())
    assert {'removed', 'moved', 'added'} <= statuses
    with (
        rasterio.open(tmp_path / 'sar.tif') as q,
        rasterio.open(tmp_path / 'ref.tif') as r,
    ):
        assert (q.count, q.dtypes[0], q.height, q.width) == (2, 'uint16', 200, 240)
        assert r.count == 3 and q.crs == r.crs and q.nodata == 0
        # the query header is the approximate georeference (within georef_error)
        centre = np.array([[120.0, 100.0]])
        ref_px = truth.query_to_reference(centre)[0]
        exact = pixel_to_map(r.transform, ref_px[0], ref_px[1])
        header = pixel_to_map(q.transform, 120.0, 100.0)
        offset = np.hypot(exact[0] - header[0], exact[1] - header[1])
        assert 0.5 < offset < 8.0 * 0.5 + 1e-6  # 8 query px of 1/3 m, within 4 m
    assert truth.query.gsd == pytest.approx(0.5 / 1.5)


def test_objects_round_trip_through_a_geopackage(tmp_path: Path) -> None:
    truth = generate_scene(tmp_path / 's.tif', size=(256, 256), seed=9)
    polys = cxcywhr_to_poly(torch.tensor(truth.boxes())).numpy()
    features = []
    for poly, obj in zip(polys, truth.objects, strict=True):
        x, y = pixel_to_map(truth.affine, poly[:, 0], poly[:, 1])
        features.append(
            Feature(
                Polygon(np.stack((x, y), 1)), {'id': obj.id, 'cls': CLASSES[obj.label]}
            )
        )
    write_features(tmp_path / 'objects.gpkg', features, crs=truth.crs)
    back, crs = read_features(tmp_path / 'objects.gpkg')
    assert crs.to_epsg() == 32633
    assert len(back) == len(features) > 0
    for got, want in zip(back, features, strict=True):
        np.testing.assert_allclose(
            np.asarray(got.geometry.exterior.coords),
            np.asarray(want.geometry.exterior.coords),
            atol=1e-6,
            rtol=0,
        )
        assert got.properties == want.properties


def test_bad_arguments_name_themselves(tmp_path: Path) -> None:
    with pytest.raises(InputError, match='^size'):
        synthesize_scene((8, 8))
    with pytest.raises(InputError, match='modality'):
        synthesize_scene((64, 64), modality='lidar')  # type: ignore[arg-type]
    with pytest.raises(InputError, match='bands'):
        synthesize_scene((64, 64), modality='sar', bands=3)
    with pytest.raises(InputError, match='dtype'):
        synthesize_scene((64, 64), dtype='float32')
    with pytest.raises(InputError, match='crs'):
        synthesize_scene((64, 64), crs='EPSG:4326')
    with pytest.raises(InputError, match='warp'):
        synthesize_pair(size=(64, 64), warp='spline')  # type: ignore[arg-type]
    with pytest.raises(InputError, match='scale'):
        synthesize_pair(size=(64, 64), scale=(2.0, 1.0))
    with pytest.raises(InputError, match='time_change'):
        synthesize_pair(size=(64, 64), time_change=1.5)
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'other': 1}))
    with pytest.raises(InputError, match='truth file'):
        PairTruth.load(bad)


def test_plots_draw_every_box() -> None:
    from matplotlib.figure import Figure
    from matplotlib.patches import ConnectionPatch
    from matplotlib.patches import Polygon as PolygonPatch

    from torchgeo_cstf.plotting import display_image
    from torchgeo_cstf.synthetic import plot_pair, plot_scene

    scene = synthesize_scene((128, 160), seed=1, num_objects=6)
    ax = Figure().subplots()
    drawn = plot_scene(scene.image, scene.truth, ax)
    assert drawn == len(scene.truth.objects) > 0
    assert sum(isinstance(p, PolygonPatch) for p in ax.patches) == drawn
    shown = display_image(scene.image)
    assert shown.shape == (128, 160, 3)
    assert shown.min() >= 0.0 and shown.max() <= 1.0
    pair = synthesize_pair(2, size=(128, 128), warp='similarity', num_objects=20)
    figure = plot_pair(pair)
    links = [a for a in figure.artists if isinstance(a, ConnectionPatch)]
    ref_ids = {o.id for o in pair.truth.reference.objects}
    static = [
        o
        for o in pair.truth.query.objects
        if o.id in ref_ids and pair.truth.changes[o.id] == 'static'
    ]
    assert len(links) == len(static)


def test_the_old_simulator_path_is_a_deprecated_alias() -> None:
    import torchgeo_cstf.datasets.synthetic as old
    import torchgeo_cstf.plotting
    import torchgeo_cstf.synthetic

    with pytest.warns(DeprecationWarning, match='is now torchgeo_cstf.synthetic'):
        assert old.generate_pair is torchgeo_cstf.synthetic.generate_pair
    with pytest.warns(DeprecationWarning, match='is now torchgeo_cstf.plotting'):
        assert old.draw_boxes is torchgeo_cstf.plotting.draw_boxes
    with pytest.raises(AttributeError, match='no attribute'):
        old.render  # noqa: B018


def test_settings_are_values_and_keywords_override_them() -> None:
    from torchgeo_cstf.synthetic import PairSettings, SceneSettings

    thermal = PairSettings(size=(128, 128), modality='thermal', warp='similarity')
    by_value = synthesize_pair(3, thermal)
    by_keywords = synthesize_pair(
        3, size=(128, 128), modality='thermal', warp='similarity'
    )
    assert np.array_equal(by_value.query, by_keywords.query)
    assert by_value.truth == by_keywords.truth
    # a keyword replaces one field of the settings given
    sar = synthesize_pair(3, thermal, modality='sar')
    assert sar.query.shape[0] == 2 and by_value.query.shape[0] == 1
    scene = synthesize_scene((96, 96), 1, SceneSettings(bands=1), num_objects=2)
    assert scene.image.shape == (1, 96, 96) and len(scene.truth.objects) <= 2
    with pytest.raises(InputError, match='colour: is not a setting of PairSettings'):
        synthesize_pair(0, colour='red')
