"""Run jobs: parse nothing, know nothing of Celery; compute and write outputs.

The functions are named after the work (``detect_scene_job``,
``coregister_job``, …), the Celery tasks of :mod:`workers.tasks` after the
message (``cstf.detect``, ``cstf.match``, …).

Each function takes a checked job spec, its id and a ``report`` callback
``report(stage, done, total)`` (which raises
:class:`~torchgeo_cstf.errors.JobCancelledError` when the job was cancelled),
writes the outputs through :func:`~workers.outputs.staged` and returns the
result manifest.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchgeo_cstf.errors import NoTransformError
from torchgeo_cstf.inference import (
    SceneDetections,
    detect_tiles,
    merge_detections,
    write_detections,
    write_quicklook,
    write_thumbnail,
)
from torchgeo_cstf.inference.coregister import coregister
from torchgeo_cstf.inference.coregistration_files import write_coregistration
from torchgeo_cstf.io.raster import RasterInfo, read_raster_info
from torchgeo_cstf.jobs import DetectionJob, Manifest, MatchingJob, PipelineJob
from torchgeo_cstf.jobs.spec import absolute_input, input_path, local_path
from torchgeo_cstf.stac import ITEM, result_item, write_item

from . import runtime
from .metrics import TILES
from .outputs import MANIFEST, staged, work_dir, write_manifest

Report = Callable[[str, int, int], None]


def job_dir(output_dir: str, job_id: str) -> Path:
    """The directory a job's outputs end up in."""
    return local_path(output_dir).resolve() / job_id


def _detect(
    job: DetectionJob, report: Report, tiles: Sequence[int] | None = None
) -> SceneDetections:
    params = job.parameters
    found = detect_tiles(
        input_path(job.scene),
        runtime.detector(params.detector),
        params.tiling,
        tiles=tiles,
        device=runtime.device(),
        reference=None if job.reference is None else input_path(job.reference),
        acquisition_id=params.acquisition_id or Path(job.scene).stem,
        on_tiles=lambda done, total: report('detect', done, total),
    )
    TILES.inc(found.timings.tiles - found.timings.skipped)
    return found


def detect_scene_job(job: DetectionJob, job_id: str, report: Report) -> Manifest:
    """Detect objects in the whole scene in this process."""
    return write_detection_outputs(
        job, job_id, merge_detections([_detect(job, report)])
    )


def detect_chunk_job(
    job: DetectionJob, job_id: str, chunk: int, tiles: Sequence[int], report: Report
) -> Manifest:
    """Detect objects in some tiles; the boxes go to a part file merged later.

    Returns:
        The chunk's manifest: the part file as output ``part``; the chunk's
        index, object count and detection record as its summary.
    """
    found = _detect(job, report, tiles)
    parts = work_dir(job_dir(job.output_dir, job_id), 'parts')
    parts.mkdir(parents=True, exist_ok=True)
    path = parts / f'chunk-{chunk:05d}.npz'
    temporary = path.with_suffix('.tmp.npz')
    np.savez(
        temporary,
        boxes=found.boxes.numpy(),
        scores=found.scores.numpy(),
        labels=found.labels.numpy(),
    )
    temporary.replace(path)
    return Manifest.succeeded(
        job_id,
        job.result_kind,
        outputs={'part': str(path)},
        summary={'chunk': chunk, 'objects': len(found), **found.to_dict()},
    )


def write_merged_chunks(
    job: DetectionJob, job_id: str, chunks: Sequence[Manifest]
) -> Manifest:
    """Merge the parts of a chunked detection into one output (cross-tile NMS)."""
    info = read_raster_info(input_path(job.scene))
    parts = []
    for chunk in sorted(chunks, key=lambda c: int(c.summary['chunk'])):
        with np.load(chunk.outputs['part']) as arrays:
            boxes, scores, labels = (
                torch.from_numpy(arrays[k]) for k in ('boxes', 'scores', 'labels')
            )
        parts.append(
            SceneDetections.from_dict(
                chunk.summary, boxes=boxes, scores=scores, labels=labels, info=info
            )
        )
    result = write_detection_outputs(job, job_id, merge_detections(parts))
    discard_chunks(job, job_id)
    return result


def discard_chunks(job: DetectionJob, job_id: str) -> None:
    """Remove the part files of a chunked job (merged, or failed)."""
    shutil.rmtree(work_dir(job_dir(job.output_dir, job_id), 'parts'), True)


def write_detection_outputs(
    job: DetectionJob, job_id: str, found: SceneDetections
) -> Manifest:
    """Write detections (+ quicklook, + a pipeline's co-registration) once."""
    params = job.parameters
    final = job_dir(job.output_dir, job_id)
    outputs: dict[str, str] = {}
    timings, provenance = found.timings, found.provenance
    summary: dict[str, Any] = {
        'objects': len(found),
        'counts': found.counts(),
        'tiles': timings.tiles,
        'skipped_tiles': timings.skipped,
        'seconds': round(timings.seconds, 3),
        'model_seconds': round(timings.model_seconds, 3),
        'load_seconds': round(timings.load_seconds, 3),
        'model': provenance.model_name,
        'model_version': provenance.model_version,
        'weights_sha256': provenance.weights_sha256,
        'domain_warnings': list(provenance.domain_warnings),
    }
    coregistration = work_dir(final, 'coreg')
    with staged(final) as directory:
        name = f'detections.{params.format}'
        write_detections(found, directory / name, crs=params.crs)
        outputs['detections'] = str(final / name)
        if params.quicklook:  # reads the scene: before a pipeline's files move
            write_quicklook(found, directory / 'quicklook.png')
            write_thumbnail(directory / 'quicklook.png', directory / 'thumbnail.png')
            outputs['quicklook'] = str(final / 'quicklook.png')
            outputs['thumbnail'] = str(final / 'thumbnail.png')
        if job.pipeline_id is not None:
            summary['coregistration'] = json.loads(
                (coregistration / 'report.json').read_text()
            )
            for item in sorted(coregistration.iterdir()):
                shutil.move(item, directory / item.name)
                outputs[item.stem] = str(final / item.name)
        properties = {
            'cstf:objects': len(found),
            'cstf:counts': found.counts(),
            'cstf:model': provenance.model_name,
            'cstf:model_version': provenance.model_version,
            'cstf:weights_sha256': provenance.weights_sha256,
            **_registration_properties(summary.get('coregistration')),
        }
        sources = [job.scene] + ([job.reference] if job.reference else [])
        outputs['stac_item'] = str(final / ITEM)
        _write_stac_item(
            job_id, job, found.info, directory, outputs, sources, properties
        )
        result = Manifest.succeeded(
            job_id, job.result_kind, outputs=outputs, summary=summary
        )
        write_manifest(directory, result)
    if coregistration.exists():
        shutil.rmtree(coregistration, ignore_errors=True)
    return result


def _registration_properties(report: dict[str, Any] | None) -> dict[str, Any]:
    """STAC summary properties of a co-registration report (finite figures only)."""
    if not report:
        return {}
    found = {
        'cstf:matches': report.get('matches'),
        'cstf:inliers': report.get('inliers'),
        'cstf:registration_rmse_px': report.get('rmse_px'),
    }
    figures = {
        key: value
        for key, value in found.items()
        if isinstance(value, int | float) and math.isfinite(value)
    }
    models = {
        'cstf:registration_method': report.get('method'),
        'cstf:matcher': report.get('matcher'),
        'cstf:matcher_sha256': report.get('matcher_sha256'),
    }
    return figures | {key: value for key, value in models.items() if value}


def _write_stac_item(
    job_id: str,
    job: DetectionJob | MatchingJob,
    info: RasterInfo,
    directory: Path,
    outputs: dict[str, str],
    sources: list[str],
    properties: dict[str, Any],
) -> None:
    """Write the job's STAC Item (``item.json``) into its staged directory."""
    files = {name: path for name, path in outputs.items() if name != 'stac_item'}
    files['manifest'] = str(directory / MANIFEST)
    item = result_item(
        job_id,
        job.result_kind,
        info,
        files,
        sources=[absolute_input(uri) for uri in sources],
        properties=properties,
        source_item=job.source_item,
    )
    write_item(item, directory)


def _coregister(
    job: MatchingJob | PipelineJob, report: Report, directory: Path
) -> tuple[dict[str, Any], NoTransformError | None]:
    """Co-register and write the outputs.

    They are written in every case: without a transform, they show why.

    Returns:
        The report (with the matcher's provenance) and, when no consistent
        transform was found, the error that says so.
    """
    report('coregister', 0, 2)
    learned = job.registration.method != 'dense'
    result = coregister(
        input_path(job.reference),
        input_path(job.query),
        runtime.matcher(job.matcher) if learned else job.matcher,
        job.registration,
        device=runtime.device(),
    )
    report('coregister', 1, 2)
    models = (
        {'matcher': job.matcher, 'matcher_sha256': runtime.matcher_sha256(job.matcher)}
        if learned
        else {}
    )
    write_coregistration(result, directory, provenance=models)
    report('coregister', 2, 2)
    if result.transform is not None:
        return result.report() | models, None
    return result.report() | models, NoTransformError(
        job.query,
        f'{len(result.matches.confidence)} matches with {job.reference} but '
        f'no consistent {job.registration.transform}',
    )


def coregister_job(job: MatchingJob, job_id: str, report: Report) -> Manifest:
    """Co-register the query onto the reference; tie points, COG, plot, report.

    Without a consistent transform the job fails (``NO_TRANSFORM``) but keeps
    its tie points, matches plot and report, which show why.
    """
    final = job_dir(job.output_dir, job_id)
    with staged(final) as directory:
        summary, failure = _coregister(job, report, directory)
        outputs = {
            path.stem: str(final / path.name) for path in sorted(directory.iterdir())
        }
        if failure is not None:
            result = Manifest.failed(
                job_id,
                job.result_kind,
                failure.code,
                str(failure),
                outputs=outputs,
                summary=summary,
            )
        else:
            outputs['stac_item'] = str(final / ITEM)
            _write_stac_item(
                job_id,
                job,
                read_raster_info(input_path(job.reference)),
                directory,
                outputs,
                [job.reference, job.query],
                _registration_properties(summary),
            )
            result = Manifest.succeeded(
                job_id, job.result_kind, outputs=outputs, summary=summary
            )
        write_manifest(directory, result)
    return result


def pipeline_first_stage(job: PipelineJob, job_id: str, report: Report) -> DetectionJob:
    """Co-register the new acquisition; returns the detection stage's job."""
    coregistration = work_dir(job_dir(job.output_dir, job_id), 'coreg')
    coregistration.mkdir(parents=True, exist_ok=True)
    try:
        _, failure = _coregister(job, report, coregistration)
        if failure is not None:
            raise failure
    except BaseException:
        # the stage's files feed detection only: a failed stage leaves none
        shutil.rmtree(coregistration, ignore_errors=True)
        raise
    return DetectionJob(
        scene=str(coregistration / 'query_on_reference.tif'),
        reference=job.reference,
        output_dir=job.output_dir,
        source_item=job.source_item,
        parameters=job.parameters.model_copy(
            update={
                'acquisition_id': job.parameters.acquisition_id or Path(job.query).stem
            }
        ),
        pipeline_id=job_id,
    )
