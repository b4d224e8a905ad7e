"""A job whose scene is an s3:// object runs as a worker runs it (in process, no Celery)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pystac
import pytest

from torchgeo_cstf.errors import PathNotAllowedError
from torchgeo_cstf.io import read_features
from torchgeo_cstf.jobs import DetectionJob, job_id
from torchgeo_cstf.jobs.spec import absolute, check_paths
from torchgeo_cstf.stac import validate
from torchgeo_cstf.synthetic import generate_scene
from workers import run


def test_an_s3_scene_is_detected_where_it_lies(
    tmp_path: Path, serve_files: Callable[[Path], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / 'store'
    scene = store / 'acquisitions' / 'T33' / 'scene.tif'
    scene.parent.mkdir(parents=True)
    generate_scene(scene, (512, 512), 8, num_objects=6)
    server = serve_files(store)
    for key, value in {
        'AWS_S3_ENDPOINT': server.url.removeprefix('http://'),
        'AWS_HTTPS': 'NO',
        'AWS_VIRTUAL_HOSTING': 'FALSE',
        'AWS_NO_SIGN_REQUEST': 'YES',
    }.items():
        monkeypatch.setenv(key, value)
    url = 's3://acquisitions/T33/scene.tif'
    out = tmp_path / 'out'
    job = absolute(
        DetectionJob(
            scene=url,
            output_dir=str(out),
            input_versions={url: '"etag-1"'},
            parameters={'tile': 256, 'overlap': 64},
        )
    )
    roots = (tmp_path,)
    check_paths(job, roots, ('s3://acquisitions/',))
    with pytest.raises(PathNotAllowedError, match='under no allowed URL prefix'):
        check_paths(job, roots, ('s3://other-bucket/',))
    manifest = run.detect_scene_job(job, job_id(job), lambda *_: None)
    assert manifest.status == 'succeeded'
    objects, _ = read_features(manifest.outputs['detections'])
    assert len(objects) == manifest.summary['objects'] > 0
    item = pystac.Item.from_file(manifest.outputs['stac_item'])
    validate(item)
    assert item.properties['cstf:objects'] == len(objects)
    # every window was read from the store, by byte ranges
    assert any(
        path == '/acquisitions/T33/scene.tif' and byte_range
        for _, path, byte_range in server.requests
    )
    # a new version of the object is a new job; the same one is the same job
    newer = job.model_copy(update={'input_versions': {url: '"etag-2"'}})
    assert job_id(newer) != job_id(job) == job_id(absolute(job))
