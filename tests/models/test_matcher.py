from pathlib import Path

import numpy as np
import pytest
import torch
from torchgeo.main import main

from torchgeo_cstf.datasets import CrossModalPairs
from torchgeo_cstf.errors import InputError
from torchgeo_cstf.models import CSTFMatcher, Matches, estimate_transform
from torchgeo_cstf.models.matcher import sample_points, warp_points
from torchgeo_cstf.ops.homography import scaling, translation
from torchgeo_cstf.tasks import CSTFMatching


def _batch(count: int = 2, size: int = 128) -> dict[str, torch.Tensor]:
    data = CrossModalPairs(
        length=count, size=size, modalities=('sar',), scale=(0.8, 1.25)
    )
    samples = [data[i] for i in range(count)]
    return {k: torch.stack([s[k] for s in samples]) for k in samples[0]}


def test_sampling_and_warping_conventions() -> None:
    features = torch.arange(16.0).reshape(1, 1, 4, 4)
    # the centre of feature cell (row 2, col 1) covers image pixel centre (1.5, 2.5) * 16
    value = sample_points(features, torch.tensor([[[24.0, 40.0]]]), (64, 64))
    assert value.item() == pytest.approx(9.0)
    warp = torch.tensor([[[2.0, 0.0, 5.0], [0.0, 2.0, -1.0], [0.0, 0.0, 1.0]]])
    assert warp_points(warp, torch.tensor([[[1.0, 2.0]]])).tolist() == [[[7.0, 3.0]]]


def test_targets_follow_the_warp() -> None:
    matcher = CSTFMatcher(num_keypoints=16)
    batch = _batch(1)
    out = matcher(batch['reference'], batch['query'])
    truth, classes = matcher.targets(out, batch['warp'], batch['query_valid'])
    assert out.logits.shape == (1, 16, 8 * 8 + 1)
    expected = warp_points(batch['warp'].float(), out.ref_xy)
    torch.testing.assert_close(truth, expected)
    for (x, y), cls in zip(expected[0].tolist(), classes[0].tolist(), strict=True):
        inside = (
            0 <= x < 128
            and 0 <= y < 128
            and bool(batch['query_valid'][0, int(y), int(x)])
        )
        if inside:
            assert cls == int(y // 16) * 8 + int(x // 16)
        else:
            assert cls == 64


def test_joint_encoding_matches_separate_passes_in_eval() -> None:
    matcher = CSTFMatcher(num_keypoints=8).eval()
    batch = _batch(2)
    with torch.no_grad():
        joint = matcher.encode_pair(batch['reference'], batch['query'])
        separate = (
            *matcher.encode(batch['reference'], 'reference'),
            *matcher.encode(batch['query'], 'query'),
        )
    for a, b in zip(joint, separate, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_padding_keypoints_are_masked() -> None:
    y, x = torch.meshgrid(
        torch.arange(128) + 0.5, torch.arange(128) + 0.5, indexing='ij'
    )
    blob = torch.exp(-((x - 60.5) ** 2 + (y - 50.5) ** 2) / (2 * 4.0**2))
    reference, query = blob.expand(1, 3, 128, 128), blob.expand(1, 1, 128, 128)
    matcher = CSTFMatcher(num_keypoints=32).eval()
    out = matcher(reference, query)
    valid = out.ref_valid
    assert valid.any() and not valid.all()  # one blob cannot fill 32 keypoints
    with torch.no_grad():
        matcher.dustbin.fill_(-100.0)  # every keypoint then matches some cell
    found = matcher.match(reference, query, min_confidence=0.0)
    assert len(found[0]) == int(valid.sum())
    losses = matcher.loss(
        reference, query, torch.eye(3)[None], torch.ones(1, 128, 128, dtype=torch.bool)
    )
    assert torch.isfinite(losses['loss'])


def test_loss_and_match_shapes() -> None:
    matcher = CSTFMatcher(num_keypoints=32, fusion='sum')
    batch = _batch(2)
    losses = matcher.loss(
        batch['reference'], batch['query'], batch['warp'], batch['query_valid']
    )
    assert set(losses) == {'loss', 'classification', 'refinement', 'accuracy'}
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()
    assert matcher.dustbin.grad is not None
    found = matcher.match(batch['reference'], batch['query'], min_confidence=0.0)
    assert len(found) == 2
    assert all(
        isinstance(m, Matches) and m.ref_xy.shape == m.query_xy.shape for m in found
    )
    with pytest.raises(InputError, match='window'):
        CSTFMatcher(window=4)


@pytest.mark.slow
def test_matcher_learns_a_pair() -> None:
    """A few dozen steps on one pair cut the loss and make matches correct."""
    torch.manual_seed(0)
    batch = _batch(1, size=128)
    matcher = CSTFMatcher(num_keypoints=64)
    optimiser = torch.optim.AdamW(matcher.parameters(), lr=1e-3)
    args = (batch['reference'], batch['query'], batch['warp'], batch['query_valid'])
    first = float(matcher.loss(*args)['loss'])
    for _ in range(40):
        optimiser.zero_grad()
        losses = matcher.loss(*args)
        losses['loss'].backward()
        optimiser.step()
    assert float(losses['loss']) < 0.6 * first
    assert float(losses['accuracy']) > 0.6


def test_estimate_transform_rejects_outliers() -> None:
    rng = np.random.default_rng(0)
    truth = np.array([[0.9, 0.2, 10.0], [-0.15, 1.1, -5.0], [2e-4, -1e-4, 1.0]])
    ref = rng.uniform(0, 256, size=(60, 2))
    hom = np.hstack((ref, np.ones((60, 1)))) @ truth.T
    query = hom[:, :2] / hom[:, 2:]
    query[:20] += rng.uniform(20, 60, size=(20, 2))  # a third are wrong
    matches = Matches(torch.tensor(ref), torch.tensor(query), torch.ones(60))
    fitted = estimate_transform(matches, 'homography', threshold=1.0)
    assert fitted is not None
    assert fitted.num_inliers == 40
    assert not fitted.inliers[:20].any()
    corners = np.array([[0, 0, 1], [256, 0, 1], [256, 256, 1], [0, 256, 1.0]])
    a, b = corners @ fitted.matrix.T, corners @ truth.T
    assert np.abs(a[:, :2] / a[:, 2:] - b[:, :2] / b[:, 2:]).max() < 1e-3
    affine = estimate_transform(matches, 'affine', threshold=30.0)
    assert affine is not None and affine.matrix[2].tolist() == [0.0, 0.0, 1.0]
    assert (
        estimate_transform(Matches(torch.zeros(3, 2), torch.zeros(3, 2), torch.ones(3)))
        is None
    )
    with pytest.raises(InputError, match='model'):
        estimate_transform(matches, 'spline')  # type: ignore[arg-type]


def test_a_transform_needs_more_support_than_its_minimal_sample() -> None:
    rng = np.random.default_rng(2)
    truth = np.array([[1.0, 0.05, 12.0], [-0.05, 1.0, -7.0], [0.0, 0.0, 1.0]])
    ref = rng.uniform(0, 256, size=(30, 2))
    query = ref @ truth[:2, :2].T + truth[:2, 2]
    query[7:] = rng.uniform(0, 256, size=(23, 2))  # 7 right, 23 random
    matches = Matches(torch.tensor(ref), torch.tensor(query), torch.ones(30))
    # 3 random matches fit an affine map exactly: no evidence
    three = Matches(matches.ref_xy[7:10], matches.query_xy[7:10], torch.ones(3))
    assert estimate_transform(three, 'affine', min_inliers=3) is not None
    assert estimate_transform(three, 'affine') is None
    # 7 consistent matches are one short of the default
    assert estimate_transform(matches, 'affine') is None
    fitted = estimate_transform(matches, 'affine', min_inliers=7)
    assert fitted is not None and fitted.inliers[:7].all()
    np.testing.assert_allclose(fitted.matrix, truth, atol=1e-3)
    with pytest.raises(InputError, match='min_inliers'):
        estimate_transform(matches, 'homography', min_inliers=3)


def test_transform_rescaled_maps_resized_images_and_keeps_inliers() -> None:
    rng = np.random.default_rng(1)
    truth = np.array([[0.9, 0.2, 10.0], [-0.15, 1.1, -5.0], [2e-4, -1e-4, 1.0]])
    ref = rng.uniform(0, 256, size=(40, 2))
    hom = np.hstack((ref, np.ones((40, 1)))) @ truth.T
    matches = Matches(
        torch.tensor(ref), torch.tensor(hom[:, :2] / hom[:, 2:]), torch.ones(40)
    )
    fitted = estimate_transform(matches, 'homography')
    assert fitted is not None
    # reference shown 2x larger, query 4x smaller: a point moves by the factors
    resized = fitted.rescaled(2.0, 0.25)
    points = np.array([[10.0, 20.0, 1.0], [200.0, 50.0, 1.0]])
    before = points @ fitted.matrix.T
    after = (points * [2.0, 2.0, 1.0]) @ resized.matrix.T
    np.testing.assert_allclose(
        after[:, :2] / after[:, 2:], 0.25 * before[:, :2] / before[:, 2:], atol=1e-9
    )
    assert resized.num_inliers == fitted.num_inliers == 40
    assert scaling(3.0) @ translation(1.0, -2.0) @ np.array([1.0, 1.0, 1.0]) == (
        pytest.approx([6.0, -3.0, 1.0])
    )


def test_empty_matches() -> None:
    empty = Matches.empty()
    assert len(empty) == 0 and empty.ref_xy.shape == (0, 2)
    assert empty.query_xy.dtype == torch.float64
    assert estimate_transform(empty) is None


@pytest.mark.slow
def test_task_fits_and_predicts(tmp_path: Path) -> None:
    main(
        [
            'fit',
            '--config',
            'configs/matching_synthetic.yaml',
            '--trainer.accelerator',
            'cpu',
            '--trainer.fast_dev_run',
            '1',
            '--trainer.default_root_dir',
            str(tmp_path),
            '--data.init_args.patch_size',
            '128',
            '--data.init_args.num_workers',
            '0',
        ]
    )
    task = CSTFMatching(num_keypoints=16, min_confidence=0.0).eval()
    found = task.predict_step(_batch(2), 0)
    assert len(found) == 2 and all(m.ref_xy.device.type == 'cpu' for m in found)
    # forward is the matcher's matching step at the task's confidence, not its
    # internal correspondences
    batch = _batch(2)
    called = task(batch['reference'], batch['query'])
    direct = task.model.match(batch['reference'], batch['query'], 0.0)
    assert [type(m) for m in called] == [Matches, Matches]
    for a, b in zip(called, direct, strict=True):
        assert torch.equal(a.ref_xy, b.ref_xy) and torch.equal(a.query_xy, b.query_xy)


def test_the_matcher_says_what_it_takes() -> None:
    matcher = CSTFMatcher(
        'resnet18', reference_channels=3, query_channels=2, structure=True
    )
    assert (matcher.reference_channels, matcher.query_channels) == (3, 2)
    assert matcher.size_multiple == matcher.coarse_stride == 16
    with pytest.warns(DeprecationWarning, match='reference_channels'):
        assert matcher.bands == {'reference': 3, 'query': 2}


def test_mixed_precision_keeps_pixel_positions_exact() -> None:
    # bfloat16 holds 8 significant bits: positions past 256 px round to 2 px
    # steps, and keypoints at the far edge of a 320-px query fell outside it
    torch.manual_seed(0)
    matcher = CSTFMatcher(num_keypoints=64).eval()
    batch = _batch(2, size=320)
    args = (batch['reference'], batch['query'], batch['warp'], batch['query_valid'])
    full = matcher.loss(*args)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        out = matcher(batch['reference'], batch['query'])
        mixed = matcher.loss(*args)
        truth, classes = matcher.targets(out, batch['warp'], batch['query_valid'])
    assert out.ref_xy.dtype == out.centres.dtype == truth.dtype == torch.float32
    exact = matcher(batch['reference'], batch['query'])
    torch.testing.assert_close(out.ref_xy, exact.ref_xy, rtol=0, atol=0)
    torch.testing.assert_close(truth, warp_points(batch['warp'].float(), exact.ref_xy))
    assert int(classes.min()) >= 0 and int(classes.max()) <= out.logits.shape[-1] - 1
    for key in ('classification', 'refinement'):
        assert mixed[key].item() == pytest.approx(full[key].item(), rel=0.02)


@pytest.mark.slow
def test_real_config_fits_in_mixed_precision(tmp_path: Path) -> None:
    import cv2

    from torchgeo_cstf.synthetic import synthesize_scene

    # 320-px pairs: past 256 px bfloat16 rounds positions to 2 px, and before
    # the fix a keypoint near the far edge indexed outside the query
    for index, split in enumerate(['train', 'val', 'test']):
        (tmp_path / 'textures' / split).mkdir(parents=True)
        image = synthesize_scene((352, 352), seed=index).image.transpose(1, 2, 0)
        cv2.imwrite(str(tmp_path / 'textures' / split / 'scene.png'), image)
    main(
        [
            'fit',
            '--config',
            'configs/matching_real.yaml',
            '--model.init_args.weights',
            'null',
            '--trainer.accelerator',
            'cpu',
            '--trainer.precision',
            'bf16-mixed',
            '--trainer.fast_dev_run',
            '2',
            '--trainer.default_root_dir',
            str(tmp_path / 'run'),
            '--data.init_args.patch_size',
            '320',
            '--data.init_args.batch_size',
            '4',
            '--data.init_args.num_workers',
            '0',
            '--data.init_args.paired_roots',
            '[]',
            '--data.init_args.synthetic_pairs',
            '8',
            '--data.dict_kwargs.root',
            str(tmp_path / 'textures'),
        ]
    )
