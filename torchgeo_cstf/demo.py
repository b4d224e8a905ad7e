"""The demo: co-register a new synthetic acquisition and detect its objects.

Everything is embedded: the acquisitions are generated (with exact truth), the
models are the weights shipped in the package, nothing is downloaded and no
GPU or Redis is needed. :func:`run_demo` is what ``cstf demo`` runs.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .datasets.synthetic import PairTruth, generate_pair
from .datasets.synthetic.warps import apply_homography
from .inference.coregister import coregister
from .inference.coregistration_files import write_coregistration
from .inference.detectors import resolve_detector
from .inference.outputs import write_detections, write_quicklook
from .inference.scene import detect_scene
from .io.atomic import write_json
from .metrics import OrientedMeanAveragePrecision

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


@dataclass
class DemoSummary:
    """What the demo found and how well.

    Attributes:
        objects_true: objects in the new acquisition (generator truth).
        objects_found: objects detected at the detector's operating threshold
            (those written to ``detections.gpkg``).
        map07: VOC07 mAP at IoU 0.5 against the truth (over all detections
            scoring at least 0.05, as mAP is computed).
        ap_per_class: AP07 of each class.
        matches: matches found by co-registration.
        inliers: matches consistent with the fitted transform.
        registration_rmse_px: RMSE between the fitted and the true transform
            over the reference grid, in query pixels.
        registration_rmse_m: the same in metres.
        georeference_error_px: the same for the query's own (approximate)
            georeference, before co-registration.
        seconds: wall time of the whole demo.
        seconds_per_step: wall time of each step.
        outputs: output name → path.
    """

    objects_true: int
    objects_found: int
    map07: float
    ap_per_class: dict[str, float]
    matches: int
    inliers: int
    registration_rmse_px: float
    registration_rmse_m: float
    georeference_error_px: float
    seconds: float
    seconds_per_step: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """A human-readable summary."""
        per_class = ', '.join(f'{k} {v:.3f}' for k, v in self.ap_per_class.items())
        steps = ', '.join(f'{k} {v:.1f} s' for k, v in self.seconds_per_step.items())
        return [
            f'objects: {self.objects_found} found, {self.objects_true} in the truth',
            f'mAP07 (IoU 0.5): {self.map07:.3f} ({per_class})',
            (
                f'co-registration: {self.inliers}/{self.matches} matches '
                f'consistent, RMSE {self.registration_rmse_px:.2f} px '
                f'({self.registration_rmse_m:.2f} m) vs '
                f'{self.georeference_error_px:.2f} px for the raw georeference'
            ),
            f'time: {self.seconds:.1f} s ({steps})',
            *(f'  {name}: {path}' for name, path in self.outputs.items()),
        ]


def _grid_rmse(
    estimated: np.ndarray[Any, Any], truth: PairTruth, height: int, width: int
) -> float:
    """RMSE (query pixels) of a transform against the true warp on a reference grid.

    Only grid points whose true image lies inside the query count.
    """
    cols, rows = np.meshgrid(np.linspace(0, width, 33), np.linspace(0, height, 33))
    points = np.stack((cols.ravel(), rows.ravel()), axis=1)
    true_xy = truth.reference_to_query(points)
    inside = (
        (true_xy[:, 0] >= 0)
        & (true_xy[:, 1] >= 0)
        & (true_xy[:, 0] <= truth.query.width)
        & (true_xy[:, 1] <= truth.query.height)
    )
    estimate_xy = apply_homography(estimated, points)
    error = np.linalg.norm(estimate_xy - true_xy, axis=1)[inside]
    return float(np.sqrt(np.mean(error**2))) if error.size else float('nan')


def _georeference_matrix(truth: PairTruth, out: Path) -> np.ndarray[Any, Any]:
    """Reference → query pixel map implied by the two GeoTIFF headers alone."""
    import rasterio

    with (
        rasterio.open(out / 'reference.tif') as ref,
        rasterio.open(out / 'query.tif') as qry,
    ):
        ref_t = np.array(ref.transform).reshape(3, 3)
        qry_t = np.array(qry.transform).reshape(3, 3)
    matrix: np.ndarray[Any, Any] = np.linalg.inv(qry_t) @ ref_t
    return matrix


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
        score_threshold=EVALUATION_THRESHOLD,
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
    height, width = truth.reference.height, truth.reference.width
    rmse = (
        _grid_rmse(registration.transform.matrix, truth, height, width)
        if registration.transform is not None
        else float('nan')
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
        georeference_error_px=_grid_rmse(
            _georeference_matrix(truth, folder), truth, height, width
        ),
        seconds=time.perf_counter() - start,
        seconds_per_step=steps,
        outputs={name: str(path) for name, path in outputs.items()},
    )
    write_json(folder / 'summary.json', asdict(summary))
    return summary
