import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from torchgeo_cstf.cli import main
from torchgeo_cstf.errors import InputError
from torchgeo_cstf.inference import match
from torchgeo_cstf.inference.coregister import coregister
from torchgeo_cstf.inference.methods import (
    SEARCHES,
    PairMatcher,
    SearchStep,
    fitted_model,
)
from torchgeo_cstf.metrics import corner_error
from torchgeo_cstf.models import CSTFMatcher, Matches
from torchgeo_cstf.models.dense import warp_image
from torchgeo_cstf.ops.homography import apply_homography
from torchgeo_cstf.options import RegistrationOptions
from torchgeo_cstf.synthetic import generate_pair, synthesize_scene
from torchgeo_cstf.synthetic.simulate import simulate_modality


class OracleMatcher(CSTFMatcher):
    """Knows the true warp of the image it is given: stands in for a trained CSTF."""

    def __init__(self, warp: np.ndarray, span: tuple[float, float] = (30, 220)) -> None:
        super().__init__(num_keypoints=8)
        self.warp = warp
        self.span = span  # the matches lie on a 5×5 grid over this square

    def match(
        self, reference: Tensor, query: Tensor, min_confidence: float = 0.2
    ) -> list[Matches]:
        grid = np.stack(
            np.meshgrid(np.linspace(*self.span, 5), np.linspace(*self.span, 5)), -1
        )
        ref = grid.reshape(-1, 2)
        qry = apply_homography(self.warp, ref) + np.random.default_rng(0).normal(
            0, 1.0, ref.shape
        )  # a coarse matcher: 1-px noise
        return [Matches(torch.tensor(ref), torch.tensor(qry), torch.full((25,), 0.9))]


def _pair(
    warp: np.ndarray, seed: int = 2, size: int = 256, modality: str = 'thermal'
) -> tuple[Tensor, Tensor]:
    image = synthesize_scene((size, size), seed=seed).image.astype(np.float32) / 255
    reference = torch.from_numpy(image)
    moved = warp_image(
        reference[None], torch.from_numpy(np.linalg.inv(warp))[None], (size, size)
    )
    query = moved[0, :-1] * (moved[0, -1:] > 0.99)
    view = simulate_modality(query.numpy(), modality, 1, np.random.default_rng(3))
    return reference, torch.from_numpy(view)


def _turn(
    angle: float, scale: float, shift: tuple[float, float], size: int = 256
) -> np.ndarray:
    theta = np.radians(angle)
    linear = scale * np.array(
        [[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]]
    )
    centre = np.array([size / 2, size / 2])
    warp = np.eye(3)
    warp[:2, :2] = linear
    warp[:2, 2] = centre + shift - linear @ centre
    return warp


def test_dense_and_auto_recover_a_shifted_thermal_query() -> None:
    truth = _turn(2.0, 1.02, (12.0, -9.0))
    reference, query = _pair(truth)
    for method in ('dense', 'auto'):
        result = PairMatcher(method=method, cstf=OracleMatcher(truth))(reference, query)
        assert result.method == 'dense'  # auto: dense found enough, CSTF never ran
        assert result.inliers >= 16
        assert corner_error(result.transform.matrix, truth, 256, 256) < 1.5


def test_the_fitted_model_follows_the_prior() -> None:
    assert fitted_model(None, search=False) == 'affine'  # pre-aligned
    assert fitted_model(_turn(2.0, 1.02, (12.0, -9.0)), search=False) == 'affine'
    projective = np.eye(3)
    projective[2, 0] = 1e-4
    assert fitted_model(projective, search=False) == 'homography'
    assert fitted_model(None, search=True) == 'homography'
    assert fitted_model(np.eye(3), search=True) == 'homography'


def test_around_a_prior_matches_in_one_corner_still_place_the_far_corners() -> None:
    # the matches (1 px of noise) cover only a 60-px square in one corner: a
    # homography's two extra degrees of freedom follow the noise, and the far
    # corners with them; the affine fit the prior implies keeps them in place
    truth = _turn(2.0, 1.02, (12.0, -9.0))
    reference, query = _pair(truth)
    oracle = OracleMatcher(truth, span=(20, 80))
    chosen = PairMatcher(method='cstf', cstf=oracle)(reference, query)
    forced = PairMatcher(method='cstf', cstf=oracle, transform_model='homography')(
        reference, query
    )
    assert chosen.transform is not None and forced.transform is not None
    np.testing.assert_array_equal(chosen.transform.matrix[2], [0.0, 0.0, 1.0])
    kept = corner_error(chosen.transform.matrix, truth, 256, 256)
    lost = corner_error(forced.transform.matrix, truth, 256, 256)
    assert kept < 5.0 and lost > 10.0  # the success threshold: 10 px


def test_auto_falls_back_to_cstf_then_refines_densely() -> None:
    truth = _turn(0.0, 1.0, (52.0, -46.0))  # beyond the dense search radius (40)
    reference, query = _pair(truth, seed=4)
    dense = PairMatcher(method='dense')(reference, query)
    assert (
        dense.transform is None
        or corner_error(dense.transform.matrix, truth, 256, 256) > 10
    )
    coarse = PairMatcher(method='cstf', cstf=OracleMatcher(truth))(reference, query)
    auto = PairMatcher(method='auto', cstf=OracleMatcher(truth))(reference, query)
    assert auto.method == 'cstf+dense'
    fine = corner_error(auto.transform.matrix, truth, 256, 256)
    assert fine < 1.0 and fine < corner_error(coarse.transform.matrix, truth, 256, 256)


def test_rotation_search_lets_dense_match_any_rotation() -> None:
    truth = _turn(140.0, 1.2, (6.0, -4.0))
    reference, query = _pair(truth, seed=5)
    matcher = PairMatcher(method='dense')
    assert (
        corner_error(
            None if (r := matcher(reference, query).transform) is None else r.matrix,
            truth,
            256,
            256,
        )
        > 10
    )
    found = matcher(reference, query, search=True)
    assert corner_error(found.transform.matrix, truth, 256, 256) < 3


def test_bad_methods() -> None:
    with pytest.raises(InputError, match='method'):
        PairMatcher(method='sift')  # type: ignore[arg-type]
    with pytest.raises(InputError, match='needs a CSTF matcher'):
        PairMatcher(method='cstf')
    with pytest.raises(InputError, match='searches: the search needs at least one'):
        PairMatcher(method='dense', searches=())
    with pytest.raises(InputError, match='fallback_turns: must be 0 or more, got -1'):
        PairMatcher(method='dense', fallback_turns=-1)
    with pytest.raises(InputError, match='method'):
        match(np.zeros((64, 64)), np.zeros((64, 64)), method='orb')  # type: ignore[arg-type]
    with pytest.raises(InputError, match="method: must be one of .* got 'orb'"):
        coregister(
            'absent.tif', 'absent.tif', options=RegistrationOptions(method='orb')
        )  # type: ignore[arg-type]
    with pytest.raises(InputError, match='prior'):
        match(np.ones((64, 64)), np.ones((64, 64)), method='dense', prior=np.eye(2))


def test_match_and_cli_use_the_georeferences_as_prior(tmp_path: Path) -> None:
    truth = generate_pair(
        tmp_path / 'ref.tif',
        tmp_path / 'query.tif',
        7,
        size=(384, 384),
        modality='sar',
        warp='similarity',
        scale=(0.95, 1.05),
        rotation=(-3.0, 3.0),
        georef_error=15.0,
    )
    result = match(tmp_path / 'ref.tif', tmp_path / 'query.tif', method='dense')
    assert result.method == 'dense' and result.transform is not None
    assert result.transform.model == 'affine'  # around the georeferences' prior
    assert corner_error(result.transform.matrix, truth.warp_matrix(), 384, 384) < 3
    out = tmp_path / 'coreg'
    argv = ['match', str(tmp_path / 'ref.tif'), str(tmp_path / 'query.tif')]
    assert main([*argv, '--out', str(out), '--method', 'dense', '--quiet']) == 0
    report = json.loads((out / 'report.json').read_text())
    assert report['method'] == 'dense' and report['rmse_px'] < 2
    assert report['transform'] == 'affine'  # RegistrationOptions' default
    again = tmp_path / 'coreg-homography'
    assert (
        main([*argv, '--out', str(again), '--transform', 'homography', '--quiet']) == 0
    )
    assert json.loads((again / 'report.json').read_text())['transform'] == 'homography'


def test_a_search_that_finds_nothing_near_the_centre_looks_further() -> None:
    # turned 40° and 70 px (27 % of the side) off: beyond what the search's
    # first reach (an eighth of the side) and the dense radius bridge, within
    # the far reach (a quarter)
    truth = _turn(40.0, 1.0, (70.0, 0.0))
    reference, query = _pair(truth)
    matcher = PairMatcher(method='dense')
    near_only = PairMatcher(method='dense', searches=(SearchStep(0.125, False),))
    near = near_only(reference, query, search=True)
    assert near.inliers < matcher.min_inliers
    found = matcher(reference, query, search=True)
    assert found.inliers >= matcher.min_inliers
    assert corner_error(found.transform.matrix, truth, 256, 256) < 3


def test_a_query_showing_part_of_the_reference_is_found_by_its_own_template() -> None:
    # a SAR-like query at 1.8 times the scale, turned 120°: it shows a third of
    # the reference, too little to hold the reference's central template
    # (three quarters of the side) against its speckle
    truth = _turn(120.0, 1.8, (0.0, 0.0), size=384)
    reference, query = _pair(truth, seed=3, size=384, modality='sar')
    one_way = tuple(step for step in SEARCHES if not step.swapped)
    assert len(one_way) < len(SEARCHES)
    for searches, found_it in ((one_way, False), (SEARCHES, True)):
        matcher = PairMatcher(method='dense', searches=searches)
        result = matcher(reference, query, search=True)
        fitted = None if result.transform is None else result.transform.matrix
        assert (corner_error(fitted, truth, 384, 384) < 10) == found_it
    assert result.inliers >= dense_min_inliers()


def test_auto_is_dense_wherever_dense_matching_settles_the_search() -> None:
    # the pair above, with a CSTF matcher that is confidently wrong (its 25
    # matches 40 px off, consistent with each other): around the first step's
    # candidates they reach min_inliers, but dense matching settles the
    # search at its swapped step, and auto never asks CSTF
    truth = _turn(120.0, 1.8, (0.0, 0.0), size=384)
    reference, query = _pair(truth, seed=3, size=384, modality='sar')
    wrong = OracleMatcher(_turn(0.0, 1.0, (40.0, 0.0), size=384))
    auto = PairMatcher(method='auto', cstf=wrong)
    result = auto(reference, query, search=True)
    dense = PairMatcher(method='dense')(reference, query, search=True)
    assert result.method == 'dense' and auto._settles(result)
    assert np.allclose(result.transform.matrix, dense.transform.matrix)
    assert corner_error(result.transform.matrix, truth, 384, 384) < 10
    # CSTF alone is settled by its own wrong matches at the first step; for
    # auto such a result would not end a step
    alone = PairMatcher(method='cstf', cstf=wrong, searches=SEARCHES[:1])
    first = alone(reference, query, search=True)
    assert first.method == 'cstf' and alone._settles(first)
    assert corner_error(first.transform.matrix, truth, 384, 384) > 10
    assert not auto._settles(first)


def test_a_weak_coarse_fit_gets_the_fine_pass() -> None:
    matcher = PairMatcher(method='dense')
    # a SAR-like query, the prior off by one step of the search's grid (7.5°,
    # 2^¼): at half resolution the speckle leaves the coarse pass too few
    # matches to trust, and the fine pass around its fit finds the rest
    truth = _turn(-45.0, 1.6, (0.0, 0.0), size=384)
    reference, query = _pair(truth, seed=8, size=384, modality='sar')
    described = matcher.dense.describe(reference[None])
    prior = _turn(-37.5, 1.6 * 2**0.25, (0.0, 0.0), size=384)
    coarse = matcher._dense_once(described, query, prior, 'coarse')
    assert matcher.min_inliers // 2 <= coarse.inliers < matcher.min_inliers
    fine = matcher._dense(described, query, prior)
    assert fine.inliers >= matcher.min_inliers
    assert corner_error(fine.transform.matrix, truth, 384, 384) < 5
    # around a wrong coarse fit the fine pass finds no consistent set
    truth = _turn(120.0, 1.8, (0.0, 0.0), size=384)
    reference, query = _pair(truth, seed=3, size=384, modality='sar')
    described = matcher.dense.describe(reference[None])
    prior = _turn(127.5, 1.8 * 2**0.25, (0.0, 0.0), size=384)
    wrong = matcher._dense(described, query, prior)
    assert wrong.inliers < matcher.min_inliers
    assert corner_error(wrong.transform.matrix, truth, 384, 384) > 10


@pytest.mark.slow
def test_auto_tries_the_learned_matcher_at_fixed_turns_when_the_search_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from torchgeo_cstf.inference import methods
    from torchgeo_cstf.models.registry import MATCHERS, resolve_model
    from torchgeo_cstf.models.search import Candidate

    truth = _turn(125.0, 1.1, (5.0, -3.0))
    reference, query = _pair(truth, seed=6)
    # a search whose every candidate is a quarter turn off (as speckle can
    # make it), whichever image's template it looks for
    wrong = _turn(35.0, 1.1, (5.0, -3.0))

    def search(first: Tensor, second: Tensor, **kwargs: object) -> list[Candidate]:
        swapped = torch.equal(first[0], query)
        matrix = np.linalg.inv(wrong) if swapped else wrong
        return [Candidate(matrix, 1.0, -35.0 if swapped else 35.0, 1.1)]

    monkeypatch.setattr(methods, 'search_rotation_scale', search)
    dense = PairMatcher(method='dense')(reference, query, search=True)
    assert dense.inliers < dense_min_inliers()
    cstf = resolve_model('cstf_matcher_regnetx_004', MATCHERS).model
    auto = PairMatcher(method='auto', cstf=cstf)(reference, query, search=True)
    assert auto.method == 'cstf+dense' and auto.inliers >= dense_min_inliers()
    assert corner_error(auto.transform.matrix, truth, 256, 256) < 3
    # found from one of the fixed turns (not from the search's candidate)
    turn = np.degrees(np.arctan2(auto.prior[0, 1], auto.prior[0, 0]))
    step = 360 / methods.FALLBACK_TURNS
    assert abs(turn / step - round(turn / step)) < 1e-6
    # dense matching alone, or auto without the turns, stays lost
    no_turns = PairMatcher(method='auto', cstf=cstf, fallback_turns=0)
    lost = no_turns(reference, query, search=True)
    assert lost.inliers < dense_min_inliers()


def dense_min_inliers() -> int:
    return PairMatcher(method='dense').min_inliers
