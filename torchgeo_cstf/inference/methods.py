"""The matching methods behind ``match``, ``coregister`` and ``cstf match --method``.

Three ways to match a prepared pair of images (tensors in [0, 1], one frame
each), all ending in the same robust fit (MAGSAC++):

- ``cstf``: the learned CSTF matcher (:class:`~torchgeo_cstf.models.CSTFMatcher`)
  on the query resampled into the reference frame by the prior;
- ``dense``: the training-free dense structure matcher
  (:class:`~torchgeo_cstf.models.dense.DenseMatcher`) around the prior;
- ``auto``: dense first; when it finds fewer than ``min_inliers`` consistent
  matches, CSTF gives a coarse transform that dense matching then refines
  (kept when the refinement finds ``min_inliers``; otherwise the better of
  the two first results by inlier count).

Dense matching runs twice: around the prior, then around its own fit (see
:meth:`PairMatcher._dense`).

The *prior* is the reference → query map the images are believed to follow:
the georeferences' when both inputs have one, identity for pre-aligned
images, or — with ``search`` — each of the best candidates of the rotation/
scale search (:func:`~torchgeo_cstf.models.search.search_rotation_scale`), of
which the one leading to the most inliers is kept. The search runs as the
steps of :data:`SEARCHES`, each only when those before it led to fewer than
``min_inliers``: the reference's centre looked for in the query; the
query's centre looked for in the reference (a query at a larger scale shows
only part of the reference, too little to hold the reference's template);
the reference's again with twice the reach (:data:`FAR_OFFSET`). ``auto``
runs dense matching alone through those steps first (so wherever dense
matching settles the search, ``auto`` gives its result), then CSTF-seeded
dense matching through them, and when neither gets there, the CSTF matcher
at :data:`FALLBACK_TURNS` fixed turns of the query, each refined by dense
matching. With ``auto``, only results that dense matching found or confirmed
end a step (:meth:`PairMatcher._settles`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from ..io.radiometry import fit_bands
from ..models.dense import DenseMatcher, Described, Stage, warp_image
from ..models.matcher import CSTFMatcher, Matches, warp_points
from ..models.search import MAX_OFFSET, search_rotation_scale, similarity
from ..models.transform import Transform, estimate_transform
from ..ops.homography import Matrix
from ..ops.padding import pad_to_multiple
from ..options import METHODS, MatchMethod, TransformModel


@dataclass(frozen=True)
class PairResult:
    """Matches of one pair and the transform fitted to them.

    Attributes:
        matches: correspondences (continuous pixel coordinates of each image).
        transform: the robust reference → query transform, or ``None``.
        method: the method that produced them (``cstf``, ``dense`` or, for
            ``auto``'s refinement, ``cstf+dense``).
        prior: the prior they were found around.
    """

    matches: Matches
    transform: Transform | None
    method: str
    prior: Matrix

    @property
    def inliers(self) -> int:
        """Number of matches consistent with the transform (0 without one)."""
        return 0 if self.transform is None else self.transform.num_inliers


def check_method(method: str) -> None:
    """Raise :class:`InputError` unless ``method`` is one of :data:`METHODS`."""
    if method not in METHODS:
        raise InputError('method', f'must be one of {METHODS}, got {method!r}')


def _padded(image: Tensor, bands: int, multiple: int) -> Tensor:
    """(1, bands, H', W'): bands adapted, padded right/bottom to ``multiple``."""
    pixels = torch.from_numpy(np.ascontiguousarray(fit_bands(image.numpy(), bands)))
    return pad_to_multiple(pixels[None].float(), multiple)


def _inverse(matrix: Matrix) -> Matrix:
    """The inverse of a 3×3 projective map, scaled to a last element of 1."""
    inverse = np.linalg.inv(matrix)
    return np.asarray(inverse / inverse[2, 2], np.float64)


def _inside(xy: Tensor, height: int, width: int) -> Tensor:
    return (xy[:, 0] < width) & (xy[:, 1] < height) & (xy >= 0).all(dim=1)


#: the search's reach when its first reach (:data:`~torchgeo_cstf.models.search.MAX_OFFSET`)
#: leads to too few inliers: a query further off the reference's centre
FAR_OFFSET = 2 * MAX_OFFSET


class SearchStep(NamedTuple):
    """One step of the rotation/scale search that ``search=True`` runs.

    Attributes:
        reach: farthest the searched image's centre is looked for, as a share
            of the short side (``max_offset`` of
            :func:`~torchgeo_cstf.models.search.search_rotation_scale`).
        swapped: the query's centre template is looked for in the reference
            (instead of the reference's in the query), its candidates
            inverted into reference → query priors.
    """

    reach: float
    swapped: bool


def fitted_model(prior: Matrix | None, search: bool) -> TransformModel:
    """The transform model fitted to a pair's matches when none is chosen.

    Affine where the pair is matched around an affine prior — identity for
    pre-aligned images, the georeferences' map, a user's affine prior: what is
    left between two georeferenced acquisitions is a shift, a small rotation
    and scale (orthorectified images hold no perspective), and the two
    extra degrees of freedom of a homography only follow the matches' noise,
    which the corners then amplify wherever the matches cluster. A
    homography when searching (the pair may be any view of the scene) or
    around a projective prior (``docs/design.md``).

    Args:
        prior: the reference → query prior (``None``: identity).
        search: whether the rotation/scale search replaces the prior.

    Returns:
        ``affine`` or ``homography``.
    """
    if search:
        return 'homography'
    if prior is None:
        return 'affine'
    perspective = np.asarray(prior, np.float64)[2, :2]
    return (
        'affine'
        if np.allclose(perspective, 0.0, rtol=0.0, atol=1e-12)
        else 'homography'
    )


#: the searches ``search=True`` tries in turn, each only when those before led
#: to fewer than ``min_inliers``: the reference's template near the centre;
#: the query's (where the query, at a larger scale, shows too little of the
#: reference to hold the reference's template); the reference's further off
SEARCHES: tuple[SearchStep, ...] = (
    SearchStep(MAX_OFFSET, swapped=False),
    SearchStep(MAX_OFFSET, swapped=True),
    SearchStep(FAR_OFFSET, swapped=False),
)
#: turns of the query (evenly spaced) at which ``auto`` tries the CSTF matcher
#: when no search step settles the search: 30° apart, so that one of
#: them lies within the ±15° the matcher is trained to bridge (±30°)
FALLBACK_TURNS = 12


@dataclass
class PairMatcher:
    """Match prepared image pairs with one of :data:`METHODS`.

    Args:
        method: ``cstf``, ``dense`` or ``auto``.
        cstf: the CSTF matcher (needed by ``cstf`` and ``auto``).
        dense: the dense matcher's settings.
        transform_model: ``homography`` or ``affine``; by default the one
            that fits the case (:func:`fitted_model`): affine around an affine
            prior (georeferences, pre-aligned images), homography when
            searching or around a projective prior.
        threshold: inlier threshold of the robust fit, in query pixels.
        min_confidence: CSTF matches less probable than this are dropped.
        min_inliers: consistent matches from which a result settles the search
            (dense matching's fine pass runs from half as many).
        device: where the CSTF matcher runs.
        searches: the steps of ``search=True``, tried in turn (default
            :data:`SEARCHES`).
        fallback_turns: turns of the query at which ``auto`` tries the CSTF
            matcher when no search step settles (default
            :data:`FALLBACK_TURNS`; 0: none).
    """

    method: MatchMethod = 'auto'
    cstf: CSTFMatcher | None = None
    dense: DenseMatcher = field(default_factory=DenseMatcher)
    transform_model: TransformModel | None = None
    threshold: float = 3.0
    min_confidence: float = 0.2
    min_inliers: int = 16
    device: str | torch.device = 'cpu'
    searches: tuple[SearchStep, ...] = SEARCHES
    fallback_turns: int = FALLBACK_TURNS

    def __post_init__(self) -> None:
        """Check the settings."""
        check_method(self.method)
        if self.method != 'dense' and self.cstf is None:
            raise InputError('model', f'method {self.method!r} needs a CSTF matcher')
        if not self.searches:
            raise InputError('searches', 'the search needs at least one step')
        if self.fallback_turns < 0:
            raise InputError(
                'fallback_turns', f'must be 0 or more, got {self.fallback_turns}'
            )

    def __call__(
        self,
        reference: Tensor,
        query: Tensor,
        prior: Matrix | None = None,
        *,
        search: bool = False,
    ) -> PairResult:
        """Match one pair.

        Args:
            reference: (C, H, W) in [0, 1] (zeros: no data).
            query: (C', H', W') in [0, 1].
            prior: 3×3 reference → query map (default identity).
            search: try the rotation/scale search's candidates as priors
                (instead of ``prior``) and keep the best outcome, step by step
                of ``searches`` until one settles the search; with
                ``auto``, dense matching alone through every step first, then
                CSTF-seeded dense matching, then the CSTF matcher at
                ``fallback_turns`` turns of the query.

        Returns:
            The best result over the priors tried.
        """
        if self.transform_model is None:  # this call's model, on a shallow copy
            chosen = copy.copy(self)
            chosen.transform_model = fitted_model(prior, search)
            return chosen(reference, query, prior, search=search)
        reference, query = reference.float().cpu(), query.float().cpu()
        # the dense description is shared by the priors (CSTF alone needs none)
        described = (
            None if self.method == 'cstf' else self.dense.describe(reference[None])
        )
        if not search:
            start = np.eye(3) if prior is None else np.asarray(prior, np.float64)
            return self._with_prior(reference, described, query, start)
        # each step's candidates searched once, whichever pass reads them
        priors = cache(partial(self._step_priors, reference, query))
        if self.method != 'auto':
            return self._cascade(
                priors, lambda p: self._with_prior(reference, described, query, p)
            )
        assert described is not None  # described for every method but cstf
        # dense matching alone through every step first: where it settles,
        # auto is dense; CSTF comes in only where dense finds nothing
        best = self._cascade(priors, lambda p: self._dense(described, query, p))
        if not self._settles(best):
            seeded = self._cascade(
                priors, lambda p: self._seeded(reference, described, query, p)
            )
            best = max((best, seeded), key=self._rank)
        if not self._settles(best):
            # nothing consistent where the search looked (speckle can hide the
            # structure its single template scores): the learned matcher at
            # fixed turns, each refined by dense matching
            turned = self._turned(reference, described, query)
            best = max((best, turned), key=self._rank)
        return best

    def _cascade(
        self,
        priors: Callable[[SearchStep], list[Matrix]],
        match: Callable[[Matrix], PairResult],
    ) -> PairResult:
        """The best of ``match`` over the candidates, step by step of ``searches``.

        A step runs only when those before it did not settle the search.
        """

        def best_of(step: SearchStep) -> PairResult:
            return max((match(prior) for prior in priors(step)), key=self._rank)

        best = best_of(self.searches[0])
        for step in self.searches[1:]:
            if self._settles(best):
                break
            best = max((best, best_of(step)), key=self._rank)
        return best

    def _settles(self, result: PairResult) -> bool:
        """Whether ``result`` ends the search.

        It does with ``min_inliers`` that dense matching found or confirmed;
        CSTF's own matches settle it only where CSTF is the method (with
        ``auto``, coarse CSTF matches of a wrong candidate can reach
        ``min_inliers``: the search goes on to its next step).
        """
        trusted = self.method == 'cstf' or result.method != 'cstf'
        return trusted and result.inliers >= self.min_inliers

    def _rank(self, result: PairResult) -> tuple[bool, int]:
        """Results that settle the search first, then by inliers."""
        return self._settles(result), result.inliers

    def _turned(
        self, reference: Tensor, described: Described, query: Tensor
    ) -> PairResult:
        """The best CSTF + dense result over ``fallback_turns`` turns."""
        ref_centre = np.array([reference.shape[-1], reference.shape[-2]]) / 2
        query_centre = np.array([query.shape[-1], query.shape[-2]]) / 2
        results = []
        for step in range(self.fallback_turns):
            prior = similarity(
                360.0 * step / self.fallback_turns, 1.0, ref_centre, query_centre
            )
            coarse = self._cstf(reference, query, prior)
            if coarse.transform is not None:
                results.append(self._refined(described, query, coarse))
        empty = PairResult(Matches.empty(), None, 'cstf+dense', np.eye(3))
        return max(results, key=self._rank, default=empty)

    def _step_priors(
        self, reference: Tensor, query: Tensor, step: SearchStep
    ) -> list[Matrix]:
        """The candidates of one search step, as reference → query priors."""
        if step.swapped:
            candidates = search_rotation_scale(
                query[None], reference[None], max_offset=step.reach
            )
            return [_inverse(c.matrix) for c in candidates]
        candidates = search_rotation_scale(
            reference[None], query[None], max_offset=step.reach
        )
        return [c.matrix for c in candidates]

    def _with_prior(
        self,
        reference: Tensor,
        described: Described | None,
        query: Tensor,
        prior: Matrix,
    ) -> PairResult:
        if self.method == 'cstf':
            return self._cstf(reference, query, prior)
        assert described is not None  # described for every method but cstf
        if self.method == 'dense':
            return self._dense(described, query, prior)
        first = self._dense(described, query, prior)
        if self._settles(first):
            return first
        return max(
            (first, self._seeded(reference, described, query, prior)), key=self._rank
        )

    def _seeded(
        self, reference: Tensor, described: Described, query: Tensor, prior: Matrix
    ) -> PairResult:
        """CSTF's coarse transform around ``prior``, refined by dense matching.

        The refinement when it reaches ``min_inliers`` (precise where CSTF's
        cells are coarse), else CSTF's own result.
        """
        coarse = self._cstf(reference, query, prior)
        if coarse.transform is None:
            return coarse
        refined = self._refined(described, query, coarse)
        return refined if self._settles(refined) else coarse

    def _refined(
        self, described: Described, query: Tensor, coarse: PairResult
    ) -> PairResult:
        """Dense matching around CSTF's coarse transform (which must exist)."""
        assert coarse.transform is not None
        refined = self._dense(described, query, coarse.transform.matrix)
        return PairResult(
            refined.matches, refined.transform, 'cstf+dense', coarse.prior
        )

    def fit(self, matches: Matches) -> Transform | None:
        """The robust transform of a set of matches (homography if unset)."""
        return estimate_transform(
            matches, self.transform_model or 'homography', threshold=self.threshold
        )

    def _dense(self, described: Described, query: Tensor, prior: Matrix) -> PairResult:
        """A coarse dense pass around the prior, then a fine one around its fit.

        The coarse pass searches the whole radius at half resolution; its fit
        is right to a pixel or two, so the fine pass only looks ±3 pixels
        around it, at full resolution, with templates that now meet the query
        at the right scale and angle (the prior may be off by the search's
        steps: 7.5°, a factor of 2^¼). Two full passes cost twice as much and
        found no more (``docs/design.md``). The fine pass runs from half of
        ``min_inliers``: a coarse fit too weak to trust can still be right to
        a pixel or two, and the fine templates then find the matches that
        settle it (speckle hides them at half resolution).
        """
        result = self._dense_once(described, query, prior, 'coarse')
        if result.transform is None or result.inliers < self.min_inliers // 2:
            return result
        again = self._dense_once(described, query, result.transform.matrix, 'fine')
        return again if again.inliers >= result.inliers else result

    def _dense_once(
        self, described: Described, query: Tensor, prior: Matrix, stage: Stage
    ) -> PairResult:
        found = self.dense.match(
            described, query[None], torch.from_numpy(prior)[None], stage
        )[0]
        return PairResult(found, self.fit(found), 'dense', prior)

    def _cstf(self, reference: Tensor, query: Tensor, prior: Matrix) -> PairResult:
        assert self.cstf is not None  # checked in __post_init__
        height, width = reference.shape[-2:]
        aligned = warp_image(
            query[None], torch.from_numpy(prior)[None], (height, width)
        )[0]
        covered = aligned[-1:] > 0.99
        aligned = aligned[:-1] * covered
        cstf, multiple = self.cstf, self.cstf.size_multiple
        found = cstf.match(
            _padded(reference, cstf.reference_channels, multiple).to(self.device),
            _padded(aligned, cstf.query_channels, multiple).to(self.device),
            self.min_confidence,
        )[0].cpu()
        keep = _inside(found.ref_xy, height, width) & _inside(
            found.query_xy, height, width
        )
        if not keep.any():
            return PairResult(Matches.empty(), None, 'cstf', prior)
        query_xy = warp_points(
            torch.from_numpy(prior)[None], found.query_xy[keep].double()[None]
        )[0]
        matches = Matches(found.ref_xy[keep].double(), query_xy, found.confidence[keep])
        return PairResult(matches, self.fit(matches), 'cstf', prior)
