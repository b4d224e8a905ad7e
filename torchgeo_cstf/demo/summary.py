"""What the demo found, and how well (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
