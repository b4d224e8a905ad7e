"""Merging patch detections back to whole images, and DOTA Task 1 files.

:func:`merge_patch_predictions` maps patch detections
back to the image (add the offset, divide by the rate) and removes duplicates
with class-wise rotated NMS (IoU 0.1); :func:`write_task1` writes the
``Task1_<class>.txt`` files the DOTA evaluation server (and
:func:`~torchgeo_cstf.metrics.evaluate_dota_task1`) read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from torch import Tensor

from ...errors import InputError
from ...io.atomic import atomic_output
from ...ops.boxes import check_boxes, cxcywhr_to_poly
from ...ops.nms import merge_boxes
from .dataset import PatchOrigin


class ImageDetections(NamedTuple):
    """Oriented detections of one image.

    Attributes:
        boxes: (N, 5) CXCYWHR boxes.
        scores: (N,) scores.
        labels: (N,) int64 class labels.
    """

    boxes: Tensor
    scores: Tensor
    labels: Tensor


@dataclass(frozen=True)
class PatchPrediction:
    """A detector's output on one patch, in the patch's pixels.

    Attributes:
        origin: where the patch lies in its source image.
        boxes: (N, 5) CXCYWHR boxes.
        scores: (N,) scores.
        labels: (N,) integer class labels.
    """

    origin: PatchOrigin
    boxes: Tensor
    scores: Tensor
    labels: Tensor


def merge_patch_predictions(
    predictions: Iterable[PatchPrediction], iou_threshold: float = 0.1
) -> dict[str, ImageDetections]:
    """Map patch detections back to their images and merge them.

    Boxes move by the patch's offset and are divided by its rate
    (``cx = (px + x) / rate``, likewise ``cy``, ``w``, ``h``; angles are kept);
    the detections of all patches and rates of an image then go through
    class-wise rotated NMS (:func:`~torchgeo_cstf.ops.merge_boxes`, the merge of
    scene inference too).

    Args:
        predictions: per-patch detections, in patch pixels.
        iou_threshold: NMS threshold (0.1: the DOTA devkit's and MMRotate's).

    Returns:
        The detections of each image id, by decreasing score.

    Raises:
        InputError: boxes, scores and labels of a patch do not match.
    """
    gathered: dict[str, list[ImageDetections]] = {}
    for prediction in predictions:
        _check_prediction(prediction)
        origin = prediction.origin
        boxes = prediction.boxes.clone()
        boxes[:, 0] += origin.x
        boxes[:, 1] += origin.y
        boxes[:, :4] /= origin.rate
        gathered.setdefault(origin.image_id, []).append(
            ImageDetections(boxes, prediction.scores, prediction.labels.long())
        )
    return {
        image_id: ImageDetections(*merge_boxes(parts, iou_threshold))
        for image_id, parts in gathered.items()
    }


def _check_prediction(prediction: PatchPrediction) -> None:
    boxes, scores, labels = prediction.boxes, prediction.scores, prediction.labels
    name = f'prediction for {prediction.origin.name}'
    check_boxes(boxes, f'boxes of the {name}')
    if scores.shape != (len(boxes),) or labels.shape != (len(boxes),):
        raise InputError(
            name,
            f'scores and labels must have shape ({len(boxes)},), got '
            f'{tuple(scores.shape)} and {tuple(labels.shape)}',
        )
    if prediction.origin.rate <= 0:
        raise InputError(name, f'rate must be positive, got {prediction.origin.rate}')


def write_task1(
    results: Mapping[str, ImageDetections],
    out_dir: str | os.PathLike[str],
    class_names: Sequence[str],
) -> list[Path]:
    """Write DOTA Task 1 result files, ``Task1_<class>.txt``.

    Each line is ``<image_id> <score> x1 y1 x2 y2 x3 y3 x4 y4``, the corners of
    the box (:func:`~torchgeo_cstf.ops.cxcywhr_to_poly`, clockwise on screen).
    Every class gets a file, empty without detections, as the evaluation
    server expects; images are written in sorted id order. Each file is written
    atomically.

    Args:
        results: detections per image id, in the original image's pixels (e.g.
            from :func:`merge_patch_predictions`).
        out_dir: directory of the files; created if needed.
        class_names: names indexed by label (e.g. ``DOTA(...).classes``).

    Returns:
        The written paths, in class order.

    Raises:
        InputError: duplicate or no class names, or a label outside them.
    """
    names = list(class_names)
    if not names or len(set(names)) != len(names):
        raise InputError('class_names', 'must be a non-empty list of distinct names')
    lines: list[list[str]] = [[] for _ in names]
    for image_id in sorted(results):
        boxes, scores, labels = results[image_id]
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < len(names):
            raise InputError(
                f'results[{image_id!r}]',
                f'has labels outside [0, {len(names)}) (the class_names)',
            )
        corners = cxcywhr_to_poly(boxes.detach().double().cpu()).reshape(-1, 8)
        for label, score, polygon in zip(
            labels.tolist(), scores.tolist(), corners.tolist(), strict=True
        ):
            coords = ' '.join(f'{v:.2f}' for v in polygon)
            lines[label].append(f'{image_id} {score:.6f} {coords}\n')
    paths = []
    for name, class_lines in zip(names, lines, strict=True):
        path = Path(out_dir) / f'Task1_{name}.txt'
        with atomic_output(path) as tmp:
            tmp.write_text(''.join(class_lines), encoding='utf-8')
        paths.append(path)
    return paths
