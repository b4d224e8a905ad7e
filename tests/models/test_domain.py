import warnings
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from torchgeo_cstf.cli import main
from torchgeo_cstf.errors import DomainWarning
from torchgeo_cstf.inference import detect_scene, resolve_detector
from torchgeo_cstf.inference.detectors import LoadedDetector
from torchgeo_cstf.io import read_raster_info, write_geotiff
from torchgeo_cstf.models import CSTFDetector
from torchgeo_cstf.models.domain import (
    Domain,
    InputFacts,
    domain_mismatches,
    warn_domain,
)
from torchgeo_cstf.options import TilingOptions
from torchgeo_cstf.synthetic import generate_scene

THERMAL_UAV = Domain('real', 'thermal infrared', 'UAV', 1, 'uint8', (0.04, 0.17))
SYNTHETIC = resolve_detector('cstf_detector_regnetx_002').domain


def _raster(
    path: Path, bands: int, dtype: str, gsd: float, crs: str = 'EPSG:32633'
) -> Path:
    data = np.random.default_rng(0).integers(0, 200, (bands, 64, 64)).astype(dtype)
    write_geotiff(path, data, crs=crs, transform=Affine(gsd, 0, 500000, 0, -gsd, 5e6))
    return path


def test_released_detector_states_its_domain() -> None:
    assert (
        Domain(
            'synthetic',
            'optical RGB',
            'simulated aerial/satellite scenes',
            3,
            'uint8',
            (0.5, 0.5),
        )
        == SYNTHETIC
    )
    assert SYNTHETIC.describe() == (
        'synthetic optical RGB, simulated aerial/satellite scenes, 3 bands uint8, 0.5 m'
    )


@pytest.mark.parametrize(
    ('facts', 'expected'),
    [
        # matching domains: nothing to say
        (InputFacts('a', 1, 'uint8', 0.1, False), []),
        (InputFacts('a', 1, 'uint8', None, False), []),
        # RGB into thermal weights
        (InputFacts('a', 3, 'uint8', 0.1, False), ['3 band(s)']),
        (InputFacts('a', 1, 'uint16', 0.1, False), ['uint16']),
        (InputFacts('a', 1, 'uint8', 10.0, False), ['10 m']),
        (InputFacts('a', 1, 'uint8', 0.01, False), ['0.01 m']),
        (InputFacts('a', 1, 'uint8', 0.1, True), ['synthetic render']),
        (InputFacts('a', 4, 'float32', 10.0, False), ['4 band(s)', 'float32', '10 m']),
    ],
)
def test_rules_for_real_thermal_weights(facts: InputFacts, expected: list[str]) -> None:
    reasons = domain_mismatches(THERMAL_UAV, facts)
    assert len(reasons) == len(expected)
    for reason, word in zip(reasons, expected, strict=True):
        assert word in reason


def test_rules_for_synthetic_weights() -> None:
    assert SYNTHETIC is not None
    # the package's own renders fit; four bands read as RGB are not flagged
    assert domain_mismatches(SYNTHETIC, InputFacts('s', 3, 'uint8', 0.5, True)) == []
    assert domain_mismatches(SYNTHETIC, InputFacts('s', 4, 'uint8', 0.4, True)) == []
    (real,) = domain_mismatches(SYNTHETIC, InputFacts('r', 3, 'uint8', 0.5, False))
    assert 'synthetic renders only' in real
    assert (
        len(domain_mismatches(SYNTHETIC, InputFacts('t', 1, 'uint8', 0.5, False))) == 2
    )


def test_facts_from_raster_headers(tmp_path: Path) -> None:
    facts = InputFacts.of_raster(
        read_raster_info(_raster(tmp_path / 'a.tif', 1, 'uint16', 0.3))
    )
    assert (facts.bands, facts.dtype, facts.synthetic) == (1, 'uint16', False)
    assert facts.gsd == pytest.approx(0.3)
    # degrees are not metres: no pixel size
    geographic = _raster(tmp_path / 'g.tif', 3, 'uint8', 1e-5, crs='EPSG:4326')
    assert InputFacts.of_raster(read_raster_info(geographic)).gsd is None
    truth = generate_scene(tmp_path / 'syn.tif', size=(64, 64), seed=0)
    assert InputFacts.of_raster(read_raster_info(truth.path)).synthetic


def test_warns_once_per_reason() -> None:
    facts = InputFacts('scene.tif', 3, 'uint8', 0.1, False)
    with pytest.warns(DomainWarning, match=r'scene.tif: outside the domain of w1'):
        warn_domain('w1', THERMAL_UAV, facts)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert len(warn_domain('w1', THERMAL_UAV, facts)) == 1  # said before
    with pytest.warns(DomainWarning, match='w2'):
        warn_domain('w2', THERMAL_UAV, facts)


def _loaded(domain: Domain | None) -> LoadedDetector:
    model = CSTFDetector(backbone='regnetx_002', channels=16, num_classes=3)
    return LoadedDetector(
        model.eval(), ['a', 'b', 'c'], 'tiny', '0', 0.5, domain=domain
    )


def test_detect_scene_warns_outside_the_domain_only(tmp_path: Path) -> None:
    real = _raster(tmp_path / 'real.tif', 3, 'uint8', 0.5)
    with pytest.warns(DomainWarning, match='synthetic renders only'):
        found = detect_scene(
            real, _loaded(SYNTHETIC), options=TilingOptions(tile=64, overlap=16)
        )
    assert len(found.provenance.domain_warnings) == 1
    truth = generate_scene(tmp_path / 'syn.tif', size=(128, 128), seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter('error', DomainWarning)
        found = detect_scene(
            truth.path, _loaded(SYNTHETIC), options=TilingOptions(tile=64, overlap=16)
        )
        assert found.provenance.domain_warnings == ()
        # weights of unknown domain (a checkpoint): nothing to compare
        found = detect_scene(
            real, _loaded(None), options=TilingOptions(tile=64, overlap=16)
        )
        assert found.provenance.domain_warnings == ()


def test_cli_detect_prints_the_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _raster(tmp_path / 'thermal.tif', 1, 'uint8', 0.5)
    with pytest.warns(DomainWarning) as record:
        code = main(['detect', str(real), '--out', str(tmp_path / 'o.gpkg')])
    assert code == 0
    messages = [str(w.message) for w in record]
    assert any('synthetic renders only' in m for m in messages)
    assert any('1 band(s)' in m for m in messages)


def test_cli_models_lists_weights_and_domains(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(['models']) == 0
    out = capsys.readouterr().out
    assert 'CSTFDetectorRegNetX002_Weights.SYNTHETIC  [default]' in out
    assert 'domain:  synthetic optical RGB' in out
    assert 'cstf_detector_resnet50 (detector)\n  no released weights' in out


def test_hit_uav_weights_warn_on_rgb_only(tmp_path: Path) -> None:
    loaded = resolve_detector('CSTFDetectorRegNetX002_Weights.HIT_UAV')
    assert loaded.class_names == ['Person', 'Car', 'Bicycle', 'OtherVehicle']
    assert loaded.version.endswith('+HIT_UAV')
    assert loaded.domain is not None and loaded.domain.bands == 1
    thermal = _raster(tmp_path / 'thermal.tif', 1, 'uint8', 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter('error', DomainWarning)
        found = detect_scene(
            thermal, loaded, options=TilingOptions(tile=64, overlap=16)
        )
    assert found.provenance.domain_warnings == ()
    rgb = _raster(tmp_path / 'rgb.tif', 3, 'uint8', 0.1)
    with pytest.warns(DomainWarning, match=r'3 band\(s\); the weights were trained'):
        found = detect_scene(rgb, loaded, options=TilingOptions(tile=64, overlap=16))
    assert len(found.provenance.domain_warnings) == 1
