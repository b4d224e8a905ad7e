import json
from pathlib import Path

import fiona
import numpy as np
import pytest
import rasterio

from torchgeo_cstf.cli import main
from torchgeo_cstf.demo import run_demo
from torchgeo_cstf.models import (
    CSTFDetectorRegNetX002_Weights,
    CSTFMatcherRegNetX004_Weights,
    get_model,
)
from torchgeo_cstf.models.registry import MATCHERS, resolve_model
from torchgeo_cstf.models.weights import resolve_url, sha256_of
from torchgeo_cstf.synthetic import PairTruth, generate_scene


def test_shipped_weights_are_verified_and_small() -> None:
    for name, weights in (
        ('cstf_detector_regnetx_002', CSTFDetectorRegNetX002_Weights),
        ('cstf_matcher_regnetx_004', CSTFMatcherRegNetX004_Weights),
    ):
        for member in weights:
            path = resolve_url(member.url)
            assert sha256_of(path) == member.meta['sha256'], member
            assert path.stat().st_size < 20 * 2**20
            assert not get_model(name, weights=member).training
    model = get_model(
        'cstf_detector_regnetx_002', weights=CSTFDetectorRegNetX002_Weights.SYNTHETIC
    )
    assert model.num_classes == 3
    # the default matcher: fine-tuned on real imagery beside synthetic pairs
    default = resolve_model('cstf_matcher_regnetx_004', MATCHERS).weights
    assert default is CSTFMatcherRegNetX004_Weights.REAL_AND_SYNTHETIC


@pytest.mark.slow
def test_demo_finds_the_objects_and_registers(tmp_path: Path) -> None:
    summary = run_demo(tmp_path, size=768, seed=7, progress=False)
    truth = PairTruth.load(tmp_path / 'truth.json')
    assert summary.objects_true == len(truth.query.objects) > 10
    assert summary.map07 >= 0.6
    # co-registration removes most of the 8-px georeference error
    assert summary.registration_rmse_px < 0.25 * summary.georeference_error_px
    assert json.loads((tmp_path / 'summary.json').read_text())['map07'] == (
        summary.map07
    )
    with fiona.open(tmp_path / 'detections.gpkg') as layer:
        assert layer.crs.to_epsg() == 32633 and len(layer) == summary.objects_found
    with fiona.open(tmp_path / 'tie_points.gpkg') as layer:
        assert len(layer) == summary.matches
    with rasterio.open(tmp_path / 'query_on_reference.tif') as warped:
        with rasterio.open(tmp_path / 'reference.tif') as reference:
            assert warped.transform == reference.transform
            assert warped.shape == reference.shape
        assert warped.tags(ns='IMAGE_STRUCTURE').get('LAYOUT') == 'COG'
        assert warped.overviews(1)
    for picture in ('matches.png', 'detections.png'):
        assert (tmp_path / picture).read_bytes()[:4] == b'\x89PNG'
    # the same co-registration report as cstf match and the workers write
    report = json.loads((tmp_path / 'report.json').read_text())
    assert report['inliers'] == summary.inliers


@pytest.mark.slow
def test_cli_detect_and_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = generate_scene(tmp_path / 'scene.tif', size=(640, 640), seed=5)
    code = main(
        [
            'detect',
            str(tmp_path / 'scene.tif'),
            '--out',
            str(tmp_path / 'objects.geojson'),
            '--crs',
            'EPSG:4326',
            '--tile',
            '512',
            '--overlap',
            '128',
            '--quiet',
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    with fiona.open(tmp_path / 'objects.geojson') as layer:
        assert layer.crs.to_epsg() == 4326
        found = len(layer)
    assert f'{found} objects' in printed and abs(found - len(truth.objects)) <= max(
        5, len(truth.objects) // 3
    )
    assert (tmp_path / 'objects.png').exists()

    from torchgeo_cstf.synthetic import generate_pair

    generate_pair(
        tmp_path / 'ref.tif',
        tmp_path / 'query.tif',
        3,
        size=(512, 512),
        modality='optical',
        warp='similarity',
        scale=(0.95, 1.05),
        rotation=(-5.0, 5.0),
    )
    code = main(
        [
            'match',
            str(tmp_path / 'ref.tif'),
            str(tmp_path / 'query.tif'),
            '--out',
            str(tmp_path / 'coreg'),
            '--quiet',
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / 'coreg' / 'report.json').read_text())
    assert report['inliers'] >= 8 and report['rmse_px'] < 4
    assert np.array(report['matrix']).shape == (3, 3)
    for name in ('tie_points.gpkg', 'matches.png', 'query_on_reference.tif'):
        assert (tmp_path / 'coreg' / name).exists()


def test_cli_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / 'notes.tif').write_text('not a raster')
    cases = [
        ['detect', str(tmp_path / 'missing.tif'), '--out', str(tmp_path / 'o.gpkg')],
        ['detect', str(tmp_path / 'notes.tif'), '--out', str(tmp_path / 'o.gpkg')],
        ['detect', str(tmp_path / 'notes.tif'), '--out', 'o.gpkg', '--model', 'yolo'],
        ['match', str(tmp_path / 'a.tif'), str(tmp_path / 'b.tif'), '--out', 'x'],
    ]
    for argv in cases:
        assert main(argv) == 2
        error = capsys.readouterr().err
        assert error.startswith('cstf: error: ') and error.count('\n') == 1
        assert 'Traceback' not in error
