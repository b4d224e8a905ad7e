"""Draw synthetic acquisitions with their ground-truth boxes."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch

from ..plotting import display_image, draw_boxes
from .generate import PairAcquisition
from .truth import SceneTruth


def plot_scene(
    image: np.ndarray[Any, Any],
    truth: SceneTruth,
    ax: Axes,
    *,
    title: str | None = None,
    show_headings: bool = True,
) -> int:
    """Draw an image and its boxes (coloured by class) on ``ax``.

    Args:
        image: (C, H, W) digital numbers.
        truth: its ground truth.
        ax: matplotlib axes to draw on.
        title: axes title (default: modality and object count).
        show_headings: mark each object's front with a short line.

    Returns:
        The number of boxes drawn.
    """
    ax.imshow(display_image(image), cmap='gray', interpolation='nearest')
    drawn = draw_boxes(
        ax,
        truth.boxes(),
        truth.labels(),
        headings=[o.heading for o in truth.objects] if show_headings else None,
    )
    ax.set_title(title or f'{truth.modality}: {len(truth.objects)} objects')
    ax.set_axis_off()
    return drawn


def plot_pair(pair: PairAcquisition) -> Figure:
    """Reference and query side by side, objects that did not move linked.

    Args:
        pair: an in-memory pair from :func:`~.generate.synthesize_pair`.

    Returns:
        The figure.
    """
    figure = Figure(figsize=(12, 6), layout='constrained')
    left, right = figure.subplots(1, 2)
    truth = pair.truth
    plot_scene(pair.reference, truth.reference, left, title='reference')
    plot_scene(
        pair.query,
        truth.query,
        right,
        title=f'query: {truth.query.modality}, {truth.warp_model} warp',
    )
    reference = {o.id: o for o in truth.reference.objects}
    for obj in truth.query.objects:
        if obj.id in reference and truth.changes.get(obj.id) == 'static':
            figure.add_artist(
                ConnectionPatch(
                    xyA=reference[obj.id].box[:2],
                    xyB=obj.box[:2],
                    coordsA='data',
                    coordsB='data',
                    axesA=left,
                    axesB=right,
                    color='white',
                    lw=0.5,
                    alpha=0.6,
                )
            )
    return figure
