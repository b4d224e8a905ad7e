import kornia.augmentation as K
import numpy as np
import pytest
import torch

from torchgeo_cstf.datamodules import (
    RotatedBoxAugmentation,
    collate_rotated_detection,
    detection_augmentation,
    letterbox,
    visible_share,
)
from torchgeo_cstf.errors import InputError
from torchgeo_cstf.ops import cxcywhr_to_poly
from torchgeo_cstf.synthetic.render import polygon_coverage

SIZE = 96


def _object_image(boxes: torch.Tensor) -> torch.Tensor:
    """A (1, 1, SIZE, SIZE) image with each box drawn filled (coverage 0–1)."""
    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    for corners in cxcywhr_to_poly(boxes).numpy():
        canvas = np.maximum(canvas, polygon_coverage(corners, (0, 0), (SIZE, SIZE)))
    return torch.from_numpy(canvas)[None, None]


def _inside(box: torch.Tensor) -> np.ndarray:
    return _object_image(box[None])[0, 0].numpy() >= 0.5


@pytest.mark.parametrize(
    'augmentation',
    [
        K.RandomHorizontalFlip(p=1.0),
        K.RandomVerticalFlip(p=1.0),
        K.RandomRotation90(times=(1, 3), p=1.0),
        K.RandomRotation(degrees=180.0, p=1.0),
        K.RandomAffine(degrees=90.0, scale=(0.7, 1.3), p=1.0),
    ],
    ids=['hflip', 'vflip', 'rot90', 'rotation', 'affine'],
)
def test_augmented_box_still_covers_its_object(augmentation: torch.nn.Module) -> None:
    torch.manual_seed(0)
    boxes = torch.tensor(
        [[48.0, 40.0, 40.0, 10.0, 25.0], [30.0, 70.0, 16.0, 8.0, -60.0]]
    )
    aug = RotatedBoxAugmentation(augmentation, min_visible=0.0)
    for _ in range(5):
        out = aug(
            {
                'image': _object_image(boxes),
                'bbox': [boxes],
                'label': [torch.tensor([0, 1])],
            }
        )
        obj = out['image'][0, 0].numpy() > 0.5
        moved = out['bbox'][0]
        assert moved.shape == (2, 5)
        covered = np.zeros_like(obj)
        for box in moved:
            covered |= _inside(box)
        # the object's pixels lie in the new boxes, and the boxes hug them
        assert (obj & covered).sum() / obj.sum() > 0.95
        assert covered.sum() < 1.25 * obj.sum() + 40
        assert (moved[:, 2] >= moved[:, 3]).all()


def test_boxes_leaving_the_image_are_dropped_with_their_labels() -> None:
    boxes = torch.tensor([[4.0, 48.0, 20.0, 6.0, 0.0], [48.0, 48.0, 20.0, 6.0, 0.0]])
    shift = K.RandomAffine(degrees=0.0, translate=(0.2, 0.2), p=1.0)
    aug = RotatedBoxAugmentation(shift, min_visible=0.5)
    torch.manual_seed(3)
    out = aug(
        {
            'image': torch.zeros(1, 1, SIZE, SIZE),
            'bbox': [boxes],
            'label': [torch.tensor([7, 8])],
            'difficult': [torch.tensor([True, False])],
            'bbox_xyxy': [torch.zeros(2, 4)],
        }
    )
    kept = visible_share(out['bbox'][0], SIZE, SIZE)
    assert (kept >= 0.5).all()
    assert len(out['label'][0]) == len(out['bbox'][0]) == len(out['difficult'][0])
    assert out['bbox_xyxy'][0].shape == (len(out['bbox'][0]), 4)
    assert visible_share(
        torch.tensor([[0.0, 48.0, 20.0, 6.0, 0.0]]), SIZE, SIZE
    ).item() == pytest.approx(0.5)


def test_reference_gets_the_same_transform() -> None:
    torch.manual_seed(1)
    image = torch.rand(2, 3, 32, 32)
    aug = detection_augmentation(0.0, 1.0, train=True)
    out = aug(
        {'image': image, 'reference': image.clone(), 'bbox': [torch.zeros(0, 5)] * 2}
    )
    torch.testing.assert_close(out['image'], out['reference'])
    assert not torch.equal(out['image'], image)
    plain = detection_augmentation(0.0, 2.0, train=False)({'image': image})
    torch.testing.assert_close(plain['image'], image / 2)


def test_letterbox_and_collate() -> None:
    sample = {
        'image': torch.ones(3, 50, 100),
        'bbox': torch.tensor([[50.0, 25.0, 20.0, 10.0, 30.0]]),
        'label': torch.tensor([1]),
    }
    boxed = letterbox(sample, 80)
    assert boxed['image'].shape == (3, 80, 80)
    assert boxed['image'][:, 40:].abs().sum() == 0  # padding below the image
    torch.testing.assert_close(
        boxed['bbox'], torch.tensor([[40.0, 20.0, 16.0, 8.0, 30.0]])
    )
    torch.testing.assert_close(boxed['scale'], torch.tensor([0.8, 0.8]))
    empty = {
        'image': torch.ones(3, 80, 80),
        'bbox': torch.zeros(0, 5),
        'label': torch.zeros(0, dtype=torch.long),
        'scale': torch.ones(2),
    }
    batch = collate_rotated_detection([boxed, empty])
    assert batch['image'].shape == (2, 3, 80, 80)
    assert [len(b) for b in batch['bbox']] == [1, 0]
    assert batch['bbox_xyxy'][0].shape == (1, 4)
    x1, y1, x2, y2 = batch['bbox_xyxy'][0][0].tolist()
    assert (x1 + x2) / 2 == pytest.approx(40.0) and (y1 + y2) / 2 == pytest.approx(20.0)
    assert batch['scale'].shape == (2, 2)
    with pytest.raises(InputError, match='batch'):
        collate_rotated_detection([])
    with pytest.raises(InputError, match='min_visible'):
        RotatedBoxAugmentation(min_visible=2.0)
