import math

import numpy as np
import pytest
import torch

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.metrics import (
    corner_error,
    correct_matching_ratio,
    homography_auc,
    mean_matching_accuracy,
    num_correct_matches,
    registration_rmse,
)

IDENTITY = np.eye(3)
SHIFT = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, -2.0], [0.0, 0.0, 1.0]])
PERSPECTIVE = np.array([[1.1, 0.05, 3.0], [-0.02, 0.95, 7.0], [1e-4, -2e-4, 1.0]])


def project(warp, xy):
    homogeneous = np.c_[xy, np.ones(len(xy))] @ warp.T
    return homogeneous[:, :2] / homogeneous[:, 2:]


def test_mean_matching_accuracy_counts_errors_per_threshold():
    ref = np.array([[10.0, 10.0], [20.0, 5.0], [30.0, 40.0], [0.0, 0.0]])
    query = project(PERSPECTIVE, ref) + np.array(
        [[0.0, 0.0], [1.5, 0.0], [0, 3.0], [6, 8]]
    )
    mma = mean_matching_accuracy(ref, query, PERSPECTIVE)
    # errors 0, 1.5, 3, 10 against thresholds 1..10 (<= t counts)
    expected = [1, 2, 3, 3, 3, 3, 3, 3, 3, 4]
    np.testing.assert_allclose(mma, np.array(expected) / 4, atol=1e-12)
    assert mean_matching_accuracy(
        ref, query, PERSPECTIVE, thresholds=[2.9, 3.0]
    ).tolist() == [0.5, 0.75]


def test_counts_and_ratio_and_tensors():
    ref = torch.tensor([[0.0, 0.0], [10.0, 10.0], [4.0, 4.0]])
    query = torch.tensor([[5.0, -2.0], [15.0, 8.0], [20.0, 20.0]])
    assert num_correct_matches(ref, query, SHIFT, threshold=1.0) == 2
    assert correct_matching_ratio(ref, query, SHIFT, threshold=1.0) == pytest.approx(
        2 / 3
    )
    assert correct_matching_ratio(
        ref.tolist(), query.tolist(), torch.tensor(SHIFT)
    ) == (pytest.approx(2 / 3))


def test_no_matches_give_zero_not_nan():
    empty = np.zeros((0, 2))
    assert mean_matching_accuracy(empty, empty, IDENTITY).tolist() == [0.0] * 10
    assert correct_matching_ratio(empty, empty, IDENTITY) == 0.0
    assert num_correct_matches([], [], IDENTITY) == 0


def test_corner_error():
    # a pure translation error of (3, 4) moves every corner by 5 px
    estimate = SHIFT.copy()
    estimate[0, 2] += 3.0
    estimate[1, 2] += 4.0
    assert corner_error(estimate, SHIFT, 640, 480) == pytest.approx(5.0)
    assert corner_error(SHIFT, SHIFT, 640, 480) == 0.0
    # corners of the image extent, (0, 0) to (W, H): a scale about the origin
    # moves the far corner by (W, H) * 0.01
    scaled = np.diag([1.01, 1.01, 1.0])
    expected = (0 + 0.01 * 100 + 0.01 * math.hypot(100, 50) + 0.01 * 50) / 4
    assert corner_error(scaled, IDENTITY, 100, 50) == pytest.approx(expected)


@pytest.mark.parametrize('bad', [None, np.zeros((3, 3)), np.full((3, 3), np.nan)])
def test_failed_estimates_give_infinite_errors(bad):
    assert corner_error(bad, IDENTITY, 100, 100) == math.inf
    assert registration_rmse(bad, [[1.0, 2.0]], [[1.0, 2.0]]) == math.inf
    rank_one = np.outer([1.0, 2.0, 3.0], [1.0, 0.5, 0.2])
    assert corner_error(rank_one, IDENTITY, 100, 100) == math.inf


def test_homography_auc_matches_the_integral():
    errors = np.array([0.5, 1.0, 2.5, 4.0, 7.0, 12.0, math.inf])
    auc = homography_auc(errors)
    for value, t in zip(auc, (3, 5, 10), strict=True):
        # numeric integral of the empirical CDF on a fine grid
        grid = np.linspace(0, t, 200_001)
        cdf = (errors[None, :] <= grid[:, None]).mean(axis=1)
        integral = np.sum((cdf[1:] + cdf[:-1]) / 2 * np.diff(grid)) / t
        assert value == pytest.approx(integral, abs=1e-4)
    assert homography_auc([0.0, 0.0]).tolist() == [1.0, 1.0, 1.0]
    assert homography_auc([]).tolist() == [0.0, 0.0, 0.0]
    assert homography_auc([math.inf], thresholds=[1]).tolist() == [0.0]


def test_registration_rmse():
    ref = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    query = project(SHIFT, ref) + np.array([[3.0, 4.0], [0.0, 0.0], [0.0, 0.0]])
    assert registration_rmse(SHIFT, ref, query) == pytest.approx(math.sqrt(25 / 3))
    assert registration_rmse(SHIFT, ref, project(SHIFT, ref)) == pytest.approx(
        0.0, abs=1e-12
    )


@pytest.mark.parametrize(
    ('call', 'message'),
    [
        (
            lambda: mean_matching_accuracy([[1, 2]], [[1, 2], [3, 4]], IDENTITY),
            'query_xy',
        ),
        (lambda: mean_matching_accuracy([[1, 2, 3]], [[1, 2, 3]], IDENTITY), 'ref_xy'),
        (
            lambda: mean_matching_accuracy([[1, 2]], [[1, 2]], np.eye(2)),
            'warp: must be a 3x3',
        ),
        (
            lambda: mean_matching_accuracy([[1, 2]], [[1, 2]], np.zeros((3, 3))),
            'invertible',
        ),
        (
            lambda: mean_matching_accuracy([[1, 2]], [[1, 2]], IDENTITY, [0]),
            'thresholds',
        ),
        (lambda: mean_matching_accuracy([[np.nan, 2]], [[1, 2]], IDENTITY), 'NaN'),
        (lambda: mean_matching_accuracy([['a', 'b']], [[1, 2]], IDENTITY), 'numeric'),
        (lambda: correct_matching_ratio([[1, 2]], [[1, 2]], IDENTITY, -1), 'threshold'),
        (lambda: corner_error(IDENTITY, IDENTITY, 0, 10), 'width'),
        (lambda: corner_error(np.eye(4), IDENTITY, 10, 10), 'estimated_warp'),
        (lambda: homography_auc([1.0, np.nan]), 'errors'),
        (lambda: homography_auc([-1.0]), 'errors'),
        (
            lambda: registration_rmse(IDENTITY, np.zeros((0, 2)), np.zeros((0, 2))),
            'check',
        ),
    ],
)
def test_bad_inputs(call, message):
    with pytest.raises(InputError, match=message):
        call()
