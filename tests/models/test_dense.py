import numpy as np
import pytest
import torch

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.models import estimate_transform
from torchgeo_cstf.models.dense import (
    DenseMatcher,
    _holds_data,
    _opening,
    _opening_opencv,
    box_sums,
    find_peaks,
    ncc_search,
    warp_image,
)
from torchgeo_cstf.models.search import search_rotation_scale
from torchgeo_cstf.ops.homography import apply_homography
from torchgeo_cstf.synthetic import synthesize_scene
from torchgeo_cstf.synthetic.simulate import simulate_modality


def _scene(seed: int, size: int = 256) -> np.ndarray:
    image = synthesize_scene((size, size), seed=seed).image.astype(np.float32) / 255
    return image


def _resample(image: np.ndarray, to_source: np.ndarray) -> torch.Tensor:
    """(1, C, H, W) image seen through a reference → source map (same size)."""
    tensor = torch.from_numpy(image)[None]
    out = warp_image(tensor, torch.from_numpy(to_source)[None], image.shape[-2:])
    return out[:, :-1] * (out[:, -1:] > 0.99)


def test_box_sums_and_ncc_find_a_known_shift() -> None:
    rng = np.random.default_rng(0)
    field = torch.from_numpy(rng.random((2, 3, 40, 40)).astype(np.float32))
    sums = box_sums(field, 5)
    assert sums.shape == (2, 3, 36, 36)
    torch.testing.assert_close(sums[1, 2, 7, 9], field[1, 2, 7:12, 9:14].sum())
    template = field[:, :, 10:26, 12:28]  # (dx, dy) = (+2, 0) from the region centre
    scores = ncc_search(template, field[:, :, 8 - 2 : 8 + 16 + 6, 8 - 2 : 8 + 16 + 6])
    peaks = find_peaks(scores, 0.95)
    assert scores.shape == (2, 9, 9)
    torch.testing.assert_close(
        peaks.shift,
        torch.tensor([[2.0, 0.0], [2.0, 0.0]], dtype=torch.float64),
        atol=0.05,
        rtol=0,
    )
    # 1 up to the region-wide mean standing in for the local one
    assert (peaks.score > 0.99).all() and peaks.distinct.all()


@pytest.mark.parametrize('modality', ['thermal', 'sar'])
def test_dense_matcher_recovers_a_cross_modal_shift(modality: str) -> None:
    image = _scene(3)
    truth = np.array([[1.0, 0.0, 13.3], [0.0, 1.0, -7.6], [0.0, 0.0, 1.0]])
    query = _resample(image, np.linalg.inv(truth))[0].numpy()  # query(x) = image(x - t)
    query = simulate_modality(query, modality, 1, np.random.default_rng(1))
    reference = torch.from_numpy(image)[None]
    found = DenseMatcher(template=48).match(reference, torch.from_numpy(query)[None])[0]
    fitted = estimate_transform(found, 'affine')
    assert fitted is not None and fitted.num_inliers >= 20
    inliers = fitted.inliers
    predicted = apply_homography(truth, found.ref_xy.numpy()[inliers])
    error = np.linalg.norm(predicted - found.query_xy.numpy()[inliers], axis=1)
    assert np.median(error) < 0.5
    np.testing.assert_allclose(fitted.matrix[:2, 2], truth[:2, 2], atol=0.75)


def test_dense_matcher_searches_around_the_prior_only() -> None:
    image = _scene(4)
    truth = np.array([[1.0, 0.0, 90.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    wide = np.zeros((3, 256, 384), np.float32)
    wide[:, :, 90 : 90 + 256] = image  # the scene 90 px to the right
    reference = torch.from_numpy(image)[None]
    query = torch.from_numpy(wide)[None]
    matcher = DenseMatcher(template=48, radius=24)
    blind = estimate_transform(matcher.match(reference, query)[0], 'affine')
    assert blind is None or abs(blind.matrix[0, 2] - 90) > 5  # 90 px > radius
    near = truth @ np.array([[1.0, 0, -6.0], [0, 1, 4.0], [0, 0, 1]])
    found = matcher.match(reference, query, torch.from_numpy(near)[None])[0]
    fitted = estimate_transform(found, 'affine')
    assert fitted is not None
    np.testing.assert_allclose(fitted.matrix, truth, atol=0.05)


def test_dense_stages_coarse_alone_and_fine_around_the_prior() -> None:
    image = _scene(6)
    truth = np.array([[1.0, 0.0, 11.4], [0.0, 1.0, -9.7], [0.0, 0.0, 1.0]])
    query = _resample(image, np.linalg.inv(truth))
    reference = torch.from_numpy(image)[None]
    matcher = DenseMatcher(template=48)

    def fitted_shift(stage: str, prior: np.ndarray | None = None) -> np.ndarray:
        priors = None if prior is None else torch.from_numpy(prior)[None]
        found = matcher.match(reference, query, priors, stage)[0]  # type: ignore[arg-type]
        fitted = estimate_transform(found, 'affine')
        assert fitted is not None and fitted.num_inliers >= 20
        # where the fit puts the image's centre (the translation alone is the
        # origin's, which a 0.2 % scale error moves by a quarter pixel)
        return apply_homography(fitted.matrix, np.array([[128.0, 128.0]]))[0] - 128

    # half resolution, the odd template centres corrected: within a pixel
    np.testing.assert_allclose(fitted_shift('coarse'), truth[:2, 2], atol=0.5)
    np.testing.assert_allclose(fitted_shift('both'), truth[:2, 2], atol=0.25)
    # the fine stage alone looks 3 px around the prior: right from 2 px off ...
    near = truth.copy()
    near[:2, 2] += (2.0, -1.5)
    np.testing.assert_allclose(fitted_shift('fine', near), truth[:2, 2], atol=0.25)
    # ... and blind to the truth 11 px away (no prior: identity)
    found = matcher.match(reference, query, None, 'fine')[0]
    far = estimate_transform(found, 'affine')
    assert far is None or np.abs(far.matrix[:2, 2] - truth[:2, 2]).max() > 5


def test_dense_matcher_checks_its_inputs() -> None:
    with pytest.raises(InputError, match='template'):
        DenseMatcher(template=4)
    with pytest.raises(InputError, match='radius'):
        DenseMatcher(radius=1)
    with pytest.raises(InputError, match='harmonics'):
        DenseMatcher(harmonics=5)
    with pytest.raises(InputError, match='images'):
        DenseMatcher().match(torch.zeros(3, 64, 64), torch.zeros(1, 1, 64, 64))
    with pytest.raises(InputError, match="stage.*'medium'"):
        DenseMatcher().match(
            torch.zeros(1, 1, 64, 64), torch.zeros(1, 1, 64, 64), None, 'medium'
        )  # type: ignore[arg-type]
    # an image smaller than a template, or blank, gives no matches, not an error
    assert (
        len(DenseMatcher().match(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))[0])
        == 0
    )
    assert (
        len(
            DenseMatcher().match(torch.zeros(1, 1, 96, 96), torch.zeros(1, 1, 96, 96))[
                0
            ]
        )
        == 0
    )


def test_search_finds_rotation_and_scale() -> None:
    image = _scene(5)
    centre = np.array([128.0, 128.0])
    for angle, scale in ((125.0, 1.0), (-40.0, 1.4), (200.0, 0.7)):
        theta = np.radians(angle)
        linear = scale * np.array(
            [[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]]
        )
        truth = np.eye(3)
        truth[:2, :2] = linear
        truth[:2, 2] = centre + np.array([5.0, -8.0]) - linear @ centre
        query = _resample(image, np.linalg.inv(truth))
        query = torch.from_numpy(
            simulate_modality(query[0].numpy(), 'thermal', 1, np.random.default_rng(2))
        )[None]
        found = search_rotation_scale(torch.from_numpy(image)[None], query)
        assert 1 <= len(found) <= 3
        best = found[0]
        turn = (best.rotation - angle + 180) % 360 - 180
        assert abs(turn) <= 7.5 + 1e-6, (angle, best)
        corners = np.array([[64.0, 64], [192, 64], [192, 192], [64, 192]])
        error = np.linalg.norm(
            apply_homography(best.matrix, corners) - apply_homography(truth, corners),
            axis=1,
        )
        assert error.mean() < 25, (angle, scale, error)
    with pytest.raises(InputError, match='search'):
        search_rotation_scale(
            torch.rand(1, 1, 64, 64), torch.rand(1, 1, 64, 64), size=8
        )


def test_search_refines_between_grid_steps() -> None:
    image = _scene(8)
    centre = np.array([128.0, 128.0])
    angle, scale = 8.0, 1.19  # halfway between grid angles, a half scale step
    theta = np.radians(angle)
    linear = scale * np.array(
        [[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]]
    )
    truth = np.eye(3)
    truth[:2, :2] = linear
    truth[:2, 2] = centre - linear @ centre
    query = _resample(image, np.linalg.inv(truth))
    reference = torch.from_numpy(image)[None]
    grid = search_rotation_scale(reference, query, refine=False)[0]
    refined = search_rotation_scale(reference, query)[0]
    # the grid can do no better than 7 degrees or a 19 % scale off
    assert abs(grid.rotation - angle) >= 7 or abs(np.log(grid.scale / scale)) > 0.15
    assert abs(refined.rotation - angle) <= 2.5 + 1e-6, refined
    assert abs(np.log(refined.scale / scale)) < 0.1, refined
    assert refined.score > grid.score


def test_search_reach_is_bounded_by_max_offset() -> None:
    # the query's centre 60 px (23 % of the side) from the reference's: beyond
    # the default reach (an eighth), found once the reach is a quarter
    image = _scene(4)
    truth = np.eye(3)
    truth[:2, 2] = (60.0, 0.0)
    query = _resample(image, np.linalg.inv(truth))
    reference = torch.from_numpy(image)[None]
    corners = np.array([[64.0, 64], [192, 64], [192, 192], [64, 192]])

    def error(candidate_matrix: np.ndarray) -> float:
        return float(
            np.linalg.norm(
                apply_homography(candidate_matrix, corners)
                - apply_homography(truth, corners),
                axis=1,
            ).mean()
        )

    near = search_rotation_scale(reference, query)[0]
    far = search_rotation_scale(reference, query, max_offset=0.25)[0]
    assert error(far.matrix) < 10, far
    assert error(near.matrix) > 20, near
    for bad in ({'template_share': 0.0}, {'max_offset': 0.6}, {'smoothing': -1.0}):
        with pytest.raises(InputError, match='template_share'):
            search_rotation_scale(reference, query, **bad)


def test_harmonics_match_as_the_orientation_bins_do() -> None:
    image = _scene(5)
    truth = np.array([[1.0, 0.0, -9.4], [0.0, 1.0, 17.2], [0.0, 0.0, 1.0]])
    query = _resample(image, np.linalg.inv(truth))[0].numpy()
    query = simulate_modality(query, 'sar', 1, np.random.default_rng(2))
    pair = (torch.from_numpy(image)[None], torch.from_numpy(query)[None])
    bins = DenseMatcher(harmonics=None)
    found = {'bins': bins.match(*pair)[0], 'harmonics': DenseMatcher().match(*pair)[0]}
    assert bins.describe(pair[0]).channels.shape[1] == 9
    assert DenseMatcher().describe(pair[0]).channels.shape[1] == 5
    # the same templates peak at the same places: nearly the same matches
    assert abs(len(found['bins']) - len(found['harmonics'])) <= 2
    common = min(len(m) for m in found.values())
    assert common >= 30
    same = torch.isclose(found['bins'].ref_xy[:, None], found['harmonics'].ref_xy[None])
    paired = same.all(-1)
    bins_xy = found['bins'].query_xy[paired.any(1)]
    harmonics_xy = found['harmonics'].query_xy[paired.float().argmax(1)[paired.any(1)]]
    assert len(bins_xy) >= common - 2
    assert (bins_xy - harmonics_xy).norm(dim=-1).median() < 0.02


def test_opencv_and_box_sum_openings_agree() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(3, 2, 48, 60, generator=generator)
    images[0, :, 5:20, 3:9] = 0  # a wide patch of nodata
    images[1, :, :7, :7] = 0  # one touching the corner
    images[1, :, 30:33, 10:40] = 0  # a strip 3 wide: dark pixels, not nodata
    images[2] *= torch.rand(1, 48, 60, generator=generator) > 0.1  # scattered zeros
    zero = (images == 0).all(dim=1, keepdim=True)
    fast, slow = _opening_opencv(zero), _opening(zero)
    assert torch.equal(fast, slow)
    holds = _holds_data(images)
    assert holds.dtype == images.dtype and holds.shape == (3, 1, 48, 60)
    assert holds[0, 0, 5:20, 3:9].sum() == 0 and holds[0].sum() == 48 * 60 - 15 * 6
    assert holds[1, 0, :7, :7].sum() == 0 and holds[1, 0, 30:33].sum() == 60 * 3
    assert holds[2].sum() > 0.99 * 48 * 60  # scattered zeros are dark pixels


def test_warp_image_reads_where_the_homography_points() -> None:
    # bands holding each pixel's own x and y: bilinear reads of a linear ramp
    # return the continuous position the map gives
    height, width = 40, 50
    ys, xs = torch.meshgrid(
        torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing='ij'
    )
    ramps = torch.stack((xs, ys)).double()[None]
    matrix = torch.tensor(
        [[0.9, 0.1, 4.0], [-0.05, 1.05, 2.0], [1e-4, -2e-4, 1.0]], dtype=torch.float64
    )
    out = warp_image(ramps, matrix[None], (30, 35))
    assert out.shape == (1, 3, 30, 35)
    grid = torch.stack(
        torch.meshgrid(
            torch.arange(35.0) + 0.5, torch.arange(30.0) + 0.5, indexing='xy'
        ),
        -1,
    ).reshape(-1, 2)
    expected = torch.from_numpy(apply_homography(matrix.numpy(), grid.double().numpy()))
    expected = expected.reshape(30, 35, 2).permute(2, 0, 1)
    inside = out[0, 2] > 0.999
    assert inside.sum() > 600
    torch.testing.assert_close(
        out[0, :2][:, inside], expected[:, inside], atol=1e-6, rtol=0
    )
