"""Mean average precision of oriented boxes as a torchmetrics ``Metric``.

The matching and AP rules are those of the VOC and DOTA devkits (see
:mod:`torchgeo_cstf.metrics.ap`). Each :meth:`~OrientedMeanAveragePrecision.update`
matches the detections of every image at once and stores, per detection, its
score, class and true/false-positive flags (one per IoU threshold), and per
ground truth its class and difficult flag. These are flat tensors in list
states reduced by concatenation, so the metric synchronises across processes
like any torchmetrics metric; no image index is needed because matching never
crosses images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from ..errors import InputError
from ..ops.boxes import check_boxes
from .ap import (
    APMethod,
    average_precision,
    check_ap_method,
    check_iou_thresholds,
    match_detections,
)


def _cat(state: list[Tensor] | Tensor) -> Tensor:
    if isinstance(state, Tensor):
        return state
    if not state:
        return torch.zeros(0)
    return dim_zero_cat(state)


def _field(
    item: Mapping[str, Tensor], key: str, where: str, shape: tuple[int, ...]
) -> Tensor:
    value = item.get(key)
    if not isinstance(value, Tensor):
        raise InputError(where, f'needs a tensor under {key!r}')
    if value.shape != shape:
        raise InputError(
            f'{where}[{key!r}]', f'must have shape {shape}, got {tuple(value.shape)}'
        )
    return value


def _labels(
    item: Mapping[str, Tensor], where: str, n: int, num_classes: int | None
) -> Tensor:
    labels = _field(item, 'labels', where, (n,))
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise InputError(f"{where}['labels']", f'must be integers, got {labels.dtype}')
    if n and int(labels.min()) < 0:
        raise InputError(f"{where}['labels']", 'must not be negative')
    if n and num_classes is not None and int(labels.max()) >= num_classes:
        raise InputError(
            f"{where}['labels']", f'must be below num_classes={num_classes}'
        )
    return labels.long()


class OrientedMeanAveragePrecision(Metric):
    """VOC/DOTA-style mAP of rotated (CXCYWHR) boxes.

    ``update(preds, targets)`` takes one dict per image. ``preds``: ``boxes``
    (N, 5), ``scores`` (N,), ``labels`` (N,). ``targets``: ``boxes`` (M, 5),
    ``labels`` (M,) and optionally ``difficult`` (M,) bool.

    ``compute()`` returns float32 tensors:

    * ``map``: mean AP over the classes that have at least one non-difficult
      ground truth, averaged over the IoU thresholds (NaN if there is none);
    * ``map_per_class``: (C,) AP averaged over thresholds, NaN for classes
      without non-difficult ground truth (they are left out of ``map``); a class
      with ground truth but no detection has AP 0;
    * ``classes``: (C,) the class ids of ``map_per_class`` (``0..num_classes-1``
      if given, else the classes seen in predictions or targets);
    * ``map_50`` / ``map_75``: the mean AP at IoU 0.5 / 0.75, when asked for;
    * ``map_<name>``: per-class AP when ``class_names`` are given.

    Args:
        iou_thresholds: IoU thresholds in [0, 1), default ``[0.5]``; e.g.
            ``[0.5, 0.55, ..., 0.95]`` for a COCO-like average. A detection
            matches when IoU is strictly greater (devkit rule).
        ap_method: ``"voc07"`` (11-point, the HRSC2016 "mAP07" and DOTA devkit
            convention) or ``"area"`` (VOC2010+, HRSC2016 "mAP12").
        num_classes: number of classes; labels must then be below it.
        class_names: names of the classes (sets ``num_classes``).
        **kwargs: passed to :class:`torchmetrics.Metric`.

    Raises:
        InputError: bad arguments.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    scores: list[Tensor]
    labels: list[Tensor]
    tp: list[Tensor]
    fp: list[Tensor]
    gt_labels: list[Tensor]
    gt_difficult: list[Tensor]

    def __init__(
        self,
        iou_thresholds: Sequence[float] | None = None,
        ap_method: APMethod = 'voc07',
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Initialise the metric; see the class docstring for arguments."""
        super().__init__(**kwargs)
        self.iou_thresholds = check_iou_thresholds(
            [0.5] if iou_thresholds is None else iou_thresholds
        ).tolist()
        check_ap_method(ap_method)
        self.ap_method: APMethod = ap_method
        if class_names is not None:
            names = list(class_names)
            if num_classes is not None and num_classes != len(names):
                raise InputError(
                    'class_names',
                    f'has {len(names)} names but num_classes is {num_classes}',
                )
            num_classes = len(names)
            self.class_names: list[str] | None = names
        else:
            self.class_names = None
        if num_classes is not None and (
            isinstance(num_classes, bool)
            or not isinstance(num_classes, int)
            or num_classes < 1
        ):
            raise InputError(
                'num_classes', f'must be a positive int, got {num_classes!r}'
            )
        self.num_classes = num_classes
        for name in ('scores', 'labels', 'tp', 'fp', 'gt_labels', 'gt_difficult'):
            self.add_state(name, default=[], dist_reduce_fx='cat')

    def update(
        self,
        preds: Sequence[Mapping[str, Tensor]],
        targets: Sequence[Mapping[str, Tensor]],
    ) -> None:
        """Match one batch of images and store the per-detection flags.

        Args:
            preds: one dict per image with ``boxes``, ``scores``, ``labels``.
            targets: one dict per image with ``boxes``, ``labels`` and optionally
                ``difficult``.

        Raises:
            InputError: mismatched lists, missing keys, bad shapes or labels.
        """
        if not isinstance(preds, Sequence) or not isinstance(targets, Sequence):
            raise InputError('preds', 'preds and targets must be lists of dicts')
        if len(preds) != len(targets):
            raise InputError(
                'targets', f'has {len(targets)} images but preds has {len(preds)}'
            )
        thresholds = torch.tensor(self.iou_thresholds, dtype=torch.float64)
        for k, (pred, target) in enumerate(zip(preds, targets, strict=True)):
            where_p, where_t = f'preds[{k}]', f'targets[{k}]'
            if not isinstance(pred, Mapping) or not isinstance(target, Mapping):
                raise InputError(where_p, 'preds and targets must hold dicts')
            boxes = pred.get('boxes')
            gt_boxes = target.get('boxes')
            if not isinstance(boxes, Tensor) or not isinstance(gt_boxes, Tensor):
                raise InputError(
                    where_p, "preds and targets need tensors under 'boxes'"
                )
            check_boxes(boxes, f"{where_p}['boxes']")
            check_boxes(gt_boxes, f"{where_t}['boxes']")
            n, m = boxes.shape[0], gt_boxes.shape[0]
            scores = _field(pred, 'scores', where_p, (n,))
            if scores.is_complex() or bool(torch.isnan(scores).any()):
                raise InputError(
                    f"{where_p}['scores']", 'must be real numbers without NaN'
                )
            labels = _labels(pred, where_p, n, self.num_classes)
            gt_labels = _labels(target, where_t, m, self.num_classes)
            difficult = target.get('difficult')
            if difficult is None:
                difficult = torch.zeros(m, dtype=torch.bool, device=gt_boxes.device)
            else:
                difficult = _field(target, 'difficult', where_t, (m,)).bool()
            tp, fp = match_detections(
                boxes, scores, labels, gt_boxes, gt_labels, difficult, thresholds
            )
            self.scores.append(scores.detach().to(torch.float64))
            self.labels.append(labels)
            self.tp.append(tp.flatten())
            self.fp.append(fp.flatten())
            self.gt_labels.append(gt_labels)
            self.gt_difficult.append(difficult)

    def compute(self) -> dict[str, Tensor]:
        """AP per class and their means; see the class docstring."""
        t = len(self.iou_thresholds)
        scores = _cat(self.scores).cpu().to(torch.float64)
        labels = _cat(self.labels).cpu().long()
        tp = _cat(self.tp).cpu().bool().reshape(-1, t)
        fp = _cat(self.fp).cpu().bool().reshape(-1, t)
        gt_labels = _cat(self.gt_labels).cpu().long()
        gt_difficult = _cat(self.gt_difficult).cpu().bool()
        if self.num_classes is not None:
            classes = torch.arange(self.num_classes)
        else:
            classes = torch.unique(torch.cat((labels, gt_labels)))
        per_class = [
            average_precision(
                scores[labels == c],
                tp[labels == c],
                fp[labels == c],
                int(((gt_labels == c) & ~gt_difficult).sum()),
                self.ap_method,
            )
            for c in classes.tolist()
        ]
        if per_class:
            ap = torch.stack(per_class)
        else:
            ap = torch.zeros((0, t), dtype=torch.float64)
        valid = ~ap[:, 0].isnan()
        nan = torch.tensor(float('nan'), dtype=torch.float64)
        result = {
            'map': ap[valid].mean() if bool(valid.any()) else nan,
            'map_per_class': ap.mean(dim=1),
            'classes': classes,
        }
        for value, key in ((0.5, 'map_50'), (0.75, 'map_75')):
            for i, threshold in enumerate(self.iou_thresholds):
                if abs(threshold - value) < 1e-9:
                    result[key] = ap[valid, i].mean() if bool(valid.any()) else nan
        if self.class_names is not None:
            for name, value in zip(
                self.class_names, result['map_per_class'], strict=True
            ):
                result[f'map_{name}'] = value
        return {
            key: value if key == 'classes' else value.to(torch.float32)
            for key, value in result.items()
        }
