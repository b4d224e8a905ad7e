"""Oriented detection on held-out synthetic scenes: the fusion ablation and a peer.

Accuracy (same training budget for every model: ``--steps`` steps of ``--batch``
fresh augmented 256² scenes, AdamW with warm-up and cosine decay, same seed):

- CSTF detectors with each fusion mode (``concat``, ``sum``, ``ca``, ``sca``,
  ``none``; the paper's ablation), trunk ``--backbone``;
- TorchGeo's ``ObjectDetection`` model (torchvision Faster R-CNN with an FPN,
  horizontal boxes, same trunk family at ResNet-18), its boxes scored as rotated
  boxes with angle 0;

scored on ``--scenes`` held-out 512² scenes (the ``test`` split) with VOC07 and
area mAP at IoU 0.5.

Throughput at 1024² (CPU fp32, batch 1 and 8; CUDA too when present): CSTF-R50
against TorchGeo's Faster R-CNN R50-FPN, both in eval mode with random weights
(speed does not depend on the weights), median of ``--repeat`` runs after a
warm-up. The issue's target: CSTF-R50 ≥ 1.3× Faster R-CNN's images/s.

Writes ``benchmarks/results/detection.json``, ``docs/assets/detection_benchmark.png``
(the table as bars and a scene with the concat model's predictions).

With ``--checkpoint CKPT`` it only scores a trained ``CSTFDetection`` checkpoint
(e.g. from ``torchgeo fit --config configs/synthetic_cstf_r18.yaml``) on the same
held-out scenes and draws its predictions on four of them (``--out`` and
``--figure`` then name that report and picture).

Usage: python benchmarks/detection.py [--steps 300] [--batch 4] [--scenes 32]
       [--backbone regnetx_002] [--skip-accuracy] [--skip-speed]
       python benchmarks/detection.py --checkpoint CKPT --out JSON --figure PNG
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchgeo.trainers import ObjectDetection

from torchgeo_cstf import __version__
from torchgeo_cstf.datamodules import SyntheticScenesDataModule
from torchgeo_cstf.datasets import SyntheticScenes
from torchgeo_cstf.inference import resolve_detector
from torchgeo_cstf.metrics import OrientedMeanAveragePrecision
from torchgeo_cstf.models import CSTFDetector
from torchgeo_cstf.models.detector import BatchPredictions
from torchgeo_cstf.ops import cxcywhr_to_xyxy, xyxy_to_cxcywhr
from torchgeo_cstf.plotting import display_image, draw_boxes
from torchgeo_cstf.tasks.schedule import warmup_cosine_factor

FUSIONS = ('concat', 'sum', 'ca', 'sca', 'none')
CLASSES = ('ship', 'plane', 'vehicle')


def training_batches(steps: int, batch: int, seed: int) -> list[dict[str, Any]]:
    """The same augmented batches for every model (generated once)."""
    torch.manual_seed(seed)
    datamodule = SyntheticScenesDataModule(
        batch_size=batch,
        patch_size=256,
        train_length=steps * batch,
        seed=seed,
        objects_per_megapixel=150,
    )
    datamodule.setup('fit')
    batches = []
    for raw in datamodule.train_dataloader():
        batches.append(datamodule.train_aug(raw))
    return batches


def schedule(model: nn.Module, steps: int, lr: float) -> tuple[Any, Any]:
    """AdamW with a 5 % linear warm-up and a cosine decay."""
    optimiser = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=1e-4
    )
    return optimiser, torch.optim.lr_scheduler.LambdaLR(
        optimiser, warmup_cosine_factor(steps, 0.05)
    )


def train(
    model: nn.Module,
    batches: list[dict[str, Any]],
    loss: Callable[[nn.Module, dict[str, Any]], Tensor],
    lr: float,
) -> float:
    """Train on the batches; returns the seconds taken."""
    optimiser, scheduler = schedule(model, len(batches), lr)
    model.train()
    start = time.perf_counter()
    for batch in batches:
        optimiser.zero_grad()
        value = loss(model, batch)
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimiser.step()
        scheduler.step()
    return time.perf_counter() - start


def cstf_loss(model: nn.Module, batch: dict[str, Any]) -> Tensor:
    """The CSTF detector's own loss."""
    targets = [
        {'boxes': b, 'labels': lab}
        for b, lab in zip(batch['bbox'], batch['label'], strict=True)
    ]
    loss: Tensor = model.loss(batch['image'], targets)['loss']  # type: ignore[operator]
    return loss


def frcnn_targets(batch: dict[str, Any]) -> list[dict[str, Tensor]]:
    """Horizontal targets (enclosing boxes, labels shifted past the background)."""
    return [
        {'boxes': cxcywhr_to_xyxy(b).float(), 'labels': lab + 1}
        for b, lab in zip(batch['bbox'], batch['label'], strict=True)
    ]


def frcnn_loss(model: nn.Module, batch: dict[str, Any]) -> Tensor:
    """Faster R-CNN's summed losses."""
    losses = model(list(batch['image']), frcnn_targets(batch))
    return sum(losses.values())  # type: ignore[return-value]


def frcnn_predict(model: nn.Module, images: Tensor) -> BatchPredictions:
    """Faster R-CNN's boxes as rotated boxes with angle 0, labels back to 0-based."""
    found = []
    for out in model(list(images)):
        found.append(
            {
                'boxes': xyxy_to_cxcywhr(out['boxes'].double()),
                'scores': out['scores'],
                'labels': out['labels'] - 1,
            }
        )
    return found


@torch.no_grad()
def evaluate(
    predict: Callable[[Tensor], BatchPredictions], scenes: SyntheticScenes
) -> dict[str, float]:
    """VOC07 and area mAP at IoU 0.5 over the scenes, and per-class AP07."""
    metrics = {
        method: OrientedMeanAveragePrecision(ap_method=method, class_names=CLASSES)
        for method in ('voc07', 'area')
    }
    for index in range(len(scenes)):
        sample = scenes[index]
        found = predict((sample['image'] / 255)[None])
        truth = [{'boxes': sample['bbox'], 'labels': sample['label']}]
        for metric in metrics.values():
            metric.update(found, truth)
    voc, area = metrics['voc07'].compute(), metrics['area'].compute()
    return {
        'map07': float(voc['map']),
        'map_area': float(area['map']),
        **{f'ap07_{name}': float(voc[f'map_{name}']) for name in CLASSES},
    }


def frcnn(backbone: str) -> nn.Module:
    """TorchGeo's ObjectDetection model: Faster R-CNN + FPN, random weights."""
    task = ObjectDetection(
        model='faster-rcnn',
        backbone=backbone,
        weights=None,
        in_channels=3,
        num_classes=len(CLASSES) + 1,
        trainable_layers=5,
    )
    model: nn.Module = task.model
    return model


def images_per_second(
    run: Callable[[Tensor], object], batch: int, device: str, repeat: int
) -> float:
    """Median images/s of ``run`` on random 1024² batches."""
    images = torch.rand(batch, 3, 1024, 1024, device=device)
    run(images)
    times = []
    for _ in range(repeat):
        if device == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        run(images)
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


@torch.no_grad()
def speed(repeat: int) -> list[dict[str, Any]]:
    """CSTF-R50 against Faster R-CNN R50-FPN at 1024²."""
    devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        cstf = CSTFDetector(backbone='resnet50', channels=256).to(device).eval()
        peer = frcnn('resnet50').to(device).eval()

        def run_peer(images: Tensor, model: nn.Module = peer) -> object:
            return model(list(images))

        for batch in (1, 8):
            ours = images_per_second(cstf.predict, batch, device, repeat)
            theirs = images_per_second(run_peer, batch, device, repeat)
            rows.append(
                {
                    'device': device,
                    'batch': batch,
                    'cstf_r50_images_per_s': ours,
                    'faster_rcnn_r50_fpn_images_per_s': theirs,
                    'ratio': ours / theirs,
                }
            )
            print(
                f'{device} batch {batch}: CSTF-R50 {ours:.2f} img/s, '
                f'Faster R-CNN R50-FPN {theirs:.2f} img/s, ratio {ours / theirs:.2f}'
            )
    return rows


def figure(
    accuracy: dict[str, dict[str, float]],
    scene: dict[str, Tensor],
    found: dict[str, Tensor],
    path: Path,
) -> None:
    """The ablation as bars and the concat model's predictions on a test scene."""
    plot = Figure(figsize=(14, 6), layout='constrained')
    left, right = plot.subplots(1, 2, width_ratios=[1, 1.2])
    names = list(accuracy)
    left.bar(names, [accuracy[n]['map07'] for n in names], color='#4c72b0')
    left.set_ylabel('mAP07 (IoU 0.5), held-out scenes')
    left.set_ylim(0, 1)
    left.tick_params(axis='x', rotation=30)
    for index, name in enumerate(names):
        left.text(
            index,
            accuracy[name]['map07'] + 0.02,
            f'{accuracy[name]["map07"]:.3f}',
            ha='center',
        )
    right.imshow(display_image(scene['image'].numpy()))
    draw_boxes(right, scene['bbox'], scene['label'], linestyle=':')
    draw_boxes(
        right, found['boxes'], found['labels'], classes=CLASSES, scores=found['scores']
    )
    right.set_title('CSTF (concat): predictions (solid) and truth (dotted)')
    right.set_axis_off()
    path.parent.mkdir(parents=True, exist_ok=True)
    plot.savefig(path, dpi=110)


def score_checkpoint(
    checkpoint: Path, scenes: SyntheticScenes, out: Path, path: Path, shown: float
) -> None:
    """Score a CSTFDetection checkpoint; JSON report and a 2×2 predictions panel."""
    loaded = resolve_detector(checkpoint)
    start = time.perf_counter()
    scores = evaluate(loaded.model.predict, scenes)
    report = {
        'version': __version__,
        'machine': platform.platform(),
        'checkpoint': str(checkpoint),
        'scenes': len(scenes),
        'size': scenes.size,
        'seconds': round(time.perf_counter() - start, 1),
        **scores,
    }
    print(json.dumps(report))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + '\n')
    plot = Figure(figsize=(12, 12), layout='constrained')
    for index, ax in enumerate(plot.subplots(2, 2).ravel()):
        scene = scenes[index]
        with torch.no_grad():
            found = loaded.model.predict((scene['image'] / 255)[None])[0]
        keep = found['scores'] >= shown
        ax.imshow(display_image(scene['image'].numpy()))
        draw_boxes(ax, scene['bbox'], scene['label'], linestyle=':')
        draw_boxes(
            ax,
            found['boxes'][keep],
            found['labels'][keep],
            classes=CLASSES,
            scores=found['scores'][keep],
        )
        ax.set_title(
            f'test scene {index}: {int(keep.sum())} found, {len(scene["label"])} true'
        )
        ax.set_axis_off()
    plot.suptitle(
        f'{checkpoint.name}: predictions scoring ≥ {shown} (solid), truth (dotted); '
        f'mAP07 {scores["map07"]:.3f} on {len(scenes)} held-out scenes'
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    plot.savefig(path, dpi=80)
    print(f'wrote {out} and {path}')


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--scenes', type=int, default=32)
    parser.add_argument('--backbone', default='regnetx_002')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--skip-accuracy', action='store_true')
    parser.add_argument('--skip-speed', action='store_true')
    parser.add_argument('--checkpoint', type=Path, default=None)
    parser.add_argument('--shown', type=float, default=0.3)
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/detection.json')
    )
    parser.add_argument(
        '--figure', type=Path, default=Path('docs/assets/detection_benchmark.png')
    )
    args = parser.parse_args()
    if args.checkpoint is not None:
        scenes = SyntheticScenes(split='test', length=args.scenes, size=512)
        score_checkpoint(args.checkpoint, scenes, args.out, args.figure, args.shown)
        return
    report: dict[str, Any] = {
        'version': __version__,
        'machine': platform.platform(),
        'threads': torch.get_num_threads(),
        'steps': args.steps,
        'batch': args.batch,
        'backbone': args.backbone,
    }
    if not args.skip_accuracy:
        batches = training_batches(args.steps, args.batch, seed=0)
        scenes = SyntheticScenes(split='test', length=args.scenes, size=512)
        accuracy: dict[str, dict[str, float]] = {}
        models: dict[str, CSTFDetector] = {}
        for fusion in FUSIONS:
            torch.manual_seed(0)
            model = CSTFDetector(backbone=args.backbone, channels=96, fusion=fusion)  # type: ignore[arg-type]
            seconds = train(model, batches, cstf_loss, lr=2e-3)
            model.eval()
            accuracy[f'cstf_{fusion}'] = {
                **evaluate(model.predict, scenes),
                'train_s': seconds,
            }
            models[fusion] = model
            print(f'cstf {fusion}: {accuracy[f"cstf_{fusion}"]}')
        torch.manual_seed(0)
        peer = frcnn('resnet18')
        seconds = train(peer, batches, frcnn_loss, lr=2e-4)
        peer.eval()
        accuracy['faster_rcnn_r18_fpn'] = {
            **evaluate(lambda x: frcnn_predict(peer, x), scenes),
            'train_s': seconds,
        }
        print(f'faster r-cnn: {accuracy["faster_rcnn_r18_fpn"]}')
        report['accuracy'] = accuracy
        report['concat_minus_none_map07'] = (
            accuracy['cstf_concat']['map07'] - accuracy['cstf_none']['map07']
        )
        scene = scenes[0]
        with torch.no_grad():
            found = models['concat'].predict((scene['image'] / 255)[None])[0]
        figure(accuracy, scene, found, args.figure)
    if not args.skip_speed:
        report['speed'] = speed(args.repeat)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + '\n')
    print(f'wrote {args.out}' + ('' if args.skip_accuracy else f' and {args.figure}'))


if __name__ == '__main__':
    main()
