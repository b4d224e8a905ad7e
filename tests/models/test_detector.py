import pytest
import torch

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.models.detector import CSTFDetector
from torchgeo_cstf.ops import canonicalize_cxcywhr, rotated_box_iou
from torchgeo_cstf.synthetic import synthesize_scene


def _scene(size: int = 128) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    scene = synthesize_scene((size, size), seed=4, num_objects=8, num_distractors=0)
    image = torch.from_numpy(scene.image.astype('float32') / 255.0)[None]
    boxes = torch.from_numpy(scene.truth.boxes()).float()
    labels = torch.from_numpy(scene.truth.labels())
    return image, [{'boxes': boxes, 'labels': labels}]


def test_outputs_and_errors() -> None:
    detector = CSTFDetector(num_classes=3, channels=64)
    outputs = detector(torch.rand(2, 3, 128, 96))
    assert [o['logits'].shape[-2:] for o in outputs] == [(16, 12), (8, 6), (4, 3)]
    temporal = detector(torch.rand(1, 3, 64, 64), reference=torch.rand(1, 3, 64, 64))
    assert temporal[0]['angle'].shape == (1, 1, 8, 8)
    with pytest.raises(InputError, match='multiples of 32'):
        detector(torch.rand(1, 3, 100, 96))
    with pytest.raises(InputError, match='num_classes'):
        CSTFDetector(num_classes=0)


def test_assignment_decodes_back_to_the_objects() -> None:
    detector = CSTFDetector(num_classes=3, channels=32)
    image, targets = _scene(256)
    outputs = detector(image)
    points, levels = detector._locations(outputs)
    assigned, sides, centres = detector.assign(points, levels, targets)
    positive = assigned[0] >= 0
    assert positive.sum() > 0
    boxes = canonicalize_cxcywhr(targets[0]['boxes'].double())
    truth = boxes[assigned[0][positive]]
    # the sides seen from a positive location rebuild the object's box, and
    # decode() turns the matching offset/log-size back into it
    rad = torch.deg2rad(truth[:, 4])
    left, top, right, bottom = sides[0][positive].double().unbind(-1)
    du, dv = (right - left) / 2, (bottom - top) / 2
    shift = torch.stack(
        (
            du * torch.cos(rad) + dv * torch.sin(rad),
            dv * torch.cos(rad) - du * torch.sin(rad),
        ),
        -1,
    )
    size = torch.stack((left + right, top + bottom), -1)
    stride = detector._strides(levels, points)[positive].double()
    raw = torch.cat((shift / stride[:, None], torch.log(size / stride[:, None])), -1)
    decoded = detector.decode(points[positive].double(), raw, rad, stride)
    torch.testing.assert_close(canonicalize_cxcywhr(decoded), truth, atol=1e-4, rtol=0)
    # every object gets locations, however thin
    assert set(assigned[0][positive].tolist()) == set(range(len(boxes)))
    assert ((centres[0][positive] > 0) & (centres[0][positive] <= 1)).all()


@pytest.mark.slow
def test_detector_learns_a_scene() -> None:
    torch.manual_seed(0)
    image, targets = _scene(128)
    detector = CSTFDetector(num_classes=3, channels=64, score_threshold=0.1)
    optimiser = torch.optim.AdamW(detector.parameters(), lr=2e-3)
    first = float(detector.loss(image, targets)['loss'])
    for _ in range(40):
        optimiser.zero_grad()
        losses = detector.loss(image, targets)
        losses['loss'].backward()
        optimiser.step()
    assert float(losses['loss']) < 0.5 * first
    found = detector.eval().predict(image)[0]
    iou = rotated_box_iou(found['boxes'], targets[0]['boxes'])
    recalled = (
        (iou.amax(dim=0) > 0.5).float().mean()
        if len(found['boxes'])
        else torch.tensor(0.0)
    )
    assert recalled > 0.5


def test_size_multiple_is_the_coarsest_stride() -> None:
    model = CSTFDetector(backbone='regnetx_002', num_classes=2)
    assert model.strides[-1] == model.size_multiple == 32
    with pytest.raises(InputError, match='multiples of 32, got \\(48, 64\\)'):
        model(torch.zeros(1, 3, 48, 64))


def test_mixed_precision_losses_are_float32_and_close() -> None:
    torch.manual_seed(0)
    detector = CSTFDetector(backbone='regnetx_002', num_classes=3, channels=64).eval()
    image, targets = _scene(256)
    full = detector.loss(image, targets)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        outputs = detector(image)
        mixed = detector.loss_from_outputs(outputs, targets)
    assert outputs[0]['logits'].dtype == torch.bfloat16
    assert detector._flatten(outputs, 'box').dtype == torch.float32
    for key in ('classification', 'box', 'centerness'):
        assert mixed[key].dtype == torch.float32
        assert mixed[key].item() == pytest.approx(full[key].item(), rel=0.02)
