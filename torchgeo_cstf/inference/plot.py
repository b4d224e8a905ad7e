"""Pictures of matches between two images."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch

from ..errors import InputError
from ..io.atomic import atomic_output
from ..models.matcher import Matches
from ..ops.homography import apply_homography
from ..plotting import display_image
from .matching import ImageInput, load_image


def plot_matches(
    reference: ImageInput,
    query: ImageInput,
    matches: Matches,
    path: str | os.PathLike[str] | None = None,
    *,
    warp: Any = None,
    threshold: float = 3.0,
    max_matches: int = 300,
    title: str | None = None,
) -> Figure:
    """Draw the two images side by side with a line per match.

    Without ``warp`` the lines are coloured by confidence (viridis: yellow =
    confident). With the true ``warp`` (3×3, reference → query pixels) they
    show correctness: green within ``threshold`` px of the true position, red
    beyond, and the title gives the share of correct matches.

    Args:
        reference: the reference (raster path, array or tensor).
        query: the query.
        matches: matches in the images' full-resolution pixel coordinates.
        path: also write the figure there as a PNG (atomically).
        warp: optional true reference → query warp.
        threshold: correctness threshold in query pixels.
        max_matches: draw at most this many (the most confident).
        title: figure title.

    Returns:
        The figure.
    """
    if max_matches < 1:
        raise InputError('max_matches', f'must be positive, got {max_matches}')
    ref = load_image(reference, 1024)
    qry = load_image(query, 1024)
    shown = matches.top(max_matches)
    figure = Figure(figsize=(12, 6), layout='constrained')
    left, right = figure.subplots(1, 2)
    for ax, image in ((left, ref), (right, qry)):
        ax.imshow(display_image(image.pixels * 254 + 1), cmap='gray')
        ax.set_axis_off()
    ref_xy = shown.ref_xy.double().numpy() / ref.scale
    qry_xy = shown.query_xy.double().numpy() / qry.scale
    confidence = shown.confidence.float().numpy()
    if warp is not None:
        truth = apply_homography(
            np.asarray(warp, dtype=np.float64), shown.ref_xy.double().numpy()
        )
        correct = (
            np.linalg.norm(truth - shown.query_xy.double().numpy(), axis=1) <= threshold
        )
        colours: list[Any] = ['#34c759' if ok else '#ff3b30' for ok in correct]
        share = float(correct.mean()) if len(correct) else 0.0
        caption = f'{len(shown)} matches, {share:.0%} within {threshold:g} px'
    else:
        colours = [colormaps['viridis'](float(c)) for c in confidence]
        caption = f'{len(shown)} matches (colour: confidence)'
    for (rx, ry), (qx, qy), colour in zip(ref_xy, qry_xy, colours, strict=True):
        figure.add_artist(
            ConnectionPatch(
                xyA=(rx, ry),
                xyB=(qx, qy),
                coordsA='data',
                coordsB='data',
                axesA=left,
                axesB=right,
                color=colour,
                lw=0.6,
                alpha=0.8,
            )
        )
    left.scatter(ref_xy[:, 0], ref_xy[:, 1], s=4, c=colours)
    right.scatter(qry_xy[:, 0], qry_xy[:, 1], s=4, c=colours)
    left.set_title('reference')
    right.set_title('query')
    figure.suptitle(title or caption if title is None else f'{title}: {caption}')
    if path is not None:
        with atomic_output(path) as tmp:
            figure.savefig(tmp, dpi=100, format='png')
    return figure
