"""Every finished job writes a valid STAC Item beside its manifest."""

import json
from pathlib import Path

import pystac

from torchgeo_cstf.jobs import MatchingJob, PipelineJob, job_id
from torchgeo_cstf.stac import ITEM, validate, write_catalog
from torchgeo_cstf.synthetic import generate_pair
from workers import run


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
    folder = Path(manifest.outputs['stac_item']).parent
    for asset in item.assets.values():  # every href resolves beside item.json
        assert (folder / asset.href).is_file(), asset.href

    pipeline = PipelineJob(**common, parameters={'tile': 256, 'overlap': 64})
    pipeline_id = job_id(pipeline)
    stage = run.pipeline_first_stage(pipeline, pipeline_id, _report)
    final = run.detect_scene_job(stage, pipeline_id, _report)
    item = pystac.Item.from_file(final.outputs['stac_item'])
    validate(item)
    assert item.properties['cstf:kind'] == 'pipeline'
    assert item.properties['cstf:objects'] == final.summary['objects']
    assert item.properties['cstf:counts'] == final.summary['counts']
    assert 'cstf:inliers' in item.properties
    assert {'detections', 'quicklook', 'query_on_reference'} <= set(item.assets)
    saved = json.loads(
        (Path(final.outputs['stac_item']).parent / 'manifest.json').read_text()
    )
    assert saved['outputs']['stac_item'] == final.outputs['stac_item']

    catalog, count = write_catalog(out)
    assert count == 2 and sorted(
        p.parent.name for p in out.glob(f'*/{ITEM}')
    ) == sorted([manifest.job_id, pipeline_id])
    validate(json.loads(catalog.read_text()))
