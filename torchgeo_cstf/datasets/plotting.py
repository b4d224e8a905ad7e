"""Figures of detection samples: ground truth beside predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from matplotlib.figure import Figure
from torch import Tensor

from .synthetic.plot import display_image, draw_boxes


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
