"""Drawing for the whole package: image stretch, oriented boxes, detection figures.

One module draws; datasets, inference outputs, the simulator and the benchmarks
call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from torch import Tensor

from .ops.boxes import cxcywhr_to_poly

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


def sample_boxes(sample: dict[str, Any], prefix: str = '') -> Tensor:
    """Oriented boxes of a sample on the CPU, from ``bbox`` or ``bbox_xyxy``.

    Horizontal ``x1, y1, x2, y2`` boxes become CXCYWHR boxes with angle 0, so the
    same figure serves oriented and horizontal detectors.

    Args:
        sample: a sample dict.
        prefix: ``''`` for the ground truth, ``'prediction_'`` for predictions.

    Returns:
        (N, 5) CXCYWHR boxes (empty when the sample has none).
    """
    if f'{prefix}bbox' in sample:
        return torch.as_tensor(sample[f'{prefix}bbox']).detach().cpu().reshape(-1, 5)
    if f'{prefix}bbox_xyxy' in sample:
        xyxy = torch.as_tensor(sample[f'{prefix}bbox_xyxy']).detach().cpu()
        x1, y1, x2, y2 = xyxy.reshape(-1, 4).unbind(-1)
        return torch.stack(
            ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, torch.zeros_like(x1)), -1
        )
    return torch.zeros(0, 5)


def plot_detection_sample(
    sample: dict[str, Any],
    classes: Sequence[str],
    *,
    show_titles: bool = True,
    suptitle: str | None = None,
    min_score: float = 0.5,
) -> Figure:
    """Draw a detection sample: its image, boxes and class names.

    Ground truth comes from ``bbox`` (or horizontal ``bbox_xyxy``), ``label`` and
    ``difficult`` (drawn dashed). When ``prediction_label`` is present, a second
    panel shows the predictions (``prediction_bbox`` or ``prediction_bbox_xyxy``,
    optional ``prediction_score``) scoring at least ``min_score``. Images of any band
    count and range are shown with a 2–98 % stretch (RGB from the first three
    bands, else grey).

    Args:
        sample: the sample.
        classes: class names indexed by label.
        show_titles: title each panel.
        suptitle: title of the figure.
        min_score: hide predictions scoring less.

    Returns:
        The figure.
    """
    predicted = 'prediction_label' in sample
    figure = Figure(figsize=(6 * (1 + predicted), 6), layout='constrained')
    axes = figure.subplots(1, 1 + predicted, squeeze=False)[0]
    image = display_image(torch.as_tensor(sample['image']).detach().cpu().numpy())
    height, width = image.shape[:2]
    for ax in axes:
        # pixel (i, j) covers [j, j + 1] × [i, i + 1], like the boxes
        ax.imshow(
            image, cmap='gray', interpolation='nearest', extent=(0, width, height, 0)
        )
        ax.set_axis_off()
    labels = torch.as_tensor(sample.get('label', torch.zeros(0))).cpu().long()
    difficult = sample.get('difficult')
    draw_boxes(
        axes[0],
        sample_boxes(sample),
        labels,
        classes=classes,
        dashed=None if difficult is None else torch.as_tensor(difficult).cpu().numpy(),
    )
    if show_titles:
        axes[0].set_title(f'ground truth ({len(labels)})')
    if predicted:
        labels_pred = torch.as_tensor(sample['prediction_label']).cpu().long()
        scores = (
            torch.as_tensor(
                sample.get('prediction_score', torch.ones(len(labels_pred)))
            )
            .detach()
            .cpu()
        )
        keep = (scores >= min_score).numpy()
        kept_labels = labels_pred[keep]
        draw_boxes(
            axes[1],
            sample_boxes(sample, 'prediction_')[keep],
            kept_labels,
            classes=classes,
            scores=scores[keep] if 'prediction_score' in sample else None,
        )
        if show_titles:
            axes[1].set_title(f'prediction ({len(kept_labels)} ≥ {min_score:g})')
    if suptitle is not None:
        figure.suptitle(suptitle)
    return figure


class DetectionPlotMixin:
    """``plot()`` for detection datasets with a ``classes`` attribute."""

    classes: Sequence[str]

    def plot(
        self,
        sample: dict[str, Any],
        show_titles: bool = True,
        suptitle: str | None = None,
        min_score: float = 0.5,
    ) -> Figure:
        """Draw a sample's image with its oriented boxes and class names.

        Ground truth comes from ``bbox`` (or horizontal ``bbox_xyxy``), ``label``
        and ``difficult`` (dashed); with ``prediction_label`` a second panel shows
        the predictions scoring at least ``min_score`` (see
        :func:`plot_detection_sample`).

        Args:
            sample: a sample of the dataset, optionally with predictions.
            show_titles: title each panel.
            suptitle: title of the figure.
            min_score: hide predictions scoring less.

        Returns:
            The figure.
        """
        return plot_detection_sample(
            sample,
            self.classes,
            show_titles=show_titles,
            suptitle=suptitle,
            min_score=min_score,
        )
