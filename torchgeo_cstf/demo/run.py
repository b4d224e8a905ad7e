"""The demo's steps: generate a pair, co-register, detect, score."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..inference.coregister import coregister
from ..inference.coregistration_files import write_coregistration
from ..inference.detectors import resolve_detector
from ..inference.outputs import write_detections, write_quicklook
from ..inference.scene import detect_scene
from ..io.atomic import write_json
from ..io.coords import pixel_map
from ..metrics import OrientedMeanAveragePrecision, registration_rmse
from ..options import TilingOptions
from ..synthetic import generate_pair
from .summary import DemoSummary

#: the demo's detector (weights shipped in the package)
DEMO_DETECTOR = 'cstf_detector_regnetx_002'
#: score threshold of the detections mAP is computed on (VOC practice)
EVALUATION_THRESHOLD = 0.05
#: the demo scene's side: 2048² px hold ~180 objects, enough for a stable mAP
DEFAULT_SIZE = 2048
#: the demo scene's generator seed
DEFAULT_SEED = 7
#: the demo's matcher weights (shipped in the package)
DEMO_MATCHER = 'cstf_matcher_regnetx_004'


def run_demo(
    out: str | os.PathLike[str] = 'cstf-demo',
    *,
    size: int = DEFAULT_SIZE,
    seed: int = DEFAULT_SEED,
    device: str = 'cpu',
    progress: bool = True,
) -> DemoSummary:
    """Run the demo and write its outputs into ``out``.

    1. Generate a reference acquisition and a later query of the same ground
       (optical, objects moved/added/removed, a similarity warp of up to 10°
       and ±10 % scale, and a query georeference off by 8 pixels), with exact
       truth (``truth.json``).
    2. Co-register the query onto the reference with the CSTF matcher:
       ``tie_points.gpkg``, ``query_on_reference.tif`` (a Cloud-Optimized
       GeoTIFF on the reference grid), ``matches.png``.
    3. Detect ships, planes and vehicles in the query with the CSTF detector:
       ``detections.gpkg`` (one polygon per object, in the query's CRS) and
       ``detections.png``.
    4. Score against the truth and write ``summary.json``.

    Args:
        out: output directory (created; files in it are replaced).
        size: side of the acquisitions in pixels.
        seed: generator seed.
        device: where the models run.
        progress: show progress bars on stderr.

    Returns:
        The summary (also in ``summary.json``).
    """
    start = time.perf_counter()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    steps: dict[str, float] = {}

    tick = time.perf_counter()
    truth = generate_pair(
        folder / 'reference.tif',
        folder / 'query.tif',
        seed,
        size=(size, size),
        modality='optical',
        reference_modality='optical',
        warp='similarity',
        scale=(0.9, 1.1),
        rotation=(-10.0, 10.0),
        georef_error=8.0,
        truth_path=folder / 'truth.json',
    )
    steps['generate'] = time.perf_counter() - tick

    tick = time.perf_counter()
    registration = coregister(
        folder / 'reference.tif',
        folder / 'query.tif',
        DEMO_MATCHER,
        device=device,
        progress=progress,
    )
    files = write_coregistration(
        registration,
        folder,
        truth=truth.warp_matrix(),
        title='CSTF matches (green: within 3 px of the truth)',
    )
    outputs = {'tie points': files.tie_points}
    if files.warped is not None:
        outputs['query on the reference grid (COG)'] = files.warped
    outputs['matches (PNG)'] = files.matches
    outputs['co-registration report'] = files.report
    steps['co-register'] = time.perf_counter() - tick

    tick = time.perf_counter()
    detector = resolve_detector(DEMO_DETECTOR)
    # all detections for mAP (low threshold); the confident ones are the objects
    scored = detect_scene(
        folder / 'query.tif',
        detector,
        TilingOptions(score_threshold=EVALUATION_THRESHOLD),
        device=device,
        progress=progress,
    )
    found = scored.above(detector.score_threshold)
    write_detections(found, folder / 'detections.gpkg')
    write_quicklook(found, folder / 'detections.png')
    outputs['detections'] = folder / 'detections.gpkg'
    outputs['detections (PNG)'] = folder / 'detections.png'
    steps['detect'] = time.perf_counter() - tick

    metric = OrientedMeanAveragePrecision(class_names=scored.class_names)
    metric.update(
        [{'boxes': scored.boxes, 'scores': scored.scores, 'labels': scored.labels}],
        [
            {
                'boxes': torch.from_numpy(truth.query.boxes()).double(),
                'labels': torch.from_numpy(truth.query.labels()),
            }
        ],
    )
    scores = metric.compute()
    reference_xy, query_xy = truth.check_points()
    rmse = (
        registration_rmse(registration.transform.matrix, reference_xy, query_xy)
        if registration.transform is not None
        else float('nan')
    )
    georeference = np.vstack(
        (
            pixel_map(
                (registration.reference.transform, registration.reference.crs),
                (registration.query.transform, registration.query.crs),
                registration.reference.width,
                registration.reference.height,
            ),
            (0.0, 0.0, 1.0),
        )
    )
    summary = DemoSummary(
        objects_true=len(truth.query.objects),
        objects_found=len(found),
        map07=float(scores['map']),
        ap_per_class={name: float(scores[f'map_{name}']) for name in found.class_names},
        matches=len(registration.matches.confidence),
        inliers=registration.inliers,
        registration_rmse_px=rmse,
        registration_rmse_m=rmse * float(np.mean(registration.query.resolution)),
        georeference_error_px=registration_rmse(georeference, reference_xy, query_xy),
        seconds=time.perf_counter() - start,
        seconds_per_step=steps,
        outputs={name: str(path) for name, path in outputs.items()},
    )
    write_json(folder / 'summary.json', asdict(summary))
    return summary
