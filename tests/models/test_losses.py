import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.models.losses import box_gaussians, kld_loss, probiou, probiou_loss
from torchgeo_cstf.ops import rotated_box_iou_pairs


def test_gaussian_matches_the_rectangle() -> None:
    boxes = torch.tensor([[10.0, 20.0, 12.0, 4.0, 30.0]], dtype=torch.float64)
    mean, cov = box_gaussians(boxes)
    assert mean.tolist() == [[10.0, 20.0]]
    eigenvalues, eigenvectors = torch.linalg.eigh(cov[0])
    assert eigenvalues.tolist() == pytest.approx([4.0**2 / 12, 12.0**2 / 12])
    major = eigenvectors[:, 1]
    angle = math.degrees(math.atan2(-major[1], major[0]))
    assert (angle - 30.0 + 90) % 180 - 90 == pytest.approx(0.0, abs=1e-6)


def test_probiou_values() -> None:
    box = torch.tensor([[50.0, 50.0, 40.0, 10.0, 20.0]], dtype=torch.float64)
    assert probiou(box, box).item() == pytest.approx(1.0, abs=1e-3)
    # the same rectangle written differently: w/h swapped and angle ± 90, or ± 180
    same = torch.tensor([[50.0, 50.0, 10.0, 40.0, 110.0]], dtype=torch.float64)
    flipped = torch.tensor([[50.0, 50.0, 40.0, 10.0, -160.0]], dtype=torch.float64)
    assert probiou(box, same).item() == pytest.approx(1.0, abs=1e-3)
    assert probiou(box, flipped).item() == pytest.approx(1.0, abs=1e-3)
    far = box.clone()
    far[0, 0] += 500
    assert probiou(box, far).item() < 1e-3
    with pytest.raises(InputError, match='boxes2'):
        probiou(box, torch.zeros(2, 5))


def test_probiou_falls_as_boxes_part() -> None:
    """Like IoU: monotone in displacement and in angle difference."""
    base = torch.tensor([[0.0, 0.0, 40.0, 10.0, 0.0]], dtype=torch.float64).repeat(6, 1)
    shifted = base.clone()
    shifted[:, 0] = torch.tensor([0.0, 2, 5, 10, 20, 40])
    values = probiou(base, shifted)
    assert (values[1:] < values[:-1]).all()
    turned = base.clone()
    turned[:, 4] = torch.tensor([0.0, 5, 15, 30, 60, 90])
    angular = probiou(base, turned)
    assert (angular[1:] < angular[:-1]).all()
    exact = rotated_box_iou_pairs(base, turned)
    assert torch.corrcoef(torch.stack((angular, exact)))[0, 1] > 0.95


@settings(max_examples=40, deadline=None)
@given(
    st.floats(-50, 50),
    st.floats(-50, 50),
    st.floats(4, 80),
    st.floats(4, 80),
    st.floats(-180, 180),
)
def test_losses_are_finite_with_gradients(
    dx: float, dy: float, w: float, h: float, a: float
) -> None:
    target = torch.tensor([[100.0, 100.0, 30.0, 12.0, 15.0]], dtype=torch.float64)
    predicted = torch.tensor(
        [[100 + dx, 100 + dy, w, h, a]], dtype=torch.float64, requires_grad=True
    )
    for loss in (probiou_loss(predicted, target), kld_loss(predicted, target)):
        assert torch.isfinite(loss).all() and 0 <= loss.item() <= 1
        (grad,) = torch.autograd.grad(loss.sum(), predicted)
        assert torch.isfinite(grad).all()


def test_kld_is_zero_for_identical_boxes() -> None:
    box = torch.tensor([[5.0, 6.0, 20.0, 8.0, -40.0]], dtype=torch.float64)
    assert kld_loss(box, box).item() == pytest.approx(0.0, abs=1e-9)
    moved = box.clone()
    moved[0, 0] += 10
    assert kld_loss(moved, box).item() > 0.2


def test_box_gaussians_need_boxes() -> None:
    with pytest.raises(InputError, match=r'boxes: must have shape \(N, 5\)'):
        box_gaussians(torch.zeros(3, 4))
