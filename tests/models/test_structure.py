import math

import numpy as np
import pytest
import torch

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.models.structure import (
    gaussian_blur,
    harmonic_basis,
    oriented_gradients,
)
from torchgeo_cstf.synthetic import synthesize_scene


def _scene(seed: int = 0, size: int = 128) -> torch.Tensor:
    image = synthesize_scene((size, size), seed=seed).image.astype(np.float32) / 255
    return torch.from_numpy(image)[None]


def test_vertical_edge_lights_the_horizontal_derivative() -> None:
    image = torch.zeros(1, 1, 32, 32)
    image[..., 16:] = 1.0  # a vertical edge: the gradient points along x
    channels = oriented_gradients(image, bins=4, sigma=1.0, pre_sigma=0.0)
    assert channels.shape == (1, 4, 32, 32)
    at_edge = channels[0, :, 16, 16]
    # bin 0 (0°) is the x derivative, bin 2 (90°) the y derivative (lit only
    # by the [1, 2, 1] smoothing across orientations: 0.35 / 0.85 of bin 0)
    assert int(at_edge.argmax()) == 0 and int(at_edge.argmin()) == 2
    assert abs(float(at_edge[2] / at_edge[0]) - 0.354 / 0.854) < 0.01
    assert torch.isclose(at_edge[1], at_edge[3], atol=1e-6)  # ±45° alike
    # per-pixel normalisation: no vector longer than 1; flat areas near 0
    assert channels.pow(2).sum(1).sqrt().max() <= 1 + 1e-5
    assert channels[0, :, 16, 2].abs().max() < 1e-3


def test_blind_to_contrast_inversion_gain_and_offset() -> None:
    image = _scene()
    base = oriented_gradients(image)
    for other in (1 - image, 0.3 * image + 0.5):
        torch.testing.assert_close(oriented_gradients(other), base, atol=1e-4, rtol=0)


def test_a_quarter_turn_moves_the_orientation_channels() -> None:
    image = _scene(1)
    turned = torch.rot90(image, 1, dims=(2, 3))
    base = oriented_gradients(image, bins=8)
    channels = oriented_gradients(turned, bins=8)
    # a 90° turn maps orientation θ to θ + 90° (mod 180°): 4 of 8 bins
    expected = torch.rot90(base.roll(4, dims=1), 1, dims=(2, 3))
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    torch.testing.assert_close(channels[inner], expected[inner], atol=2e-3, rtol=0)


def test_gaussian_blur_and_errors() -> None:
    impulse = torch.zeros(1, 1, 21, 21)
    impulse[..., 10, 10] = 1.0
    blurred = gaussian_blur(impulse, 2.0)
    assert math.isclose(float(blurred.sum()), 1.0, rel_tol=1e-5)
    _, xs = torch.meshgrid(torch.arange(21.0), torch.arange(21.0), indexing='ij')
    variance = float((blurred[0, 0] * (xs - 10) ** 2).sum())
    assert abs(variance - 4.0) < 0.05
    with pytest.raises(InputError, match='image'):
        oriented_gradients(torch.zeros(3, 8, 8))
    with pytest.raises(InputError, match='bins'):
        oriented_gradients(torch.zeros(1, 1, 8, 8), bins=1)


@pytest.mark.parametrize(
    'shape', [(2, 9, 40, 56), (1, 1, 3, 30), (1, 2, 50, 5)], ids=str
)
def test_opencv_and_pytorch_blurs_agree(shape: tuple[int, int, int, int]) -> None:
    # outside autograd on the CPU OpenCV filters; with a gradient PyTorch does
    image = torch.rand(
        shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    fast = gaussian_blur(image, 2.0)
    traced = gaussian_blur(image.clone().requires_grad_(True), 2.0)
    assert traced.requires_grad and not fast.requires_grad
    assert fast.shape == image.shape and fast.dtype == image.dtype
    torch.testing.assert_close(fast, traced.detach(), rtol=0, atol=1e-12)
    traced.sum().backward()  # the differentiable path stays differentiable


def _project(channels: torch.Tensor, order: int) -> torch.Tensor:
    basis = harmonic_basis(channels.shape[1], order)
    return torch.einsum('mc,bchw->bmhw', basis, channels)


def test_orientation_harmonics_keep_what_correlation_sees() -> None:
    basis = harmonic_basis(9, 4)
    torch.testing.assert_close(basis @ basis.T, torch.eye(9), atol=1e-6, rtol=0)
    first = oriented_gradients(_scene(2))
    second = oriented_gradients(1 - _scene(3))
    # every harmonic: an orthonormal change of basis keeps inner products
    inner = (first * second).sum(1)
    full = (_project(first, 4) * _project(second, 4)).sum(1)
    torch.testing.assert_close(full, inner, atol=1e-5, rtol=0)
    # harmonics 0-2 (5 components) carry almost all of the zero-mean energy
    centred = first - first.mean(dim=(2, 3), keepdim=True)
    energy = centred.pow(2).sum()
    kept = {k: float(_project(centred, k).pow(2).sum() / energy) for k in (0, 1, 2)}
    assert kept[2] > 0.999 and kept[1] > 0.98 and kept[0] < 0.9


def test_harmonics_are_projected_before_smoothing() -> None:
    # projecting right after rectification, then smoothing each harmonic by its
    # own factor and blurring the few components, gives the projection of the
    # smoothed bins: exactly with every harmonic, up to the norm otherwise
    image = _scene(4)
    bins = oriented_gradients(image)
    every = oriented_gradients(image, harmonics=4)
    torch.testing.assert_close(every, _project(bins, 4), atol=2e-6, rtol=0)
    five = oriented_gradients(image, harmonics=2)
    assert five.shape == (1, 5, 128, 128)
    assert five.pow(2).sum(1).max() <= 1 + 1e-6
    torch.testing.assert_close(five, _project(bins, 2), atol=2e-3, rtol=0)
    # the first harmonic is the orientation: a quarter turn (4 of 8 bins) flips it
    base = oriented_gradients(image, bins=8, harmonics=1)
    turned = oriented_gradients(torch.rot90(image, 1, dims=(2, 3)), bins=8, harmonics=1)
    sign = torch.tensor([1.0, -1, -1]).reshape(1, 3, 1, 1)
    expected = torch.rot90(base, 1, dims=(2, 3)) * sign
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    torch.testing.assert_close(turned[inner], expected[inner], atol=2e-3, rtol=0)


def test_orientation_harmonics_errors() -> None:
    with pytest.raises(InputError, match=r'harmonics.*\[0, 4\] for 9 bins, got 5'):
        harmonic_basis(9, 5)
    with pytest.raises(InputError, match='harmonics'):
        harmonic_basis(9, -1)
    with pytest.raises(InputError, match=r'harmonics.*\[0, 3\] for 8 bins, got 4'):
        oriented_gradients(torch.zeros(1, 1, 8, 8), bins=8, harmonics=4)
