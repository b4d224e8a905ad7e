"""Every finished job writes a valid STAC Item beside its manifest."""

import json
import warnings
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from PIL import Image

from torchgeo_cstf.errors import DomainWarning, NoTransformError
from torchgeo_cstf.jobs import (
    DetectionParameters,
    Manifest,
    MatchingJob,
    PipelineJob,
    job_id,
)
from torchgeo_cstf.models.registry import DETECTORS, MATCHERS, resolve_model
from torchgeo_cstf.stac import ITEM, validate, write_catalog
from torchgeo_cstf.synthetic import generate_pair
from workers import run
from workers.outputs import finished, staged, write_manifest


def _report(stage: str, done: int, total: int) -> None:
    assert 0 <= done <= total


def test_match_and_pipeline_results_are_stac_items(tmp_path: Path) -> None:
    truth = generate_pair(
        tmp_path / 'ref.tif',
        tmp_path / 'new.tif',
        0,
        size=(384, 384),
        modality='optical',
        warp='similarity',
        rotation=(-2, 2),
        scale=(0.98, 1.02),
    )
    out = tmp_path / 'out'
    common = {
        'reference': str(tmp_path / 'ref.tif'),
        'query': str(tmp_path / 'new.tif'),
        'output_dir': str(out),
        'registration': {'method': 'dense', 'window': 384, 'windows': 1},
    }
    matching = MatchingJob(**common)
    manifest = run.coregister_job(matching, job_id(matching), _report)
    item = pystac.Item.from_file(manifest.outputs['stac_item'])
    validate(item)
    assert item.id == manifest.job_id and item.properties['cstf:kind'] == 'match'
    assert item.properties['cstf:registration_rmse_px'] < 2.0
    assert item.properties['proj:code'] == truth.reference.crs
    assert {'query_on_reference', 'tie_points', 'matches', 'report', 'manifest'} <= set(
        item.assets
    )
    assert item.assets['query_on_reference'].roles == ['data']
    # the dense method has no weights: no matcher is named
    assert item.properties['cstf:registration_method'] == 'dense'
    assert 'cstf:matcher' not in item.properties
    folder = Path(manifest.outputs['stac_item']).parent
    for asset in item.assets.values():  # every href resolves beside item.json
        assert (folder / asset.href).is_file(), asset.href

    pipeline = PipelineJob(**common, parameters={'tile': 256, 'overlap': 64})
    pipeline_id = job_id(pipeline)
    stage = run.pipeline_first_stage(pipeline, pipeline_id, _report)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        final = run.detect_scene_job(stage, pipeline_id, _report)
    # the warped query keeps its source's tags: synthetic, as the weights
    assert not [w for w in caught if issubclass(w.category, DomainWarning)]
    item = pystac.Item.from_file(final.outputs['stac_item'])
    validate(item)
    assert item.properties['cstf:kind'] == 'pipeline'
    assert item.properties['cstf:objects'] == final.summary['objects']
    assert item.properties['cstf:counts'] == final.summary['counts']
    assert 'cstf:inliers' in item.properties
    assert {'detections', 'quicklook', 'query_on_reference'} <= set(item.assets)
    # processing provenance: the weights file the detector ran with
    detector = resolve_model(DetectionParameters().detector, DETECTORS)
    assert detector.sha256 is not None and len(detector.sha256) == 64
    assert item.properties['cstf:weights_sha256'] == detector.sha256
    assert final.summary['weights_sha256'] == detector.sha256
    assert item.assets['thumbnail'].roles == ['thumbnail']
    with Image.open(Path(final.outputs['thumbnail'])) as thumbnail:
        assert max(thumbnail.size) <= 256
    saved = json.loads(
        (Path(final.outputs['stac_item']).parent / 'manifest.json').read_text()
    )
    assert saved['outputs']['stac_item'] == final.outputs['stac_item']

    learned = MatchingJob(**{**common, 'registration': {'method': 'cstf'}})
    manifest = run.coregister_job(learned, job_id(learned), _report)
    item = pystac.Item.from_file(manifest.outputs['stac_item'])
    matcher = resolve_model(learned.matcher, MATCHERS)
    assert item.properties['cstf:matcher'] == learned.matcher
    assert item.properties['cstf:matcher_sha256'] == matcher.sha256 is not None

    catalog, count = write_catalog(out)
    assert count == 3 and sorted(
        p.parent.name for p in out.glob(f'*/{ITEM}')
    ) == sorted([job_id(matching), manifest.job_id, pipeline_id])
    validate(json.loads(catalog.read_text()))


def test_a_match_without_transform_keeps_what_explains_it(tmp_path: Path) -> None:
    generate_pair(tmp_path / 'ref.tif', tmp_path / 'new.tif', 0, size=(256, 256))
    with rasterio.open(tmp_path / 'new.tif', 'r+') as dst:  # same grid, no content
        noise = np.random.default_rng(0).integers(0, 255, (dst.count, 256, 256))
        dst.write(noise.astype(dst.dtypes[0]))
    job = MatchingJob(
        reference=str(tmp_path / 'ref.tif'),
        query=str(tmp_path / 'new.tif'),
        output_dir=str(tmp_path / 'out'),
        registration={'method': 'dense', 'window': 256, 'windows': 1},
    )
    manifest = run.coregister_job(job, job_id(job), _report)
    assert manifest.status == 'failed' and manifest.error is not None
    assert manifest.error.code == 'NO_TRANSFORM'
    assert {'tie_points', 'matches', 'report'} <= set(manifest.outputs)
    assert 'query_on_reference' not in manifest.outputs
    for path in manifest.outputs.values():
        assert Path(path).is_file(), path
    assert manifest.summary['matrix'] is None
    folder = Path(manifest.outputs['report']).parent
    saved = json.loads((folder / 'manifest.json').read_text())
    assert saved['status'] == 'failed' and saved['error']['code'] == 'NO_TRANSFORM'
    # a failure is not a result to reuse: the job runs again (a redelivery)
    # and its folder replaces the failed run's
    assert finished(folder) is None
    before = (folder / 'manifest.json').stat().st_mtime_ns
    again = run.coregister_job(job, job_id(job), _report)
    assert again.status == 'failed'
    assert (folder / 'manifest.json').stat().st_mtime_ns != before
    assert not list(folder.parent.glob('.*'))  # no staged or stale folder left
    # a pipeline's co-registration stage fails the same way and leaves nothing
    pipeline = PipelineJob(**job.model_dump(exclude={'kind'}))
    with pytest.raises(NoTransformError):
        run.pipeline_first_stage(pipeline, job_id(pipeline), _report)
    assert not list(folder.parent.glob('.*'))


def test_a_result_replaces_a_failed_folder_but_not_a_result(tmp_path: Path) -> None:
    folder = tmp_path / 'cstf-match-0'

    def write(manifest: Manifest) -> None:
        with staged(folder) as directory:
            (directory / 'note.txt').write_text(manifest.status)
            write_manifest(directory, manifest)

    write(Manifest.failed('cstf-match-0', 'match', 'NO_TRANSFORM', 'no fit'))
    write(Manifest.succeeded('cstf-match-0', 'match'))
    assert (folder / 'note.txt').read_text() == 'succeeded'
    assert finished(folder) == Manifest.succeeded('cstf-match-0', 'match')
    write(Manifest.succeeded('cstf-match-0', 'match', summary={'late': True}))
    found = finished(folder)
    assert found is not None and found.summary == {}  # the first result stays
    assert [p.name for p in tmp_path.iterdir()] == ['cstf-match-0']
