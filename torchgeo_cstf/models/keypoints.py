"""Scale-invariant keypoints from a difference-of-Gaussians scale space (kornia)."""

from __future__ import annotations

import kornia.feature as KF
import torch
from kornia.geometry.subpix import ConvQuadInterp3d
from kornia.geometry.transform import ScalePyramid
from torch import Tensor, nn


class DoGKeypoints(nn.Module):
    """Detect the ``num_keypoints`` strongest DoG blobs (maxima and minima).

    No learned weights: the detector is the classic SIFT scale space (3 levels per
    octave, σ = 1.6, sub-pixel/sub-scale refinement), run on the mean of the bands.
    Reference and query are detected independently.

    SIFT upsamples the image ×2 before the first octave to find the finest blobs;
    that octave costs ~3× the rest together, and blobs of σ < 1.6 px are far finer
    than the matcher's stride-16 descriptors, so it is off by default
    (``upsample=True`` restores it).

    Args:
        num_keypoints: keypoints per image (the strongest responses).
        upsample: start the scale space from the image upsampled ×2.
    """

    def __init__(self, num_keypoints: int = 256, upsample: bool = False) -> None:
        """Initialise the detector; see the class docstring."""
        super().__init__()
        self.num_keypoints = num_keypoints
        self.detector = KF.ScaleSpaceDetector(
            num_features=num_keypoints,
            resp_module=KF.BlobDoG(),
            subpix_module=ConvQuadInterp3d(10),
            scale_pyr_module=ScalePyramid(3, 1.6, 32, double_image=upsample),
            ori_module=KF.PassLAF(),
            aff_module=KF.PassLAF(),
            minima_are_also_good=True,
            scale_space_response=True,
        )

    @torch.no_grad()
    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """Detect keypoints.

        Args:
            image: (B, C, H, W) in [0, 1].

        Returns:
            (B, K, 2) positions (x, y) in continuous pixel coordinates and (B, K)
            absolute responses; when an image holds fewer than K blobs, the
            remaining keypoints are padding with a response of 0.
        """
        grey = image.float().mean(dim=1, keepdim=True)
        lafs, responses = self.detector(grey)
        # kornia puts pixel centres on integers; ours are at +0.5
        xy = lafs[..., :, 2] + 0.5
        xy[..., 0] = xy[..., 0].clamp(0.0, float(image.shape[-1]))
        xy[..., 1] = xy[..., 1].clamp(0.0, float(image.shape[-2]))
        return xy, responses.abs()
