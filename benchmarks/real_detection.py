"""Oriented detection on real imagery: HIT-UAV test split, peer, speed, transfer sets.

All imagery real (sources and licences in docs/datasets/real_detection.md;
prepared by ``benchmarks/prepare_real_detection.py``):

- **HIT-UAV test split** (579 thermal 640×512 images; the models were tuned on
  val only): the CSTF detector (``--cstf``: a weights name or a CSTFDetection
  checkpoint) and TorchGeo's ``ObjectDetection`` Faster R-CNN trained with the
  same data and wall-clock budget (``--peer``: its checkpoint, from
  ``configs/hit_uav_faster_rcnn.yaml``). Per-class AP and mAP at IoU 0.5,
  VOC07 11-point and area; ``DontCare`` regions and difficult objects count
  neither way. The peer's horizontal boxes are scored twice: against the
  oriented truth (as rotated boxes with angle 0: the variant unfair to it) and
  against the truth's enclosing horizontal rectangles (the CSTF detector's
  boxes are then scored by their enclosing rectangles too).
- **Throughput** at 640×512, batch 1, on ``--threads`` CPU threads (both
  models, same run): median images/s over ``--speed-images`` test images after
  two warm-up passes (forward, decoding and NMS).
- **Transfer** (never trained on): the CSTF HIT-UAV model and the synthetic
  demo model on DOTA8, the DOTA devkit examples (RGB aerial, DOTA labels) and
  HRSID mini (SAR ships), run as a user would (``detect_scene`` on a GeoTIFF,
  tiles of 1024, score ≥ 0.05), each model's classes mapped to the set's
  (:data:`TRANSFER_CLASSES`); the domain warnings are recorded.
- ``tuned_on_val``: the CSTF detector's NMS threshold of best val mAP07 (then
  used on test) and its score threshold of best F1 (IoU 0.5) on val, with its
  precision and recall: the operating threshold of the shipped weights
  (``meta['score_threshold']``).
- ``gsd_estimate``: HIT-UAV's pixel size per altitude and camera angle, from
  the median car length in the annotations (assumed 4.5 m).

Writes ``--out`` (JSON) and ``--figure`` (predictions on four test images).

Usage: python benchmarks/real_detection.py [--root data/real_detection]
       [--cstf CSTFDetectorRegNetX002_Weights.HIT_UAV]
       [--peer runs/hit_uav_faster_rcnn/best.ckpt] [--threads 2] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from affine import Affine
from detection import frcnn_predict
from matplotlib.figure import Figure
from PIL import Image
from torch import Tensor, nn
from torchgeo.trainers import ObjectDetection

from torchgeo_cstf import __version__
from torchgeo_cstf.datamodules.hit_uav import HIT_UAV_SIZE, HITUAVSample
from torchgeo_cstf.datasets import HITUAV
from torchgeo_cstf.datasets.dota import read_dota_labels
from torchgeo_cstf.datasets.hit_uav import CLASSES
from torchgeo_cstf.inference import detect_scene, resolve_detector
from torchgeo_cstf.inference.detectors import LoadedDetector
from torchgeo_cstf.io import write_geotiff
from torchgeo_cstf.metrics import OrientedMeanAveragePrecision
from torchgeo_cstf.metrics.ap import match_detections
from torchgeo_cstf.models.detector import BatchPredictions
from torchgeo_cstf.ops import (
    batched_rotated_nms,
    cxcywhr_to_xyxy,
    poly_to_cxcywhr,
    xyxy_to_cxcywhr,
)
from torchgeo_cstf.options import TilingOptions
from torchgeo_cstf.plotting import display_image, draw_boxes

Predict = Callable[[Tensor], BatchPredictions]
#: model classes → the class of each transfer set it is scored as
TRANSFER_CLASSES: dict[str, dict[str, dict[str, str]]] = {
    'hit_uav': {
        'dota8': {'Car': 'small-vehicle', 'OtherVehicle': 'large-vehicle'},
        'dota_devkit': {'Car': 'small-vehicle', 'OtherVehicle': 'large-vehicle'},
        'hrsid_mini': {},
    },
    'synthetic': {
        'dota8': {'ship': 'ship', 'plane': 'plane', 'vehicle': 'small-vehicle'},
        'dota_devkit': {'ship': 'ship', 'plane': 'plane', 'vehicle': 'small-vehicle'},
        'hrsid_mini': {'ship': 'ship'},
    },
}
#: detections below this score are dropped before mAP (it needs the low ones)
MAP_SCORE = 0.05


def finite(value: Any) -> Any:
    """``value`` with every NaN (an AP without ground truth) as ``None`` (JSON null)."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def horizontal(boxes: Tensor) -> Tensor:
    """Enclosing horizontal rectangles of CXCYWHR boxes, as CXCYWHR."""
    return xyxy_to_cxcywhr(cxcywhr_to_xyxy(boxes.double()))


def metrics() -> dict[str, OrientedMeanAveragePrecision]:
    """VOC07 and area mAP at IoU 0.5 over the HIT-UAV classes."""
    return {
        method: OrientedMeanAveragePrecision(ap_method=method, class_names=CLASSES)
        for method in ('voc07', 'area')
    }


def summary(found: dict[str, OrientedMeanAveragePrecision]) -> dict[str, float]:
    """mAP07, mAP (area) and the AP07 of each class."""
    voc, area = found['voc07'].compute(), found['area'].compute()
    return {
        'map07': round(float(voc['map']), 4),
        'map_area': round(float(area['map']), 4),
        **{f'ap07_{n}': round(float(voc[f'map_{n}']), 4) for n in CLASSES},
    }


def cstf_predict(loaded: LoadedDetector) -> Predict:
    """The CSTF detector on normalised images, scores ≥ :data:`MAP_SCORE`."""

    def run(images: Tensor) -> BatchPredictions:
        return loaded.model.predict(images, None, MAP_SCORE)

    return run


@torch.no_grad()
def score_hit_uav(
    test: HITUAV, models: dict[str, Predict], limit: int | None
) -> tuple[dict[str, dict[str, float]], dict[str, BatchPredictions]]:
    """Rotated and horizontal scores of each model on the test split."""
    rotated = {name: metrics() for name in models}
    flat = {name: metrics() for name in models}
    kept: dict[str, BatchPredictions] = defaultdict(list)
    count = len(test) if limit is None else min(limit, len(test))
    for index in range(count):
        sample = test[index]
        truth = {
            'boxes': sample['bbox'],
            'labels': sample['label'],
            'difficult': sample['difficult'],
        }
        flat_truth = {**truth, 'boxes': horizontal(sample['bbox'])}
        for name, predict in models.items():
            found = predict((sample['image'] / 255)[None])[0]
            for metric in rotated[name].values():
                metric.update([found], [truth])
            flat_found = {**found, 'boxes': horizontal(found['boxes'])}
            for metric in flat[name].values():
                metric.update([flat_found], [flat_truth])
            if index < 4:
                kept[name].append({k: v.cpu() for k, v in found.items()})
        if index % 100 == 0:
            print(f'  scored {index + 1}/{count} test images', flush=True)
    table = {}
    for name in models:
        table[f'{name}/rotated_truth'] = summary(rotated[name])
        table[f'{name}/horizontal_truth'] = summary(flat[name])
    return table, dict(kept)


#: NMS thresholds (rotated IoU) tried on the val split
NMS_CHOICES = (0.1, 0.2, 0.3, 0.4, 0.5)


@torch.no_grad()
def tune_on_val(val: HITUAV, loaded: LoadedDetector) -> dict[str, Any]:
    """The NMS threshold of best mAP07 and the score threshold of best F1 on val.

    One pass without suppression, then each of :data:`NMS_CHOICES`; the
    chosen NMS threshold is set on the model. BatchPredictions are matched once per
    NMS choice, at :data:`MAP_SCORE`: a detection's flag does not depend on
    lower-scoring ones, so raising the score threshold only drops detections.
    """
    model = loaded.model
    model.nms_threshold = 1.0  # keep every candidate: suppression comes below
    raw = []
    for index in range(len(val)):
        sample = val[index]
        raw.append(
            (model.predict((sample['image'] / 255)[None], None, MAP_SCORE)[0], sample)
        )
    by_nms = {}
    for iou in NMS_CHOICES:
        metric = OrientedMeanAveragePrecision(ap_method='voc07', class_names=CLASSES)
        for found, sample in raw:
            kept = batched_rotated_nms(
                found['boxes'], found['scores'], found['labels'], iou
            )[: model.max_detections]
            metric.update(
                [{k: v[kept] for k, v in found.items()}],
                [
                    {
                        'boxes': sample['bbox'],
                        'labels': sample['label'],
                        'difficult': sample['difficult'],
                    }
                ],
            )
        by_nms[iou] = round(float(metric.compute()['map']), 4)
    chosen = max(by_nms, key=lambda iou: by_nms[iou])
    model.nms_threshold = chosen
    scores, tps, fps, positives = [], [], [], 0
    for found, sample in raw:
        kept = batched_rotated_nms(
            found['boxes'], found['scores'], found['labels'], chosen
        )[: model.max_detections]
        tp, fp = match_detections(
            found['boxes'][kept].double(),
            found['scores'][kept],
            found['labels'][kept],
            sample['bbox'].double(),
            sample['label'],
            sample['difficult'],
            torch.tensor([0.5]),
        )
        scores.append(found['scores'][kept])
        tps.append(tp[:, 0])
        fps.append(fp[:, 0])
        positives += int((~sample['difficult']).sum())
    score, tp, fp = torch.cat(scores), torch.cat(tps), torch.cat(fps)
    best: dict[str, float] = {'f1': -1.0}
    for threshold in np.arange(0.1, 0.85, 0.05):
        keep = score >= threshold
        hits, misses = int(tp[keep].sum()), int(fp[keep].sum())
        precision = hits / max(hits + misses, 1)
        recall = hits / max(positives, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        if f1 > best['f1']:
            best = {
                'threshold': round(float(threshold), 2),
                'precision': round(precision, 3),
                'recall': round(recall, 3),
                'f1': round(f1, 3),
            }
    return {'val_map07_by_nms': by_nms, 'nms_threshold': chosen, 'operating': best}


@torch.no_grad()
def images_per_second(predict: Predict, images: list[Tensor]) -> float:
    """Median images/s of batch-1 predictions after two warm-up passes."""
    for image in images[:2]:
        predict(image[None])
    seconds = []
    for image in images:
        start = time.perf_counter()
        predict(image[None])
        seconds.append(time.perf_counter() - start)
    return round(1 / statistics.median(seconds), 3)


def load_peer(checkpoint: Path) -> nn.Module:
    """TorchGeo's ObjectDetection model from its Lightning checkpoint."""
    task = ObjectDetection.load_from_checkpoint(checkpoint, map_location='cpu')
    model: nn.Module = task.model.eval()
    return model


def gsd_estimate(root: Path) -> dict[str, float]:
    """HIT-UAV pixel size (m) per altitude and camera angle from car lengths."""
    lengths: dict[str, list[float]] = defaultdict(list)
    for path in sorted((root / 'Annotations').glob('*.xml')):
        _, altitude, angle, _, _ = path.stem.split('_')
        for obj in ET.parse(path).getroot().iter('object'):
            if obj.findtext('name') != 'Car':
                continue
            box = obj.find('robndbox')
            assert box is not None
            sides = [float(box.findtext(k) or 0) for k in ('w', 'h')]
            lengths[f'{altitude}m/{angle}deg'].append(max(sides))
    return {
        key: round(4.5 / statistics.median(values), 3)
        for key, values in sorted(lengths.items())
        if len(values) >= 10
    }


def transfer(
    root: Path, models: dict[str, LoadedDetector]
) -> dict[str, dict[str, Any]]:
    """Each model on each transfer set, as a user would run it."""
    results: dict[str, dict[str, Any]] = {}
    for set_name in ('dota8', 'dota_devkit', 'hrsid_mini'):
        folder = root / 'transfer' / set_name
        images = sorted((folder / 'images').iterdir())
        for model_name, loaded in models.items():
            mapping = TRANSFER_CLASSES[model_name][set_name]
            key = f'{set_name}/{model_name}'
            if not mapping:
                results[key] = {'note': 'the model has no class of this set'}
                continue
            names = sorted(set(mapping.values()))
            voc = OrientedMeanAveragePrecision(ap_method='voc07', class_names=names)
            notes: set[str] = set()
            for path in images:
                found, domain = _detect(path, loaded)
                notes.update(domain)
                keep = [
                    i
                    for i, label in enumerate(found['labels'].tolist())
                    if loaded.class_names[label] in mapping
                ]
                labels = [
                    names.index(mapping[loaded.class_names[int(found['labels'][i])]])
                    for i in keep
                ]
                objects = [
                    o
                    for o in read_dota_labels(folder / 'labelTxt' / f'{path.stem}.txt')
                    if o.name in names
                ]
                polygons = torch.tensor(
                    [o.polygon for o in objects], dtype=torch.float64
                ).reshape(-1, 8)
                voc.update(
                    [
                        {
                            'boxes': found['boxes'][keep],
                            'scores': found['scores'][keep],
                            'labels': torch.tensor(labels, dtype=torch.long),
                        }
                    ],
                    [
                        {
                            'boxes': poly_to_cxcywhr(polygons),
                            'labels': torch.tensor(
                                [names.index(o.name) for o in objects], dtype=torch.long
                            ),
                            'difficult': torch.tensor(
                                [o.difficult for o in objects], dtype=torch.bool
                            ),
                        }
                    ],
                )
            result = voc.compute()
            results[key] = {
                'images': len(images),
                'classes': mapping,
                'map07': round(float(result['map']), 4),
                **{f'ap07_{n}': round(float(result[f'map_{n}']), 4) for n in names},
                'domain_warnings': sorted(notes),
            }
            print(f'{key:>28}', results[key], flush=True)
    return results


def _detect(path: Path, loaded: LoadedDetector) -> tuple[dict[str, Tensor], list[str]]:
    """``detect_scene`` on an image written as a GeoTIFF (a user's first try)."""
    pixels = np.array(Image.open(path))
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    with tempfile.TemporaryDirectory() as folder:
        raster = Path(folder) / f'{path.stem}.tif'
        write_geotiff(
            raster,
            np.ascontiguousarray(pixels[:3]),
            # pixel size unknown: degrees, so no pixel-size rule applies
            crs='EPSG:4326',
            transform=Affine(1e-5, 0.0, 10.0, 0.0, -1e-5, 50.0),
        )
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # recorded in the JSON instead
            found = detect_scene(
                raster,
                loaded,
                options=TilingOptions(
                    tile=1024, overlap=200, score_threshold=MAP_SCORE
                ),
            )
    return (
        {'boxes': found.boxes, 'scores': found.scores, 'labels': found.labels},
        list(found.provenance.domain_warnings),
    )


def figure(
    test: HITUAV, kept: dict[str, BatchPredictions], shown: float, path: Path
) -> None:
    """Four test images: the CSTF detector's predictions (solid) and the truth."""
    plot = Figure(figsize=(16, 13), layout='constrained')
    axes = plot.subplots(2, 2).ravel()
    for index, ax in enumerate(axes):
        sample = test[index]
        found = kept['cstf'][index]
        keep = found['scores'] >= shown
        ax.imshow(display_image(sample['image'].numpy()))
        draw_boxes(ax, sample['bbox'], sample['label'], linestyle=':')
        draw_boxes(
            ax,
            found['boxes'][keep],
            found['labels'][keep],
            classes=list(CLASSES),
            scores=found['scores'][keep],
        )
        ax.set_title(f'{test.ids[index]}: {int(keep.sum())} found (score ≥ {shown})')
        ax.set_axis_off()
    plot.suptitle(
        'HIT-UAV test split (real thermal): CSTF predictions (solid) and truth (dotted)'
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    plot.savefig(path, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', type=Path, default=Path('data/real_detection'))
    parser.add_argument('--cstf', default='CSTFDetectorRegNetX002_Weights.HIT_UAV')
    parser.add_argument(
        '--peer', type=Path, default=Path('runs/hit_uav_faster_rcnn/best.ckpt')
    )
    parser.add_argument(
        '--synthetic', default='CSTFDetectorRegNetX002_Weights.SYNTHETIC'
    )
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--speed-images', type=int, default=20)
    parser.add_argument('--limit', type=int, default=None, help='test images scored')
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/real_detection.json')
    )
    parser.add_argument(
        '--figure', type=Path, default=Path('docs/assets/real_detection.png')
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = args.root / 'hit_uav' / 'rotate_xml'
    test = HITUAV(root, 'test', transforms=HITUAVSample(HIT_UAV_SIZE, 3, False))
    cstf = resolve_detector(args.cstf)
    peer = load_peer(args.peer)
    models: dict[str, Predict] = {
        'cstf': cstf_predict(cstf),
        'faster_rcnn': lambda images: frcnn_predict(peer, images),
    }
    val = HITUAV(root, 'val', transforms=HITUAVSample(HIT_UAV_SIZE, 3, False))
    tuned = tune_on_val(val, cstf)
    print('tuned on val:', tuned)
    table, kept = score_hit_uav(test, models, args.limit)
    for key, value in table.items():
        print(f'{key:>32}', value)
    images = [test[i]['image'] / 255 for i in range(args.speed_images)]
    speed = {name: images_per_second(run, images) for name, run in models.items()}
    speed['ratio_cstf_to_peer'] = round(speed['cstf'] / speed['faster_rcnn'], 3)
    print('images/s at 640x512, batch 1:', speed)
    transfer_table = transfer(
        args.root, {'hit_uav': cstf, 'synthetic': resolve_detector(args.synthetic)}
    )
    result = {
        'benchmark': 'real_detection',
        'imagery': 'real (see docs/datasets/real_detection.md)',
        'version': __version__,
        'machine': platform.machine(),
        'device': 'cpu',
        'threads': args.threads,
        'cstf': args.cstf,
        'peer': str(args.peer),
        'test_images': len(test) if args.limit is None else args.limit,
        'tuned_on_val': tuned,
        'hit_uav_test': table,
        'images_per_second_640x512': speed,
        'transfer': transfer_table,
        'gsd_estimate_m': gsd_estimate(root),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(finite(result), indent=1, allow_nan=False) + '\n')
    figure(test, kept, tuned['operating']['threshold'], args.figure)
    print(f'wrote {args.out} and {args.figure}')


if __name__ == '__main__':
    main()
