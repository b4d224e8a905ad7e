import json
from collections.abc import Callable
from pathlib import Path

import cv2
import fiona
import numpy as np
import pytest
import torch
from affine import Affine
from torch import Tensor

from torchgeo_cstf.errors import (
    CorruptRasterError,
    EmptyInputError,
    InputError,
    InputNotFoundError,
    NotARasterError,
)
from torchgeo_cstf.inference import (
    SceneDetections,
    count_tiles,
    detect_scene,
    detect_tiles,
    detection_features,
    merge_detections,
    write_detections,
    write_quicklook,
)
from torchgeo_cstf.inference.detectors import LoadedDetector, resolve_detector
from torchgeo_cstf.inference.tiles import TileReader
from torchgeo_cstf.io import write_geotiff
from torchgeo_cstf.models import CSTFDetector
from torchgeo_cstf.ops import cxcywhr_to_poly, rotated_box_iou
from torchgeo_cstf.options import TilingOptions

GSD = 2.0
TRANSFORM = Affine(GSD, 0.0, 500000.0, 0.0, -GSD, 5300000.0)


class BlobDetector(CSTFDetector):
    """Finds bright blobs by thresholding: isolates tiling and merging.

    Like a real detector it only sees the tile it is given, and reports a
    blob cut by the tile edge as a smaller box.
    """

    def __init__(self) -> None:
        super().__init__(backbone='regnetx_002', channels=16)
        self.calls: list[tuple[int, ...]] = []

    def predict(
        self,
        image: Tensor,
        reference: Tensor | None = None,
        score_threshold: float | None = None,
    ) -> list[dict[str, Tensor]]:
        self.calls.append(tuple(image.shape))
        results = []
        for tile in image:
            mask = (tile[0] > 0.5).numpy().astype(np.uint8)
            count, labels = cv2.connectedComponents(mask)
            boxes = []
            for index in range(1, count):
                ys, xs = np.nonzero(labels == index)
                points = np.stack((xs, ys), 1).astype(np.float32) + 0.5
                (cx, cy), (w, h), angle = cv2.minAreaRect(points)
                boxes.append([cx, cy, w + 1, h + 1, -angle])
            boxes_t = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 5)
            scores = torch.linspace(0.9, 0.5, len(boxes_t))
            keep = scores > (score_threshold or 0.0)
            results.append(
                {
                    'boxes': boxes_t[keep],
                    'scores': scores[keep],
                    'labels': (boxes_t[keep, 2] * boxes_t[keep, 3] > 500).long(),
                }
            )
        return results


def _blobs(version: str = 'test') -> LoadedDetector:
    return LoadedDetector(BlobDetector(), ['small', 'large'], 'blobs', version, 0.1)


def _scene(path: Path, boxes: np.ndarray, size: int = 400) -> None:
    image = np.zeros((size, size), np.uint8)
    corners = cxcywhr_to_poly(torch.tensor(boxes, dtype=torch.float64)).numpy()
    for polygon in corners:
        cv2.fillPoly(image, [np.round(polygon - 0.5).astype(np.int32)], 255)
    write_geotiff(path, np.stack([image] * 3), crs='EPSG:32633', transform=TRANSFORM)


BOXES = np.array(
    [
        [60.0, 60.0, 50.0, 14.0, 30.0],  # inside the first tile
        [128.0, 200.0, 60.0, 16.0, -20.0],  # across the first vertical tile edge
        [250.0, 130.0, 30.0, 10.0, 75.0],  # across a horizontal edge
        [330.0, 330.0, 24.0, 12.0, 0.0],
    ]
)


def test_objects_cut_by_tiles_are_found_once(tmp_path: Path) -> None:
    _scene(tmp_path / 'scene.tif', BOXES)
    detector = BlobDetector()
    loaded = LoadedDetector(detector, ['small', 'large'], 'blobs', 'test', 0.1)
    found = detect_scene(
        tmp_path / 'scene.tif', loaded, options=TilingOptions(tile=128, overlap=64)
    )
    assert (
        found.timings.tiles == 36 and found.timings.skipped == 0
    )  # starts 0, 64, ..., 256, 272
    assert len(found) == len(BOXES)
    iou = rotated_box_iou(torch.tensor(BOXES), found.boxes)
    assert (iou.amax(dim=1) > 0.8).all()  # fillPoly draws the edges too
    assert found.counts() == {'small': 2, 'large': 2}
    assert len(found.above(0.89)) == 4 and len(found.above(0.95)) == 0
    assert found.above(0.89).info == found.info
    assert 0 < found.timings.model_seconds <= found.timings.seconds
    assert 0 <= found.timings.load_seconds < 0.1  # given loaded: nothing to build
    pipeline = (
        found.timings.seconds - found.timings.load_seconds - found.timings.model_seconds
    )
    assert found.timings.overhead == pytest.approx(
        pipeline / found.timings.model_seconds
    )
    assert all(call[1:] == (3, 128, 128) for call in detector.calls)


def test_loading_a_named_detector_is_timed_apart_from_the_pipeline(
    tmp_path: Path,
) -> None:
    _scene(tmp_path / 'scene.tif', BOXES, size=256)
    found = detect_scene(
        tmp_path / 'scene.tif',
        'cstf_detector_regnetx_002',
        options=TilingOptions(tile=128, overlap=32),
    )
    assert found.timings.load_seconds > 0 and found.timings.model_seconds > 0
    assert (
        found.timings.load_seconds + found.timings.model_seconds < found.timings.seconds
    )
    pipeline = (
        found.timings.seconds - found.timings.load_seconds - found.timings.model_seconds
    )
    assert found.timings.overhead == pytest.approx(
        pipeline / found.timings.model_seconds
    )
    merged = merge_detections([found, found])
    assert merged.timings.load_seconds == pytest.approx(2 * found.timings.load_seconds)


def test_tiles_detected_in_parts_merge_to_the_whole_scene(tmp_path: Path) -> None:
    _scene(tmp_path / 'scene.tif', BOXES)
    loaded = _blobs()
    whole = detect_scene(
        tmp_path / 'scene.tif', loaded, options=TilingOptions(tile=128, overlap=64)
    )
    assert (
        count_tiles(tmp_path / 'scene.tif', TilingOptions(tile=128, overlap=64))
        == whole.timings.tiles
        == 36
    )
    calls: list[tuple[int, int]] = []
    parts = [
        detect_tiles(
            tmp_path / 'scene.tif',
            loaded,
            tiles=range(start, min(start + 10, 36)),
            on_tiles=lambda done, total: calls.append((done, total)),
            options=TilingOptions(tile=128, overlap=64, batch_size=4),
        )
        for start in range(0, 36, 10)
    ]
    assert [p.timings.tiles for p in parts] == [10, 10, 10, 6]
    assert calls[:4] == [(4, 10), (8, 10), (10, 10), (10, 10)]
    assert sum(len(p) for p in parts) > len(whole)  # overlaps see objects twice
    merged = merge_detections(parts)
    assert torch.equal(merged.boxes, whole.boxes)
    assert torch.equal(merged.scores, whole.scores)
    assert torch.equal(merged.labels, whole.labels)
    assert merged.timings.tiles == 36
    # a threshold per call, without touching the model
    strict = detect_scene(
        tmp_path / 'scene.tif',
        loaded,
        options=TilingOptions(tile=128, overlap=64, score_threshold=0.95),
    )
    assert len(strict) == 0
    assert loaded.model.score_threshold == 0.05
    with pytest.raises(InputError, match='outside the plan of 36'):
        detect_tiles(
            tmp_path / 'scene.tif',
            loaded,
            tiles=[36],
            options=TilingOptions(tile=128, overlap=64),
        )
    with pytest.raises(InputError, match='no detections'):
        merge_detections([])


def test_nodata_tiles_are_skipped_and_objects_on_nodata_dropped(tmp_path: Path) -> None:
    image = np.zeros((3, 256, 256), np.uint16)
    image[:, :, :128] = 1000  # left half: data; right half: nodata (0)
    image[:, 40:60, 40:100] = 30000  # a bright object on data
    write_geotiff(
        tmp_path / 'half.tif', image, crs='EPSG:32633', transform=TRANSFORM, nodata=0
    )
    reader = TileReader(tmp_path / 'half.tif', 3, 128, 0, prefetch=2)
    tiles = list(reader)
    assert len(reader) == 4 and len(tiles) == 2 and reader.skipped == 2
    # uint16 is stretched between the 2nd and 98th percentiles of valid pixels
    assert reader.normalisation.low.tolist() == [1000.0] * 3
    assert tiles[0].pixels.max() == 1.0 and tiles[0].pixels.min() == 0.0
    found = detect_scene(
        tmp_path / 'half.tif', _blobs(), options=TilingOptions(tile=128, overlap=0)
    )
    assert len(found) == 1
    torch.testing.assert_close(
        found.boxes[0, :4], torch.tensor([70.0, 50.0, 60.0, 20.0], dtype=torch.float64)
    )


def test_stretched_scenes_meet_the_detectors_percentiles(tmp_path: Path) -> None:
    from torchgeo_cstf.inference.tiles import StretchTargets, scene_normalisation
    from torchgeo_cstf.io import open_raster

    rng = np.random.default_rng(0)
    digital = rng.integers(10, 240, size=(3, 200, 200)).astype(np.float64)
    # the same ground delivered as 12-bit numbers and as reflectance
    for name, values in (('dn', digital * 16 + 100), ('refl', digital / 400)):
        dtype = np.uint16 if name == 'dn' else np.float32
        write_geotiff(
            tmp_path / f'{name}.tif',
            values.astype(dtype),
            crs='EPSG:32633',
            transform=TRANSFORM,
        )
        low, high = np.percentile(digital.reshape(3, -1) / 255, (2, 98), axis=1)
        targets = StretchTargets(tuple(low), tuple(high))
        with open_raster(tmp_path / f'{name}.tif') as src:
            normalised = scene_normalisation(src, targets).apply(
                src.read(), np.ones((200, 200), bool)
            )
        # what the detector saw in training: the uint8 scene divided by 255
        np.testing.assert_allclose(normalised, digital / 255, atol=2e-3)
    # fewer targets than bands: the others get the mean
    low, high = StretchTargets((0.1, 0.3), (0.6, 0.8)).per_band(3)
    assert low.tolist() == [0.1, 0.3, 0.2] and high.tolist() == [0.6, 0.8, 0.7]


def test_features_are_in_map_units(tmp_path: Path) -> None:
    _scene(tmp_path / 'scene.tif', BOXES)
    found = detect_scene(
        tmp_path / 'scene.tif',
        _blobs('9.9'),
        acquisition_id='acq-1',
        options=TilingOptions(tile=128, overlap=64),
    )
    features = detection_features(found)
    first = max(features, key=lambda f: f.properties['length_m'])
    # the 60 x 16 px box at -20 degrees (clockwise on screen)
    assert first.properties['length_m'] == pytest.approx(60 * GSD, abs=2 * GSD)
    assert first.properties['width_m'] == pytest.approx(16 * GSD, abs=2 * GSD)
    assert first.properties['heading_deg'] == pytest.approx(110.0, abs=2.0)
    assert first.properties['centre_x'] == pytest.approx(500000 + 128 * GSD, abs=2)
    assert first.properties['centre_y'] == pytest.approx(5300000 - 200 * GSD, abs=2)
    assert first.properties['acquisition_id'] == 'acq-1'
    assert first.properties['model_version'] == '9.9'
    assert first.geometry.area == pytest.approx(60 * 16 * GSD**2, rel=0.15)

    write_detections(found, tmp_path / 'out.gpkg')
    write_detections(found, tmp_path / 'out.geojson', crs='EPSG:4326')
    with fiona.open(tmp_path / 'out.gpkg') as layer:
        assert layer.crs.to_epsg() == 32633 and len(layer) == 4
        assert layer.schema['geometry'] == 'Polygon'
    with fiona.open(tmp_path / 'out.geojson') as layer:
        assert layer.crs.to_epsg() == 4326 and len(layer) == 4
        lon, lat = next(iter(layer))['geometry']['coordinates'][0][0]
        assert 14 < lon < 16 and 47 < lat < 48.5
    write_quicklook(found, tmp_path / 'quick.png')
    assert (tmp_path / 'quick.png').read_bytes()[:4] == b'\x89PNG'


def test_empty_result_writes_an_empty_layer(tmp_path: Path) -> None:
    write_geotiff(
        tmp_path / 'dark.tif',
        np.zeros((1, 64, 64), np.uint8) + 5,
        crs='EPSG:32633',
        transform=TRANSFORM,
    )
    found = detect_scene(
        tmp_path / 'dark.tif', _blobs(), options=TilingOptions(tile=64, overlap=0)
    )
    assert len(found) == 0
    write_detections(found, tmp_path / 'none.gpkg')
    with fiona.open(tmp_path / 'none.gpkg') as layer:
        assert len(layer) == 0 and 'heading_deg' in layer.schema['properties']


def test_bad_inputs(tmp_path: Path) -> None:
    _scene(tmp_path / 'scene.tif', BOXES)
    loaded = _blobs()
    with pytest.raises(InputError, match='multiple of 32'):
        detect_scene(
            tmp_path / 'scene.tif', loaded, options=TilingOptions(tile=100, overlap=20)
        )
    with pytest.raises(InputError, match='batch_size'):
        detect_scene(
            tmp_path / 'scene.tif',
            loaded,
            options=TilingOptions(tile=128, overlap=0, batch_size=0),
        )
    with pytest.raises(InputNotFoundError):
        detect_scene(tmp_path / 'missing.tif', loaded)
    # the keywords of release 0.1 still work, with a DeprecationWarning
    with pytest.warns(DeprecationWarning, match='pass TilingOptions'):
        old = detect_scene(tmp_path / 'scene.tif', loaded, tile=128, overlap=64)
    assert old.timings.tiles == 36
    with pytest.raises(InputError, match='not both'):
        detect_scene(tmp_path / 'scene.tif', loaded, TilingOptions(), tile=128)
    with (
        pytest.warns(DeprecationWarning, match='deprecated'),
        pytest.raises(InputError, match='unknown option.*colour'),
    ):
        detect_scene(tmp_path / 'scene.tif', loaded, colour='red')
    (tmp_path / 'text.tif').write_text('not a raster')
    with pytest.raises(NotARasterError):
        detect_scene(tmp_path / 'text.tif', loaded)
    write_geotiff(
        tmp_path / 'other.tif',
        np.zeros((3, 300, 300), np.uint8),
        crs='EPSG:32633',
        transform=TRANSFORM,
    )
    with pytest.raises(InputError, match='scene grid'):
        detect_scene(tmp_path / 'scene.tif', loaded, reference=tmp_path / 'other.tif')


def test_resolve_detector_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match='no released weights'):
        resolve_detector('cstf_detector_resnet50')
    with pytest.raises(InputError, match='unknown detector'):
        resolve_detector('yolo')
    with pytest.raises(InputNotFoundError):
        resolve_detector(tmp_path / 'missing.ckpt')
    torch.save({'state_dict': {}}, tmp_path / 'other.ckpt')
    with pytest.raises(InputError, match='not a CSTFDetection checkpoint'):
        resolve_detector(tmp_path / 'other.ckpt')
    loaded = resolve_detector(CSTFDetector(backbone='regnetx_002', num_classes=2))
    assert loaded.class_names == ['class_0', 'class_1'] and not loaded.model.training


def test_broken_rasters_get_typed_errors(
    tmp_path: Path, bad_rasters: Callable[[Path], dict[str, Path]]
) -> None:
    bad = bad_rasters(tmp_path / 'bad')
    loaded = _blobs()
    # the header reads; the first tiles too; the cut block fails when read
    with pytest.raises(CorruptRasterError, match='truncated or damaged') as info:
        detect_scene(
            bad['truncated'], loaded, options=TilingOptions(tile=256, overlap=0)
        )
    assert info.value.subject == str(bad['truncated'])
    assert 'rows 512–767, cols 512–767' in str(info.value)
    assert info.value.code == 'CORRUPT_RASTER'
    with pytest.raises(CorruptRasterError, match='rows 256–511, cols 256–511'):
        detect_scene(bad['corrupt'], loaded, options=TilingOptions(tile=256, overlap=0))
    for name in ('nodata', 'nan'):
        with pytest.raises(EmptyInputError, match='no valid pixel') as empty:
            detect_scene(bad[name], loaded, options=TilingOptions(tile=128, overlap=0))
        assert empty.value.code == 'EMPTY_INPUT'
    with pytest.raises(InputError, match='300×1 px: too small'):
        detect_scene(bad['line'], loaded)
    # chunks of an all-nodata scene are each fine; their merge is not
    parts = [
        detect_tiles(
            bad['nodata'], loaded, tiles=[i], options=TilingOptions(tile=128, overlap=0)
        )
        for i in range(4)
    ]
    assert [p.timings.skipped for p in parts] == [1, 1, 1, 1]
    with pytest.raises(EmptyInputError):
        merge_detections(parts)


def test_scene_detections_round_trip_through_json(tmp_path: Path) -> None:
    _scene(tmp_path / 'scene.tif', BOXES)
    found = detect_scene(
        tmp_path / 'scene.tif', _blobs(), options=TilingOptions(tile=128, overlap=64)
    )
    record = json.loads(json.dumps({'chunk': 3, **found.to_dict()}))
    again = SceneDetections.from_dict(
        record,
        boxes=found.boxes,
        scores=found.scores,
        labels=found.labels,
        info=found.info,
    )
    assert again.to_dict() == found.to_dict()  # every field back, extra keys ignored
    assert again.info == found.info and torch.equal(again.boxes, found.boxes)
    assert (
        'boxes' not in record
        and record['timings']['tiles'] == found.timings.tiles == 36
    )
    assert again.provenance == found.provenance and again.timings == found.timings
