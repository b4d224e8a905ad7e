"""Lightning datamodules (TorchGeo style) and oriented-box batch augmentation."""

from .augmentation import (
    RotatedBoxAugmentation,
    collate_rotated_detection,
    detection_augmentation,
    letterbox,
    visible_share,
)
from .dota import DOTADataModule
from .hit_uav import HITUAVDataModule
from .hrsc2016 import HRSC2016DataModule
from .pairs import CrossModalPairsDataModule, PairedRastersDataModule
from .synthetic import SyntheticScenesDataModule

__all__ = (
    'CrossModalPairsDataModule',
    'DOTADataModule',
    'HITUAVDataModule',
    'HRSC2016DataModule',
    'PairedRastersDataModule',
    'RotatedBoxAugmentation',
    'SyntheticScenesDataModule',
    'collate_rotated_detection',
    'detection_augmentation',
    'letterbox',
    'visible_share',
)
