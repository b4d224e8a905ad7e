"""Offline DOTA Task 1 (oriented boxes) evaluation from text files.

Reads the files the DOTA evaluation server takes, ``Task1_<class>.txt`` with
lines ``<image_id> <score> x1 y1 x2 y2 x3 y3 x4 y4``, and the DOTA label
files through the dataset's parser
(:func:`~torchgeo_cstf.datasets.dota.read_dota_labels`), and scores them with
the devkit protocol of :mod:`torchgeo_cstf.metrics.ap`.

Quadrilaterals are turned into their minimum-area rectangles
(:func:`~torchgeo_cstf.ops.poly_to_cxcywhr`) before the IoU is taken, while the
official ``dota_evaluation_task1.py`` intersects the raw quadrilaterals. For
rectangular labels and detections (every oriented-box detector's output) the
two are identical; for a non-rectangular label quadrilateral the IoU here is
that of its enclosing rectangle.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..datasets.dota.labels import read_dota_labels
from ..errors import InputError, InputNotFoundError
from ..io.text import parse_numbers, read_text_lines
from ..ops.boxes import poly_to_cxcywhr
from .ap import (
    APMethod,
    average_precision,
    check_ap_method,
    check_iou_thresholds,
    match_detections,
)

_RESULT_PREFIX = 'Task1_'


@dataclass(frozen=True)
class DotaTask1Result:
    """Scores of a DOTA Task 1 evaluation.

    Attributes:
        map: mean AP over the classes with at least one non-difficult ground
            truth (NaN if none has).
        ap: AP per class name; NaN for classes without non-difficult ground
            truth, which are left out of ``map``.
        num_ground_truths: non-difficult ground truths per class.
        num_detections: detections per class.
    """

    map: float
    ap: dict[str, float]
    num_ground_truths: dict[str, int]
    num_detections: dict[str, int]


@dataclass
class _Image:
    """Boxes of one image, gathered from all files."""

    gt_polygons: list[list[float]]
    gt_labels: list[int]
    gt_difficult: list[bool]
    polygons: list[list[float]]
    scores: list[float]
    labels: list[int]


def _read_labels(path: Path, class_index: dict[str, int], image: _Image) -> None:
    for obj in read_dota_labels(path):
        label = class_index.get(obj.name)
        if label is None:
            continue  # a class outside the evaluated list (devkit behaviour)
        image.gt_polygons.append(list(obj.polygon))
        image.gt_labels.append(label)
        image.gt_difficult.append(obj.difficult)


def _read_detections(path: Path, label: int, images: dict[str, _Image]) -> None:
    for line_no, line in enumerate(read_text_lines(path), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 10:
            raise InputError(
                f'{path}:{line_no}',
                f'expected "image_id score x1 y1 ... x4 y4", got {len(tokens)} fields',
            )
        image = images.get(tokens[0])
        if image is None:
            raise InputError(
                f'{path}:{line_no}', f'image {tokens[0]!r} has no label file'
            )
        values = parse_numbers(tokens[1:], f'{path}:{line_no}')
        image.scores.append(values[0])
        image.polygons.append(values[1:])
        image.labels.append(label)


def _result_files(
    results: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    class_index: dict[str, int],
) -> dict[int, Path]:
    if isinstance(results, str | os.PathLike):
        directory = Path(results)
        if not directory.is_dir():
            raise InputNotFoundError(directory, 'is not a directory')
        paths = sorted(directory.glob(f'{_RESULT_PREFIX}*.txt'))
    else:
        paths = [Path(p) for p in results]
    files: dict[int, Path] = {}
    for path in paths:
        if not path.is_file():
            raise InputNotFoundError(path, 'does not exist')
        name = path.name
        if not (name.startswith(_RESULT_PREFIX) and name.endswith('.txt')):
            raise InputError(path, 'must be named Task1_<class>.txt')
        label = class_index.get(name[len(_RESULT_PREFIX) : -len('.txt')])
        if label is None:
            raise InputError(path, 'names a class that is not in class_names')
        if label in files:
            raise InputError(path, f'repeats the class of {files[label]}')
        files[label] = path
    return files


def _boxes(polygons: list[list[float]]) -> Tensor:
    if not polygons:
        return torch.zeros((0, 5), dtype=torch.float64)
    return poly_to_cxcywhr(torch.tensor(polygons, dtype=torch.float64))


def evaluate_dota_task1(
    results: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    label_dir: str | os.PathLike[str],
    class_names: Sequence[str],
    iou_threshold: float = 0.5,
    ap_method: APMethod = 'voc07',
) -> DotaTask1Result:
    """Evaluate DOTA Task 1 result files against DOTA label files.

    Every ``*.txt`` file of ``label_dir`` is one image (its stem is the image id);
    a class without a result file has no detections. Label lines of classes not
    in ``class_names`` are skipped, as in the devkit.

    Args:
        results: a directory holding ``Task1_<class>.txt`` files, or the files.
        label_dir: directory of DOTA label files ``<image_id>.txt``.
        class_names: the classes to evaluate, e.g. the 15 of DOTA-v1.0.
        iou_threshold: a detection matches when IoU is strictly greater.
        ap_method: ``"voc07"`` (DOTA devkit, default) or ``"area"``.

    Returns:
        Per-class AP and mAP.

    Raises:
        InputError: malformed files (the message names file and line), a result
            file of an unknown class, a detection of an image without labels.
        InputNotFoundError: a missing directory or file.
    """
    thresholds = check_iou_thresholds([iou_threshold])
    check_ap_method(ap_method)
    names = list(class_names)
    if not names or len(set(names)) != len(names):
        raise InputError('class_names', 'must be a non-empty list of distinct names')
    class_index = {name: i for i, name in enumerate(names)}
    label_path = Path(label_dir)
    if not label_path.is_dir():
        raise InputNotFoundError(label_path, 'is not a directory')
    images: dict[str, _Image] = {}
    for path in sorted(label_path.glob('*.txt')):
        image = _Image([], [], [], [], [], [])
        _read_labels(path, class_index, image)
        images[path.stem] = image
    for label, path in sorted(_result_files(results, class_index).items()):
        _read_detections(path, label, images)

    scores, labels, tps, fps, gt_labels, gt_difficult = [], [], [], [], [], []
    for image in images.values():
        box_scores = torch.tensor(image.scores, dtype=torch.float64)
        box_labels = torch.tensor(image.labels, dtype=torch.int64)
        truth_labels = torch.tensor(image.gt_labels, dtype=torch.int64)
        difficult = torch.tensor(image.gt_difficult, dtype=torch.bool)
        tp, fp = match_detections(
            _boxes(image.polygons),
            box_scores,
            box_labels,
            _boxes(image.gt_polygons),
            truth_labels,
            difficult,
            thresholds,
        )
        scores.append(box_scores)
        labels.append(box_labels)
        tps.append(tp)
        fps.append(fp)
        gt_labels.append(truth_labels)
        gt_difficult.append(difficult)
    all_scores = torch.cat(scores) if scores else torch.zeros(0, dtype=torch.float64)
    all_labels = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.int64)
    all_tp = torch.cat(tps) if tps else torch.zeros((0, 1), dtype=torch.bool)
    all_fp = torch.cat(fps) if fps else torch.zeros((0, 1), dtype=torch.bool)
    truth = torch.cat(gt_labels) if gt_labels else torch.zeros(0, dtype=torch.int64)
    hard = torch.cat(gt_difficult) if gt_difficult else torch.zeros(0, dtype=torch.bool)

    ap: dict[str, float] = {}
    num_gts: dict[str, int] = {}
    num_dets: dict[str, int] = {}
    for c, name in enumerate(names):
        mask = all_labels == c
        num_gts[name] = int(((truth == c) & ~hard).sum())
        num_dets[name] = int(mask.sum())
        ap[name] = float(
            average_precision(
                all_scores[mask], all_tp[mask], all_fp[mask], num_gts[name], ap_method
            )[0]
        )
    valid = [value for name, value in ap.items() if num_gts[name] > 0]
    mean = sum(valid) / len(valid) if valid else float('nan')
    return DotaTask1Result(
        map=mean, ap=ap, num_ground_truths=num_gts, num_detections=num_dets
    )
