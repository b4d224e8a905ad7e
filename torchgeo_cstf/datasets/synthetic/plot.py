"""Draw synthetic acquisitions with their ground-truth boxes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch, Polygon

from ...ops.boxes import cxcywhr_to_poly
from .generate import PairAcquisition
from .truth import SceneTruth

#: edge colour per class label
CLASS_COLOURS: tuple[str, ...] = ('#ff3b30', '#ffcc00', '#34c7ff')


def display_image(image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """(C, H, W) digital numbers → (H, W, 3) or (H, W) floats in [0, 1].

    Each band is stretched between its 2nd and 98th percentile of valid
    (non-zero) pixels; 1- and 2-band images are shown in grey (first band).

    Args:
        image: digital numbers, 0 = nodata.

    Returns:
        An array for ``imshow``.
    """
    bands = image[:3] if image.shape[0] >= 3 else image[:1]
    out = np.zeros(bands.shape, dtype=np.float32)
    for index, band in enumerate(bands):
        valid = band[band > 0]
        if valid.size == 0:
            continue
        low, high = np.percentile(valid, [2, 98])
        out[index] = np.clip((band - low) / max(high - low, 1e-6), 0, 1)
    return out.transpose(1, 2, 0) if out.shape[0] == 3 else out[0]


def draw_boxes(
    ax: Axes,
    boxes: Any,
    labels: Any,
    *,
    classes: Sequence[str] | None = None,
    scores: Any = None,
    headings: Any = None,
    dashed: Any = None,
    linestyle: str = '-',
) -> int:
    """Draw CXCYWHR boxes on ``ax``, coloured by label.

    Args:
        ax: matplotlib axes (image coordinates).
        boxes: (N, 5) CXCYWHR boxes (tensor or array).
        labels: (N,) class indexes.
        classes: class names; when given, each box is captioned with its name
            (and score).
        scores: optional (N,) confidences, shown in the captions.
        headings: optional (N,) directions of the objects' fronts in degrees; a
            short line from the centre marks each.
        dashed: optional (N,) booleans: boxes to draw dashed (e.g. difficult).
        linestyle: edge style of the other boxes.

    Returns:
        The number of boxes drawn.
    """
    box_tensor = torch.as_tensor(boxes, dtype=torch.float64).reshape(-1, 5)
    label_list = [int(v) for v in torch.as_tensor(labels).reshape(-1).tolist()]
    corners = cxcywhr_to_poly(box_tensor).numpy()
    hard = np.zeros(len(corners), bool) if dashed is None else np.asarray(dashed, bool)
    many = classes is not None and len(classes) > len(CLASS_COLOURS)
    for index, (polygon, label) in enumerate(zip(corners, label_list, strict=True)):
        colour: Any = (
            colormaps['gist_rainbow'](label / len(classes))
            if many and classes is not None
            else CLASS_COLOURS[label % len(CLASS_COLOURS)]
        )
        style = '--' if hard[index] else linestyle
        ax.add_patch(
            Polygon(polygon, closed=True, fill=False, ec=colour, lw=0.9, ls=style)
        )
        cx, cy, w = (float(v) for v in box_tensor[index, :3])
        if headings is not None:
            rad = np.radians(float(headings[index]))
            ax.plot(
                [cx, cx + 0.5 * w * np.cos(rad)],
                [cy, cy - 0.5 * w * np.sin(rad)],
                color=colour,
                lw=0.7,
            )
        if classes is not None:
            caption = classes[label]
            if scores is not None:
                caption += f' {float(scores[index]):.2f}'
            top = polygon[polygon[:, 1].argmin()]
            ax.text(top[0], top[1] - 2, caption, color=colour, fontsize=6)
    return len(corners)


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
