import kornia.feature as KF
import numpy as np
import pytest
import torch
from kornia.geometry.subpix import ConvQuadInterp3d
from kornia.geometry.transform import ScalePyramid

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.models import DoGKeypoints
from torchgeo_cstf.synthetic import synthesize_scene


def _blobs(size: int, blobs: list[tuple[float, float, float, float]]) -> torch.Tensor:
    """(1, 3, size, size) image of Gaussian blobs (x, y, sigma, amplitude) on grey."""
    y, x = torch.meshgrid(
        torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing='ij'
    )
    image = torch.full((size, size), 0.5)
    for cx, cy, sigma, amplitude in blobs:
        image += amplitude * torch.exp(
            -((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2)
        )
    return image.expand(1, 3, size, size)


def test_blobs_are_found_at_their_subpixel_centres() -> None:
    # bright and dark blobs at three octaves' scales
    blobs = [
        (60.3, 70.7, 3.0, 0.5),
        (180.6, 90.2, 6.0, -0.5),
        (120.0, 200.4, 10.0, 0.5),
    ]
    xy, response = DoGKeypoints(8)(_blobs(256, blobs))
    assert (response[0] > 0).sum() == 3  # nothing else in the image
    assert torch.all(response[0, :-1] >= response[0, 1:])
    found = xy[0, :3]
    for cx, cy, _, _ in blobs:
        assert torch.linalg.norm(found - torch.tensor([cx, cy]), dim=1).min() < 0.1


def test_upsampled_octave_finds_fine_blobs_in_image_coordinates() -> None:
    image = _blobs(128, [(40.3, 70.8, 1.5, 0.5)])
    _, coarse = DoGKeypoints(4)(image)
    assert coarse.max() == 0  # below the first octave's scales
    xy, response = DoGKeypoints(4, upsample=True)(image)
    assert response[0, 0] > 0 and response[0, 1:].max() == 0
    assert torch.allclose(xy[0, 0], torch.tensor([40.3, 70.8]), atol=0.1)


def test_edges_are_rejected() -> None:
    y = (torch.arange(128) + 0.5)[:, None].expand(128, 128)
    ridge = 0.5 + 0.5 * torch.exp(-((y - 64.0) ** 2) / (2 * 3.0**2))
    xy, response = DoGKeypoints(32)(ridge.expand(1, 1, 128, 128).clone())
    # a straight ridge has extrema all along it, but each fails the edge test
    assert response.max() == 0, xy[response > 0]


def test_batch_equals_single_images_and_flat_images_pad() -> None:
    scenes = [synthesize_scene((160, 192), seed=s).image for s in (1, 2)]
    batch = torch.from_numpy(np.stack(scenes)).float() / 255
    detector = DoGKeypoints(48)
    xy, response = detector(batch)
    for i in range(2):
        one_xy, one_response = detector(batch[i : i + 1])
        torch.testing.assert_close(one_xy[0], xy[i])
        torch.testing.assert_close(one_response[0], response[i])
    assert (xy[..., 0] <= 192).all() and (xy[..., 1] <= 160).all()
    flat_xy, flat = detector(torch.full((1, 1, 64, 64), 0.3))
    assert flat.shape == (1, 48) and flat.max() == 0 and flat_xy.shape == (1, 48, 2)


def test_a_pair_in_one_pass_equals_two_calls() -> None:
    detector = DoGKeypoints(32)
    optical = torch.from_numpy(synthesize_scene((128, 128), seed=3).image)
    reference = optical.float().div(255).expand(2, -1, -1, -1)
    query = 1 - reference[:, :1].flip(-1)  # one band, inverted and mirrored
    joint = detector.detect_pair(reference, query)
    separate = (*detector(reference), *detector(query))
    assert joint[1].gt(0).sum() > 32 and joint[3].gt(0).sum() > 32
    for a, b in zip(joint, separate, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    smaller = query[..., :96, :96]
    ref_xy, _, query_xy, _ = detector.detect_pair(reference, smaller)
    torch.testing.assert_close(query_xy, detector(smaller)[0])
    assert ref_xy.shape == query_xy.shape == (2, 32, 2)


def test_agrees_with_kornias_scale_space_detector() -> None:
    image = torch.from_numpy(synthesize_scene((256, 256), seed=3).image)[None] / 255
    kornia = KF.ScaleSpaceDetector(
        num_features=128,
        resp_module=KF.BlobDoG(),
        subpix_module=ConvQuadInterp3d(10),
        scale_pyr_module=ScalePyramid(3, 1.6, 32, double_image=False),
        ori_module=KF.PassLAF(),
        aff_module=KF.PassLAF(),
        minima_are_also_good=True,
        scale_space_response=True,
    )
    lafs, _ = kornia(image.float().mean(dim=1, keepdim=True))
    theirs = lafs[0, :, :, 2] + 0.5  # kornia puts pixel centres on integers
    ours, response = DoGKeypoints(64)(image)
    assert (response > 0).all()
    distance = torch.cdist(ours[0].double(), theirs.double()).min(dim=1).values
    # same scale space; the edge test and the sub-pixel fit differ a little
    assert (distance < 1.0).float().mean() > 0.7


def test_bad_arguments() -> None:
    for kwargs in ({'num_keypoints': 0}, {'levels': 0}, {'border': 0}):
        with pytest.raises(InputError, match=next(iter(kwargs))):
            DoGKeypoints(**kwargs)  # type: ignore[arg-type]
