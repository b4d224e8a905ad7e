import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from torchgeo_cstf.errors import InputNotFoundError, JobSpecError, PathNotAllowedError
from torchgeo_cstf.jobs import (
    DetectionJob,
    DetectionParameters,
    MatchingJob,
    build,
    check_paths,
    job_id,
    parse_job,
)
from torchgeo_cstf.jobs.spec import absolute, allowed_path, input_path, local_path
from torchgeo_cstf.options import TilingOptions


def _files(root: Path) -> tuple[Path, Path]:
    (root / 'in').mkdir(parents=True)
    scene = root / 'in' / 'scene.tif'
    scene.write_bytes(b'II*\x00' + bytes(100))
    other = root / 'in' / 'other.tif'
    other.write_bytes(b'II*\x00' + bytes(200))
    return scene, other


def test_parse_round_trip_and_errors(tmp_path: Path) -> None:
    job = DetectionJob(scene='/a/s.tif', output_dir='/a/out')
    assert parse_job(job.model_dump(mode='json')) == job
    assert parse_job(job.model_dump_json()) == job
    with pytest.raises(JobSpecError, match='kind'):
        parse_job({'scene': '/a/s.tif', 'output_dir': '/a'})
    with pytest.raises(JobSpecError, match='scene: Field required'):
        parse_job({'kind': 'detect', 'output_dir': '/a'})
    with pytest.raises(JobSpecError, match='colour: Extra inputs are not permitted'):
        parse_job({'kind': 'detect', 'scene': 's', 'output_dir': '/a', 'colour': 1})
    with pytest.raises(JobSpecError, match=r'overlap: must be in \[0, tile=100\)'):
        parse_job(
            {'kind': 'detect', 'scene': 's', 'output_dir': 'o',
             'parameters': {'tile': 100}}
        )  # fmt: skip
    with pytest.raises(JobSpecError, match=r'score_threshold: must lie in \[0, 1\]'):
        parse_job(
            {'kind': 'detect', 'scene': 's', 'output_dir': 'o',
             'parameters': {'score_threshold': 2}}
        )  # fmt: skip
    with pytest.raises(JobSpecError, match='job'):
        parse_job('{not json')
    matching = {'kind': 'match', 'reference': 'r', 'query': 'q', 'output_dir': 'o'}
    assert parse_job(matching).registration.method == 'auto'  # type: ignore[union-attr]
    assert parse_job({**matching, 'method': 'dense'}).registration.method == 'dense'  # type: ignore[union-attr]
    with pytest.raises(
        JobSpecError,
        match="registration.method: Input should be 'cstf', 'dense' or 'auto'",
    ):
        parse_job({**matching, 'method': 'sift'})
    with pytest.raises(JobSpecError, match='batch_size: must be at least 1, got 0'):
        build(DetectionParameters, batch_size=0)
    with pytest.raises(JobSpecError, match=r'overlap: must be in \[0, tile=128\)'):
        build(DetectionParameters, tile=128)
    # the 0.1 wire format (flat keys) and the nested one are the same job
    flat = build(DetectionParameters, tile=512, overlap=64)
    nested = build(DetectionParameters, tiling={'tile': 512, 'overlap': 64})
    assert flat == nested and flat.tiling == TilingOptions(tile=512, overlap=64)
    with pytest.raises(JobSpecError, match='inside'):
        build(DetectionParameters, tile=512, tiling=TilingOptions())


def test_paths_must_stay_under_the_allowed_roots(tmp_path: Path) -> None:
    root = tmp_path / 'root'
    scene, _ = _files(root)
    roots = (root,)
    check_paths(DetectionJob(scene=str(scene), output_dir=str(root / 'out')), roots)
    check_paths(DetectionJob(scene=scene.as_uri(), output_dir=str(root / 'out')), roots)
    with pytest.raises(PathNotAllowedError, match='outside the allowed roots'):
        check_paths(DetectionJob(scene=str(scene), output_dir='/tmp/elsewhere'), roots)
    with pytest.raises(PathNotAllowedError, match='outside'):
        allowed_path(str(root / 'in' / '..' / '..' / 'secret.tif'), roots)
    (tmp_path / 'secret.tif').write_bytes(b'x')
    (root / 'link.tif').symlink_to(tmp_path / 'secret.tif')
    with pytest.raises(PathNotAllowedError, match='link.tif: outside'):
        allowed_path(str(root / 'link.tif'), roots)
    with pytest.raises(PathNotAllowedError, match='s3:// is not supported'):
        local_path('s3://bucket/scene.tif')
    with pytest.raises(InputNotFoundError, match='missing.tif: no such file'):
        check_paths(
            DetectionJob(scene=str(root / 'missing.tif'), output_dir=str(root)), roots
        )
    assert PathNotAllowedError.code == 'PATH_NOT_ALLOWED'


def test_remote_inputs_are_read_only_under_an_allowed_prefix(tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    roots, prefixes = (root,), ('https://data.example.com/public/',)
    url = 'https://data.example.com/public/S2/B04.tif'
    job = DetectionJob(scene=url, output_dir=str(root / 'out'))
    check_paths(job, roots, prefixes)  # not fetched: the worker opens it
    with pytest.raises(PathNotAllowedError, match='under no allowed URL prefix'):
        check_paths(job, roots)
    escaping = DetectionJob(scene=url.replace('public/', 'public/../private/'),
                            output_dir=str(root))  # fmt: skip
    with pytest.raises(PathNotAllowedError, match='under no allowed URL prefix'):
        check_paths(escaping, roots, prefixes)
    with pytest.raises(PathNotAllowedError, match='outputs are written to a local'):
        check_paths(
            DetectionJob(scene=url, output_dir='s3://bucket/out'), roots, prefixes
        )
    # a URL and its GDAL path are one input; a stated version is part of the id
    same = absolute(DetectionJob(scene=f'/vsicurl/{url}', output_dir=str(root / 'out')))
    assert same.scene == url and job_id(same) == job_id(absolute(job))
    versioned = absolute(
        DetectionJob(
            scene=url,
            output_dir=str(root / 'out'),
            input_versions={f'/vsicurl/{url}': 'etag-1'},
        )
    )
    assert versioned.input_versions == {url: 'etag-1'}
    newer = versioned.model_copy(update={'input_versions': {url: 'etag-2'}})
    assert len({job_id(absolute(job)), job_id(versioned), job_id(newer)}) == 3
    with pytest.raises(JobSpecError, match='other.tif: not a remote input'):
        absolute(
            DetectionJob(
                scene=url,
                output_dir=str(root),
                input_versions={'https://data.example.com/public/other.tif': 'x'},
            )
        )
    assert input_path(url) == f'/vsicurl/{url}'
    assert input_path(str(root / 'a.tif')) == root / 'a.tif'


def test_job_id_is_deterministic_and_tracks_inputs(tmp_path: Path) -> None:
    scene, other = _files(tmp_path)
    job = DetectionJob(scene=str(scene), output_dir=str(tmp_path / 'out'))
    first = job_id(job)
    assert first.startswith('cstf-detect-') and len(first) == len('cstf-detect-') + 24
    assert (
        job_id(DetectionJob(scene=str(scene), output_dir=str(tmp_path / 'out')))
        == first
    )
    # the same job named from another directory has the same id
    here = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert (
            job_id(absolute(DetectionJob(scene='in/scene.tif', output_dir='out')))
            == first
        )
    finally:
        os.chdir(here)
    changed = DetectionJob(
        scene=str(scene),
        output_dir=str(tmp_path / 'out'),
        parameters=DetectionParameters(score_threshold=0.5),
    )
    assert job_id(changed) != first
    assert (
        job_id(DetectionJob(scene=str(other), output_dir=str(tmp_path / 'out')))
        != first
    )
    time.sleep(0.01)
    scene.write_bytes(b'II*\x00' + bytes(101))  # a new version of the file
    assert job_id(job) != first
    pair = MatchingJob(reference=str(scene), query=str(other), output_dir='/o')
    assert job_id(pair).startswith('cstf-match-')
    with pytest.raises(InputNotFoundError):
        job_id(DetectionJob(scene=str(tmp_path / 'gone.tif'), output_dir='/o'))


def test_the_client_imports_neither_torch_nor_gdal() -> None:
    code = (
        'import sys, torchgeo_cstf.jobs, torchgeo_cstf.jobs.watch; '
        'print(sorted(m for m in ("torch", "rasterio", "fiona") if m in sys.modules))'
    )
    out = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == '[]'
