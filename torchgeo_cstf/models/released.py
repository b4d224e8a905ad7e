"""Weights released with the package (trained on synthetic data, stored in fp16).

The files live in ``torchgeo_cstf/models/released/`` and are installed with the
package, so nothing is downloaded. Each member's ``meta`` records the config
that reproduces it, the constructor arguments, the class names and the
validation figures of the run that made it.
"""

from __future__ import annotations

from torch import Tensor, nn
from torchvision.models._api import Weights, WeightsEnum

from .registry import register_weights


class ScaleTo01(nn.Module):
    """Divide digital numbers by their maximum (the training normalisation)."""

    def __init__(self, maximum: float) -> None:
        """Initialise with the largest digital number (255 for uint8)."""
        super().__init__()
        self.maximum = maximum

    def forward(self, image: Tensor) -> Tensor:
        """Images scaled to [0, 1]."""
        return image / self.maximum


class CSTFDetectorRegNetX002_Weights(WeightsEnum):  # type: ignore[misc]
    """Weights of ``cstf_detector_regnetx_002``.

    ``SYNTHETIC``: trained by ``configs/demo_detector.yaml`` then fine-tuned by
    ``configs/demo_detector_finetune.yaml`` on synthetic optical uint8 scenes
    (ship, plane, vehicle); the demo's detector.
    """

    SYNTHETIC = Weights(
        url='package:models/released/cstf_detector_regnetx_002_synthetic.pth',
        transforms=ScaleTo01(255.0),
        meta={
            'sha256': '9172c60bcb2a8219f2bec196090c0af31b09e244106f318a46bad27552d58aa1',
            'config': 'configs/demo_detector_finetune.yaml',
            'model_kwargs': {'in_channels': 3, 'num_classes': 3, 'channels': 96},
            'classes': ['ship', 'plane', 'vehicle'],
            # the runs that made the file: stage 1, 1425 steps in 60 min on 2
            # CPU cores (stopped by max_time, val_map07 0.698); stage 2, 750
            # steps in 20 min; val split, 32 scenes of 256²
            'metrics': {'val_map07': 0.748, 'val_map_area': 0.752},
            # operating threshold: precision 0.90, recall 0.90 on a held-out
            # 1024² scene (0.05 keeps the low scores mAP needs)
            'score_threshold': 0.4,
            # per-band 2nd/98th percentiles of the training images (÷ 255),
            # where scenes of other types are stretched to (benchmarks/
            # stretch_targets.py)
            'stretch': {'low': (0.027, 0.056, 0.058), 'high': (0.735, 0.607, 0.586)},
        },
    )


class CSTFMatcherRegNetX004_Weights(WeightsEnum):  # type: ignore[misc]
    """Weights of ``cstf_matcher_regnetx_004``.

    ``SYNTHETIC``: trained by ``configs/matching_synthetic.yaml`` on synthetic
    optical → SAR-like / thermal-like / optical pairs (rotation within ±30°,
    scale 0.7–1.4); the demo's matcher. The reference has 3 bands, the query 1
    (other band counts are adapted by :func:`~torchgeo_cstf.inference.fit_bands`).
    """

    SYNTHETIC = Weights(
        url='package:models/released/cstf_matcher_regnetx_004_synthetic.pth',
        transforms=nn.Identity(),
        meta={
            'sha256': '33084359c07cdf9672d5a7e63976e1827a53d5eadfecc2383d2839d2e51400bb',
            'config': 'configs/matching_synthetic.yaml',
            'model_kwargs': {
                'reference_channels': 3,
                'query_channels': 1,
                'num_keypoints': 256,
            },
            # the run that made the file: 1100 steps in 23 min on 2 CPU cores;
            # last validation (step 1000, val split, 32 pairs)
            'metrics': {'val_mma3': 0.346, 'val_mma5': 0.526, 'val_auc10': 0.429},
        },
    )


register_weights('cstf_detector_regnetx_002', CSTFDetectorRegNetX002_Weights)
register_weights('cstf_matcher_regnetx_004', CSTFMatcherRegNetX004_Weights)
