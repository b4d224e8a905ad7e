"""Speed of rotated IoU and NMS, next to shapely and torchvision in the same run.

Boxes imitate detector output: jittered copies of boxes around random objects
(15-20 per object) in a 1024-px (IoU) or 2048/4096-px (NMS) image.

* IoU matrices (N x N): ``rotated_box_iou`` (this package), torchvision's
  compiled ``box_iou(fmt="cxcywhr")``, shapely 2 vectorised over all pairs
  (timed on a subset of pairs and extrapolated per pair, as printed), and
  shapely with an STRtree (only intersecting pairs computed, timed in full).
* NMS (threshold 0.1, the DOTA merge setting, and 0.5): ``rotated_nms`` versus
  a greedy NMS on shapely (STRtree candidates, vectorised IoU, greedy pass),
  both timed in full; the kept sets are compared.

Goals from the issue: >= 20x shapely on IoU matrices; NMS of 20k boxes < 1 s on
one CPU core.

Usage: python benchmarks/rotated_ops.py [--threads 1] [--out benchmarks/results/rotated_ops.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely
import torch
import torchvision
from torchvision.ops import box_iou

from torchgeo_cstf import __version__
from torchgeo_cstf.ops import cxcywhr_to_poly, rotated_box_iou, rotated_nms


def timed(run: Callable[[], object], repeat: int = 3) -> float:
    """Median wall time of ``run()`` over ``repeat`` calls, after one warm-up."""
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def detector_boxes(n: int, image: float, per_object: int, seed: int) -> torch.Tensor:
    """Jittered copies of ``n / per_object`` objects, like raw detector output."""
    g = torch.Generator().manual_seed(seed)
    objects = max(1, n // per_object)
    centre = torch.rand(objects, 2, generator=g) * image
    size = torch.rand(objects, 2, generator=g) * 60 + 8
    angle = torch.rand(objects, 1, generator=g) * 180 - 90
    pick = torch.randint(0, objects, (n,), generator=g)
    return torch.cat(
        [
            centre[pick] + torch.randn(n, 2, generator=g) * 5,
            size[pick] * (1 + 0.15 * torch.randn(n, 2, generator=g)).abs(),
            angle[pick] + torch.randn(n, 1, generator=g) * 8,
        ],
        dim=1,
    )


def polygons(boxes: torch.Tensor) -> np.ndarray:
    """Shapely polygons of the boxes (corner conversion not timed)."""
    return shapely.polygons(cxcywhr_to_poly(boxes.double()).numpy())


def shapely_iou_dense(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All-pairs IoU with shapely 2's vectorised functions."""
    inter = shapely.area(shapely.intersection(a[:, None], b[None, :]))
    union = shapely.area(a)[:, None] + shapely.area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def shapely_iou_sparse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix with an STRtree: only intersecting pairs are computed."""
    tree = shapely.STRtree(b)
    i, j = tree.query(a, predicate='intersects')
    inter = shapely.area(shapely.intersection(a[i], b[j]))
    union = shapely.area(a[i]) + shapely.area(b[j]) - inter
    out = np.zeros((len(a), len(b)))
    out[i, j] = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return out


def shapely_nms(polys: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy NMS (torchvision semantics) on shapely: STRtree candidate pairs."""
    order = np.argsort(-scores, kind='stable')
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    i, j = shapely.STRtree(polys).query(polys, predicate='intersects')
    forward = rank[i] < rank[j]
    i, j = i[forward], j[forward]
    inter = shapely.area(shapely.intersection(polys[i], polys[j]))
    union = shapely.area(polys[i]) + shapely.area(polys[j]) - inter
    hit = inter > threshold * union
    i, j = rank[i[hit]], rank[j[hit]]
    by_first = np.argsort(i, kind='stable')
    i, j = i[by_first], j[by_first]
    bounds = np.searchsorted(i, np.arange(len(order) + 1))
    suppressed = np.zeros(len(order), dtype=bool)
    for node in np.unique(i).tolist():
        if not suppressed[node]:
            suppressed[j[bounds[node] : bounds[node + 1]]] = True
    return order[~suppressed]


def bench_iou(n: int, image: float, subset: int, seed: int) -> dict[str, object]:
    boxes = detector_boxes(n, image, 15, seed)
    ours = timed(lambda: rotated_box_iou(boxes, boxes))
    tv = timed(lambda: box_iou(boxes, boxes, fmt='cxcywhr'))
    polys = polygons(boxes)
    part = polys[:subset]
    dense_subset = timed(lambda: shapely_iou_dense(part, part), repeat=1)
    dense = dense_subset * (n * n) / (subset * subset)
    sparse = timed(lambda: shapely_iou_sparse(polys, polys), repeat=1)
    reference = torch.from_numpy(shapely_iou_sparse(polys, polys))
    error = float((rotated_box_iou(boxes, boxes).double() - reference).abs().max())
    tv_error = float(
        (box_iou(boxes, boxes, fmt='cxcywhr').double() - reference).abs().max()
    )
    return {
        'task': 'iou_matrix',
        'n': n,
        'image_px': image,
        'overlapping_pairs': int((reference > 0).sum()),
        'pairs': n * n,
        'ours_s': ours,
        'torchvision_s': tv,
        'shapely_dense_s': dense,
        'shapely_dense_measured_pairs': subset * subset,
        'shapely_strtree_s': sparse,
        'speedup_vs_shapely_dense': dense / ours,
        'speedup_vs_shapely_strtree': sparse / ours,
        'max_abs_diff_vs_shapely': error,
        'torchvision_max_abs_diff_vs_shapely': tv_error,
    }


def bench_nms(n: int, image: float, threshold: float, seed: int) -> dict[str, object]:
    boxes = detector_boxes(n, image, 20, seed)
    scores = torch.rand(n, generator=torch.Generator().manual_seed(seed + 1))
    ours = timed(lambda: rotated_nms(boxes, scores, threshold))
    kept = rotated_nms(boxes, scores, threshold)
    polys, np_scores = polygons(boxes), scores.numpy()
    peer = timed(lambda: shapely_nms(polys, np_scores, threshold), repeat=1)
    peer_kept = shapely_nms(polys, np_scores, threshold)
    return {
        'task': 'nms',
        'n': n,
        'image_px': image,
        'iou_threshold': threshold,
        'kept': int(kept.numel()),
        'ours_s': ours,
        'shapely_strtree_s': peer,
        'speedup_vs_shapely': peer / ours,
        'same_kept_as_shapely': bool(np.array_equal(kept.numpy(), peer_kept)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=1, help='torch threads')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/rotated_ops.json')
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = [
        bench_iou(1000, 1024.0, 300, args.seed),
        bench_iou(4000, 1024.0, 300, args.seed),
        bench_iou(1000, 48.0, 300, args.seed),  # nearly every pair overlaps
    ]
    print(
        f'IoU matrices, {args.threads} thread(s); shapely dense is timed on '
        f'{rows[0]["shapely_dense_measured_pairs"]} pairs and extrapolated per pair'
    )
    print(
        f'{"N x N":>12} {"image":>6} {"overlaps":>9} {"ours":>8} {"torchvision":>12} '
        f'{"shapely dense":>14} {"shapely STRtree":>16} {"x dense":>8} '
        f'{"x STRtree":>10} {"max |diff|":>11}'
    )
    for row in rows:
        print(
            f'{row["n"]:>5} x {row["n"]:<5} {row["image_px"]:>6.0f} '
            f'{row["overlapping_pairs"]:>9} {row["ours_s"]:>7.3f}s '
            f'{row["torchvision_s"]:>11.3f}s {row["shapely_dense_s"]:>13.2f}s '
            f'{row["shapely_strtree_s"]:>15.3f}s {row["speedup_vs_shapely_dense"]:>7.0f}x '
            f'{row["speedup_vs_shapely_strtree"]:>9.1f}x '
            f'{row["max_abs_diff_vs_shapely"]:>11.1e}'
        )
    nms_rows = [
        bench_nms(n, image, threshold, args.seed)
        for n, image in ((1000, 1024.0), (5000, 2048.0), (20000, 4096.0))
        for threshold in (0.1, 0.5)
    ]
    print(f'\nNMS, {args.threads} thread(s)')
    print(
        f'{"boxes":>6} {"image":>6} {"IoU thr":>7} {"kept":>6} {"ours":>8} '
        f'{"shapely":>8} {"speed-up":>9} {"same kept":>10}'
    )
    for row in nms_rows:
        print(
            f'{row["n"]:>6} {row["image_px"]:>6.0f} {row["iou_threshold"]:>7} '
            f'{row["kept"]:>6} {row["ours_s"]:>7.3f}s {row["shapely_strtree_s"]:>7.3f}s '
            f'{row["speedup_vs_shapely"]:>8.1f}x {row["same_kept_as_shapely"]!s:>10}'
        )
    report = {
        'benchmark': 'rotated_ops',
        'torchgeo_cstf': __version__,
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'shapely': shapely.__version__,
        'python': platform.python_version(),
        'machine': platform.processor() or platform.machine(),
        'threads': args.threads,
        'iou': rows,
        'nms': nms_rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + '\n')
    print(f'\nwrote {args.out}')


if __name__ == '__main__':
    main()
