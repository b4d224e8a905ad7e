"""Weights released with the package (stored in fp16).

The files live in ``torchgeo_cstf/models/released/`` and are installed with the
package, so nothing is downloaded. Each member's ``meta`` records the config
that reproduces it, the constructor arguments, the class names and the
validation figures of the run that made it.
"""

from __future__ import annotations

from torch import Tensor, nn
from torchvision.models._api import Weights

from .domain import Domain
from .registry import register_weights
from .weights import PackagedWeightsEnum


class ScaleTo01(nn.Module):
    """Divide digital numbers by their maximum (the training normalisation)."""

    def __init__(self, maximum: float) -> None:
        """Initialise with the largest digital number (255 for uint8)."""
        super().__init__()
        self.maximum = maximum

    def forward(self, image: Tensor) -> Tensor:
        """Images scaled to [0, 1]."""
        return image / self.maximum


class CSTFDetectorRegNetX002_Weights(PackagedWeightsEnum):
    """Weights of ``cstf_detector_regnetx_002``.

    ``SYNTHETIC`` (the default): trained by ``configs/demo_detector.yaml`` then
    fine-tuned by ``configs/demo_detector_finetune.yaml`` on synthetic optical
    uint8 scenes (ship, plane, vehicle); the demo's detector.

    ``HIT_UAV``: fine-tuned from ``SYNTHETIC`` by ``configs/hit_uav_cstf.yaml``
    on the real thermal UAV images of HIT-UAV's train split (Person, Car,
    Bicycle, OtherVehicle); its one band is repeated to the trunk's three.
    """

    SYNTHETIC = Weights(
        url='package:models/released/cstf_detector_regnetx_002_synthetic.pth',
        transforms=ScaleTo01(255.0),
        meta={
            'sha256': '9172c60bcb2a8219f2bec196090c0af31b09e244106f318a46bad27552d58aa1',
            'config': 'configs/demo_detector_finetune.yaml',
            'domain': Domain(
                imagery='synthetic',
                sensor='optical RGB',
                platform='simulated aerial/satellite scenes',
                bands=3,
                dtype='uint8',
                gsd=(0.5, 0.5),
            ),
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

    HIT_UAV = Weights(
        url='package:models/released/cstf_detector_regnetx_002_hit_uav.pth',
        transforms=ScaleTo01(255.0),
        meta={
            'sha256': 'c097e708c43c94f69423a51809cb2c7b028c0bdad0db1237df7babcd411380a5',
            'config': 'configs/hit_uav_cstf.yaml',
            'domain': Domain(
                imagery='real',
                sensor='thermal infrared',
                platform='UAV, 60-130 m, camera 30-90 deg off the horizon',
                bands=1,
                dtype='uint8',
                gsd=(0.04, 0.17),
            ),
            'model_kwargs': {
                'in_channels': 3,
                'num_classes': 4,
                'channels': 96,
                # of best val mAP07 (benchmarks/real_detection.py, tuned_on_val)
                'nms_threshold': 0.5,
            },
            'classes': ['Person', 'Car', 'Bicycle', 'OtherVehicle'],
            # the run that made the file: fine-tuned from SYNTHETIC, 2196 steps
            # of 4 images in bf16-mixed (stopped by max_time at 80 min on one
            # CPU thread beside the Faster R-CNN peer); 100 val images
            'metrics': {'val_map07': 0.324, 'val_map_area': 0.316},
            # operating threshold: best F1 on the whole val split (precision
            # 0.50, recall 0.52 at IoU 0.5; 0.05 keeps the low scores mAP needs)
            'score_threshold': 0.4,
        },
    )


#: constructor arguments of every shipped matcher: a 3-band reference, a 1-band
#: query (other band counts are adapted by ``fit_bands``)
_MATCHER_KWARGS = {'reference_channels': 3, 'query_channels': 1, 'num_keypoints': 256}
#: what the matchers trained on real imagery saw
_REAL_MATCHER_DOMAIN = (
    'real optical references; real or simulated SAR, thermal, NIR and '
    'later-date queries; 1-10 m'
)


class CSTFMatcherRegNetX004_Weights(PackagedWeightsEnum):
    """Weights of ``cstf_matcher_regnetx_004``; the first member is the default.

    ``REAL_AND_SYNTHETIC`` (default of ``match``, ``coregister``, ``cstf
    match``, the demo and the workers): trained by
    ``configs/matching_real.yaml`` from a random initialisation (the config
    named ``SYNTHETIC``, which the task then ignored) on real imagery — real textures with
    simulated SAR-like, thermal-like and later-date views, and real
    Sentinel-1/2, visible–NIR and multi-date NAIP pairs — with as many pairs
    of the synthetic generator beside them (rotation within ±30°, scale
    0.7–1.4); band adapters read the oriented-gradient structure channels
    beside the bands.

    ``REAL``: the first run on real imagery (the same recipe without the
    synthetic pairs, from a random initialisation too, stopped at 800 steps);
    it scores below ``SYNTHETIC`` on synthetic renders.

    ``SYNTHETIC``: trained by ``configs/matching_synthetic.yaml`` on synthetic
    optical → SAR-like / thermal-like / optical pairs (rotation within ±30°,
    scale 0.7–1.4). The reference has 3 bands, the query 1 (other band counts
    are adapted by :func:`~torchgeo_cstf.inference.fit_bands`).
    """

    REAL_AND_SYNTHETIC = Weights(
        url='package:models/released/cstf_matcher_regnetx_004_real_and_synthetic.pth',
        transforms=nn.Identity(),
        meta={
            'sha256': '56c430de57da35d0ff4070af7dea64fc37a428c28f3db1978121128ab9261785',
            'config': 'configs/matching_real.yaml',
            'domain': f'{_REAL_MATCHER_DOMAIN}; synthetic renders',
            'model_kwargs': {**_MATCHER_KWARGS, 'structure': True},
            # the run that made the file: 3000 steps in 43 min on the 2-core
            # CPU VM (no GPU lent), half the pairs synthetic; validation at
            # step 2999 on the 32 real-texture val pairs (REAL's run: 0.275,
            # 0.371, 0.356 on the same pairs)
            'metrics': {'val_mma3': 0.435, 'val_mma5': 0.549, 'val_auc10': 0.544},
        },
    )
    REAL = Weights(
        url='package:models/released/cstf_matcher_regnetx_004_real.pth',
        transforms=nn.Identity(),
        meta={
            'sha256': '27b7d2adb6c7c241f1623daead156cc80343890f948b745bfdaa15e8c17b062d',
            'config': 'configs/matching_real.yaml',
            'domain': _REAL_MATCHER_DOMAIN,
            'model_kwargs': {**_MATCHER_KWARGS, 'structure': True},
            # the run that made the file: 800 steps (of 1200 planned, stopped by
            # max_time at 45 min) on 2 CPU cores shared with the test suite;
            # validation at step 799 on 32 real-texture val pairs
            'metrics': {'val_mma3': 0.275, 'val_mma5': 0.371, 'val_auc10': 0.356},
        },
    )
    SYNTHETIC = Weights(
        url='package:models/released/cstf_matcher_regnetx_004_synthetic.pth',
        transforms=nn.Identity(),
        meta={
            'sha256': '33084359c07cdf9672d5a7e63976e1827a53d5eadfecc2383d2839d2e51400bb',
            'config': 'configs/matching_synthetic.yaml',
            'domain': 'synthetic renders only (optical, SAR-like, thermal-like)',
            'model_kwargs': dict(_MATCHER_KWARGS),
            # the run that made the file: 1100 steps in 23 min on 2 CPU cores;
            # last validation (step 1000, val split, 32 pairs)
            'metrics': {'val_mma3': 0.346, 'val_mma5': 0.526, 'val_auc10': 0.429},
        },
    )


register_weights('cstf_detector_regnetx_002', CSTFDetectorRegNetX002_Weights)
register_weights('cstf_matcher_regnetx_004', CSTFMatcherRegNetX004_Weights)
