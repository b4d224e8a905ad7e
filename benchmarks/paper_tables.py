"""Paper-style tables: HRSC2016, DOTA-v1.0, speed and the fusion ablation.

Given dataset roots and a detector — a ``CSTFDetection`` checkpoint (from
``torchgeo fit``), a weights name or a registered detector name —
prints and saves the tables the paper reports, each labelled with the data it
was measured on (``--data-kind``: real, or the fake-format test data) and the
device:

- **HRSC2016** (``--hrsc ROOT``, TorchGeo's layout): the ``test`` split
  letterboxed to ``--hrsc-size`` (800), per-class AP and mAP at IoU 0.5 by VOC07
  11-point ("mAP07") and by area ("mAP12"), difficult ships counting neither way.
- **DOTA-v1.0** (``--dota ROOT``, TorchGeo's layout, the original large
  images): the ``val`` split is cut into ``--dota-size`` patches (overlap
  ``--dota-gap``, 200), the
  patches are detected, merged back to whole images (rotated NMS at IoU 0.1),
  written as Task 1 files and scored against the original labels with the
  devkit's rules (VOC07, IoU 0.5): per-class AP and mAP. ``--dota-test ROOT`` (a
  root of the test images listed as split ``val`` with empty label files) gets
  only the Task 1 files, zipped for the evaluation server.
- **Synthetic scenes** (``--synthetic N``): the held-out ``test`` scenes of
  ``SyntheticScenesDataModule`` (real files of the simulator, not real
  imagery), the same two mAPs.
- **Speed**: images/s of the whole ``predict`` (network, decoding, NMS) at
  ``--speed-size``² (default: the input size of the scored data: ``--hrsc-size``
  with ``--hrsc``, else ``--dota-size`` with ``--dota`` or ``--dota-test``, else
  ``--synthetic-size``), batch ``--batch``, in
  ``--precision`` (fp32, bf16, fp16 on CUDA), median of ``--repeats`` timed
  batches after two warm-up batches, with the device's name.
- **Fusion ablation** (``--fusion``): one detector per fusion mode (``none``,
  ``sum``, ``ca``, ``sca``, ``concat`` = CA‖SCA), the same trunk, seed and
  budget (``--steps`` steps at ``--train-batch``), trained on HRSC2016
  ``trainval`` when ``--hrsc`` is given, else on synthetic scenes
  (``--synthetic N``, N held-out scenes scored), and scored as above: the
  paper's ablation rows from one command. DOTA is not an ablation set:
  ``--fusion`` with only ``--dota``/``--dota-test`` is refused. The output names
  the data the rows were trained and scored on. Meant for a GPU with a real
  budget; on CPU with a few steps it only shows that the harness works.

Writes ``--out/paper_tables.json`` and ``--out/paper_tables.md``; DOTA Task 1
files go to ``--out/dota_val/`` and ``--out/dota_test/`` (+ ``.zip``).

Usage:
    python benchmarks/paper_tables.py --checkpoint CKPT --hrsc data/HRSC2016
    python benchmarks/paper_tables.py --checkpoint CKPT --dota data/DOTA \
        [--dota-test data/DOTA-test]
    python benchmarks/paper_tables.py --checkpoint CKPT --synthetic 32
    python benchmarks/paper_tables.py --fusion --hrsc data/HRSC2016 --steps 20000
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import statistics
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule, Trainer, seed_everything
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from torchgeo_cstf import __version__
from torchgeo_cstf.datamodules import (
    DOTADataModule,
    HRSC2016DataModule,
    SyntheticScenesDataModule,
)
from torchgeo_cstf.datamodules.augmentation import collate_rotated_detection
from torchgeo_cstf.datasets import (
    PatchPrediction,
    merge_patch_predictions,
    split_dota,
    write_task1,
)
from torchgeo_cstf.datasets.dota import VERSION_CLASSES
from torchgeo_cstf.errors import InputError
from torchgeo_cstf.inference import resolve_detector
from torchgeo_cstf.metrics import OrientedMeanAveragePrecision, evaluate_dota_task1
from torchgeo_cstf.models import CSTFDetector
from torchgeo_cstf.ops import pad_to_multiple
from torchgeo_cstf.tasks import CSTFDetection
from torchgeo_cstf.tasks.detection import targets_of

#: the paper's figures (the abstract), beside which ours are printed
PAPER = {'hrsc2016_map07': 90.99, 'dota_map': 90.86, 'fps': 12.5}
#: the ablation order (CA‖SCA is ``concat``)
ABLATION = ('none', 'sum', 'ca', 'sca', 'concat')
#: the classes of DOTA-v1.0, the version the harness scores
DOTA_CLASSES = tuple(VERSION_CLASSES['1.0'])
PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def device_name(device: torch.device) -> str:
    """What ran the numbers: the GPU's name, or the CPU and its threads."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    info = Path('/proc/cpuinfo')
    if info.is_file():
        names = [
            line.split(':', 1)[1].strip()
            for line in info.read_text().splitlines()
            if line.startswith('model name')
        ]
        cpu = names[0] if names else cpu
    return f'{cpu} (CPU, {torch.get_num_threads()} threads)'


def autocast(device: torch.device, precision: str) -> AbstractContextManager[Any]:
    """The autocast context of a precision (fp32: none)."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return nullcontext()
    if dtype is torch.float16 and device.type != 'cuda':
        raise InputError('--precision', 'fp16 needs a CUDA device; use bf16 on CPU')
    return torch.autocast(device.type, dtype=dtype)


def check_classes(model: CSTFDetector, classes: tuple[str, ...], name: str) -> None:
    """Check that a detector has the dataset's class count.

    Raises:
        InputError: it has another.
    """
    if model.num_classes != len(classes):
        raise InputError(
            '--checkpoint',
            f'{name} detects {model.num_classes} classes but the data have '
            f'{len(classes)} ({", ".join(classes)})',
        )


def detect(model: CSTFDetector, image: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Detections of a normalised batch, padded as the training task pads."""
    return model.predict(pad_to_multiple(image, model.size_multiple))


def batches(
    dataset: Dataset[dict[str, Any]],
    datamodule: LightningDataModule,
    batch_size: int,
    device: torch.device,
    what: str,
) -> Iterator[dict[str, Any]]:
    """Evaluation batches, on the device and normalised as the datamodule does."""
    loader = DataLoader(
        dataset, batch_size=batch_size, collate_fn=collate_rotated_detection
    )
    for batch in tqdm(loader, desc=what, unit='batch', leave=False):
        moved = {
            key: value.to(device)
            if isinstance(value, torch.Tensor)
            else [v.to(device) for v in value]
            if isinstance(value, list) and value and isinstance(value[0], torch.Tensor)
            else value
            for key, value in batch.items()
        }
        yield datamodule.aug(moved)  # type: ignore[operator]


def on_cpu(found: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One image's detections on the CPU, boxes and scores in fp32 (after autocast)."""
    return {
        key: value.cpu() if key == 'labels' else value.float().cpu()
        for key, value in found.items()
    }


@torch.inference_mode()
def score(
    model: CSTFDetector,
    dataset: Dataset[dict[str, Any]],
    datamodule: LightningDataModule,
    classes: tuple[str, ...],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Per-class AP, mAP07 and mAP12 (in %) of a detector on a dataset."""
    device = torch.device(args.device)
    model.to(device)
    metrics = {
        method: OrientedMeanAveragePrecision(
            ap_method=method, class_names=list(classes)
        )
        for method in ('voc07', 'area')
    }
    for batch in batches(dataset, datamodule, args.eval_batch, device, 'scoring'):
        with autocast(device, args.precision):
            found = [on_cpu(image) for image in detect(model, batch['image'])]
        targets = [{k: v.cpu() for k, v in t.items()} for t in targets_of(batch)]
        for metric in metrics.values():
            metric.update(found, targets)
    voc07, area = (metrics[m].compute() for m in ('voc07', 'area'))
    return {
        'images': len(dataset),  # type: ignore[arg-type]
        'map07': 100 * float(voc07['map']),
        'map12': 100 * float(area['map']),
        'ap07': {name: 100 * float(voc07[f'map_{name}']) for name in classes},
        'ap12': {name: 100 * float(area[f'map_{name}']) for name in classes},
    }


def hrsc_datamodule(args: argparse.Namespace, batch_size: int) -> HRSC2016DataModule:
    """HRSC2016 as the standard protocol uses it: trainval to train, test to score."""
    return HRSC2016DataModule(
        batch_size=batch_size,
        patch_size=args.hrsc_size,
        train_split='trainval',
        val_split='test',
        root=args.hrsc,
        classes=args.hrsc_classes,
    )


def evaluation_set(
    name: str, args: argparse.Namespace, batch_size: int
) -> tuple[
    LightningDataModule, Dataset[dict[str, Any]], tuple[str, ...], dict[str, Any]
]:
    """A scored set (``hrsc2016`` or ``synthetic``): datamodule, test set, classes, labels."""
    datamodule: HRSC2016DataModule | SyntheticScenesDataModule
    if name == 'hrsc2016':
        datamodule = hrsc_datamodule(args, batch_size)
        labels = {'data': args.data_kind, 'input': args.hrsc_size}
    else:
        datamodule = synthetic_datamodule(args, batch_size)
        labels = {'data': 'synthetic', 'input': args.synthetic_size}
    datamodule.setup('test')
    dataset = datamodule.test_dataset
    return datamodule, dataset, tuple(dataset.classes), {'split': 'test', **labels}


def table(
    name: str, model: CSTFDetector, args: argparse.Namespace, label: str
) -> dict[str, Any]:
    """The table of a detector on a scored set (see :func:`evaluation_set`)."""
    datamodule, dataset, classes, labels = evaluation_set(name, args, args.eval_batch)
    check_classes(model, classes, label)
    return labels | score(model, dataset, datamodule, classes, args)


def synthetic_datamodule(
    args: argparse.Namespace, batch_size: int
) -> SyntheticScenesDataModule:
    """The simulator's scenes: fresh ones to train, held-out ones to score."""
    return SyntheticScenesDataModule(
        batch_size=batch_size,
        patch_size=args.synthetic_size,
        train_length=max(args.steps * args.train_batch, 1),
        val_length=args.synthetic,
        test_length=args.synthetic,
    )


@torch.inference_mode()
def dota_predictions(
    model: CSTFDetector, patches: Path, args: argparse.Namespace
) -> tuple[dict[str, Any], tuple[str, ...], int]:
    """Detections of every val patch of a split root, merged to whole images."""
    datamodule = DOTADataModule(
        batch_size=args.eval_batch, patch_size=args.dota_size, root=patches
    )
    datamodule.setup('validate')
    dataset = datamodule.val_dataset
    device = torch.device(args.device)
    model.to(device)
    found: list[PatchPrediction] = []
    origins = iter(dataset.origins)
    for batch in batches(dataset, datamodule, args.eval_batch, device, 'DOTA patches'):
        with autocast(device, args.precision):
            detections = detect(model, batch['image'])
        for image in detections:
            image = on_cpu(image)
            found.append(
                PatchPrediction(
                    next(origins), image['boxes'], image['scores'], image['labels']
                )
            )
    return merge_patch_predictions(found), tuple(dataset.classes), len(dataset)


def split_val(root: str, work: Path, args: argparse.Namespace) -> Path:
    """The val split of a DOTA root cut into patches (in ``work``)."""
    out = work / Path(root).name
    split_dota(
        root, out, split='val', size=args.dota_size, gap=args.dota_gap, progress=True
    )
    return out


def dota_table(
    model: CSTFDetector, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """DOTA-v1.0 val scored locally (image level); the test split as Task 1 files."""
    check_classes(model, DOTA_CLASSES, args.checkpoint)
    found: dict[str, Any] = {'data': args.data_kind, 'input': args.dota_size}
    if args.dota:
        merged, classes, patches = dota_predictions(
            model, split_val(args.dota, work, args), args
        )
        folder = args.out / 'dota_val'
        write_task1(merged, folder, classes)
        labels = Path(args.dota) / 'val' / 'annotations' / 'version1.0'
        result = evaluate_dota_task1(folder, labels, classes)
        found |= {
            'split': 'val',
            'images': len(list(labels.glob('*.txt'))),
            'patches': patches,
            'map07': 100 * result.map,
            'ap07': {name: 100 * ap for name, ap in result.ap.items()},
            'ground_truths': result.num_ground_truths,
            'task1_files': str(folder),
        }
    if args.dota_test:
        merged, classes, patches = dota_predictions(
            model, split_val(args.dota_test, work / 'test', args), args
        )
        folder = args.out / 'dota_test'
        written = write_task1(merged, folder, classes)
        archive = folder.with_suffix('.zip')
        with zipfile.ZipFile(archive, 'w', zipfile.ZIP_DEFLATED) as bundle:
            for path in written:
                bundle.write(path, path.name)
        found['test_submission'] = {'patches': patches, 'zip': str(archive)}
    return found


@torch.inference_mode()
def speed(
    model: CSTFDetector, size: int, args: argparse.Namespace, name: str
) -> dict[str, Any]:
    """Images/s of ``predict`` on random images (speed does not depend on content)."""
    device = torch.device(args.device)
    model.to(device).eval()
    image = torch.rand(args.batch, model.in_channels, size, size, device=device)
    times = []
    for run in range(args.repeats + 2):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        with autocast(device, args.precision):
            detect(model, image)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        if run >= 2:
            times.append(time.perf_counter() - start)
    return {
        'fps': args.batch / statistics.median(times),
        'input': size,
        'batch': args.batch,
        'precision': args.precision,
        'device': device_name(device),
        'model': name,
    }


def train(
    fusion: str,
    datamodule: LightningDataModule,
    classes: tuple[str, ...],
    args: argparse.Namespace,
) -> CSTFDetection:
    """A detector with one fusion mode, trained with the shared budget."""
    seed_everything(args.seed, workers=True)
    task = CSTFDetection(
        backbone=args.backbone,
        num_classes=len(classes),
        fusion=fusion,  # type: ignore[arg-type]
        class_names=list(classes),
        pretrained=args.pretrained,
        lr=args.lr,
    )
    trainer = Trainer(
        max_steps=args.steps,
        accelerator='gpu' if torch.device(args.device).type == 'cuda' else 'cpu',
        devices=1,
        precision='bf16-mixed' if args.precision == 'bf16' else '32-true',
        logger=False,
        enable_checkpointing=False,
        limit_val_batches=0,
        enable_model_summary=False,
    )
    trainer.fit(task, datamodule=datamodule)
    return task.eval()


def speed_input(args: argparse.Namespace, dataset: str | None = None) -> int:
    """The side of the speed test's images: ``--speed-size``, else the scored data's.

    Args:
        args: the parsed command line.
        dataset: the data scored (``hrsc2016``, ``dota``, ``synthetic``); by
            default HRSC2016 when given, then DOTA (``--dota`` or only
            ``--dota-test``), else the synthetic scenes.

    Returns:
        The image side in pixels.
    """
    if args.speed_size:
        return int(args.speed_size)
    if dataset is None:
        dota = args.dota or args.dota_test
        dataset = 'hrsc2016' if args.hrsc else 'dota' if dota else 'synthetic'
    sizes = {
        'hrsc2016': args.hrsc_size,
        'dota': args.dota_size,
        'synthetic': args.synthetic_size,
    }
    return int(sizes[dataset])


def ablation_data(args: argparse.Namespace) -> str:
    """The set the fusion ablation trains and scores on: ``hrsc2016`` or ``synthetic``.

    Args:
        args: the parsed command line.

    Returns:
        ``hrsc2016`` with ``--hrsc``, else ``synthetic`` with ``--synthetic N``.

    Raises:
        InputError: neither is given (DOTA is not an ablation set).
    """
    if args.hrsc:
        return 'hrsc2016'
    if args.synthetic:
        return 'synthetic'
    raise InputError(
        '--fusion',
        'the ablation trains on HRSC2016 (--hrsc ROOT) or on synthetic scenes '
        '(--synthetic N); it does not train on DOTA (--dota, --dota-test)',
    )


def ablation(args: argparse.Namespace) -> dict[str, Any]:
    """One row per fusion mode: the same trunk, seed and budget."""
    rows = {}
    name = ablation_data(args)
    dataset = 'HRSC2016' if name == 'hrsc2016' else 'synthetic scenes'
    kind = args.data_kind if name == 'hrsc2016' else 'synthetic'
    print(
        f'fusion ablation: training and scoring on {dataset} ({kind} data)', flush=True
    )
    size = speed_input(args, name)
    for fusion in ABLATION:
        datamodule, _, classes, _ = evaluation_set(name, args, args.train_batch)
        model = train(fusion, datamodule, classes, args).model
        rows[fusion] = table(name, model, args, fusion)
        rows[fusion]['fps'] = speed(model, size, args, fusion)['fps']
    return {
        'data': kind,
        'dataset': dataset,
        'steps': args.steps,
        'train_batch': args.train_batch,
        'backbone': args.backbone,
        'rows': rows,
        'best': max(rows, key=lambda mode: rows[mode]['map07']),
    }


def _number(value: float) -> str:
    return 'n/a' if math.isnan(value) else f'{value:.2f}'


def markdown(report: dict[str, Any]) -> str:
    """The tables as Markdown, each labelled with its data and device."""
    lines = [
        f'# Paper tables (torchgeo-cstf {report["version"]})',
        '',
        f'Device: {report["device"]}. Checkpoint: {report["checkpoint"] or "none"}.',
    ]
    for key, title in (
        ('hrsc2016', 'HRSC2016'),
        ('synthetic', 'Synthetic scenes'),
        ('dota', 'DOTA-v1.0'),
    ):
        table = report.get(key)
        if not table or 'ap07' not in table:
            continue
        lines += [
            '',
            (
                f'## {title} ({table["split"]} split, {table["data"]} data, '
                f'input {table["input"]})'
            ),
            '',
            '| class | AP07 |' + (' AP12 |' if 'ap12' in table else ''),
            '|---|---|' + ('---|' if 'ap12' in table else ''),
        ]
        for name, value in table['ap07'].items():
            extra = f' {_number(table["ap12"][name])} |' if 'ap12' in table else ''
            lines.append(f'| {name} | {_number(value)} |{extra}')
        lines.append(
            f'| **mAP** | **{_number(table["map07"])}** |'
            + (f' **{_number(table["map12"])}** |' if 'map12' in table else '')
        )
    if report.get('dota', {}).get('test_submission'):
        lines += [
            '',
            f'DOTA test: Task 1 files in {report["dota"]["test_submission"]["zip"]}.',
        ]
    if report.get('speed'):
        s = report['speed']
        lines += [
            '',
            '## Speed',
            '',
            '| model | input | batch | precision | device | images/s |',
            '|---|---|---|---|---|---|',
            (
                f'| {s["model"]} | {s["input"]}² | {s["batch"]} '
                f'| {s["precision"]} | {s["device"]} | {s["fps"]:.2f} |'
            ),
        ]
    if report.get('ablation'):
        a = report['ablation']
        lines += [
            '',
            (
                f'## Fusion ablation ({a["dataset"]}, {a["data"]} data, {a["steps"]} steps '
                f'at batch {a["train_batch"]}, trunk {a["backbone"]})'
            ),
            '',
            '| fusion | mAP07 | mAP12 | images/s |',
            '|---|---|---|---|',
        ]
        for mode, row in a['rows'].items():
            name = 'CA‖SCA (concat)' if mode == 'concat' else mode
            lines.append(
                f'| {name} | {_number(row["map07"])} | {_number(row["map12"])} '
                f'| {row["fps"]:.2f} |'
            )
        lines.append(f'\nBest: {a["best"]} (the paper: CA‖SCA).')
    lines += [
        '',
        (
            f'The paper reports HRSC2016 mAP07 {PAPER["hrsc2016_map07"]}, DOTA '
            f'{PAPER["dota_map"]} and {PAPER["fps"]} FPS (docs/paper.md).'
        ),
    ]
    return '\n'.join(lines) + '\n'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--checkpoint',
        help='a CSTFDetection checkpoint, a weights name or a registered detector',
    )
    parser.add_argument('--hrsc', help='HRSC2016 root')
    parser.add_argument('--hrsc-classes', default='ship', choices=('ship', 'L2', 'L3'))
    parser.add_argument('--hrsc-size', type=int, default=800)
    parser.add_argument('--dota', help='DOTA root (val split scored)')
    parser.add_argument('--dota-test', help='DOTA test images as a root (Task 1 files)')
    parser.add_argument('--dota-size', type=int, default=1024)
    parser.add_argument('--dota-gap', type=int, default=200)
    parser.add_argument('--synthetic', type=int, default=0, help='held-out scenes')
    parser.add_argument('--synthetic-size', type=int, default=512)
    parser.add_argument(
        '--data-kind',
        default='real',
        choices=('real', 'fake-format'),
        help="what the roots hold (fake-format: the tests' tiny data)",
    )
    parser.add_argument('--fusion', action='store_true', help='the ablation rows')
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--train-batch', type=int, default=4)
    parser.add_argument('--backbone', default='resnet18')
    parser.add_argument('--pretrained', action='store_true')
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--eval-batch', type=int, default=4)
    parser.add_argument('--speed-size', type=int, default=None)
    parser.add_argument('--batch', type=int, default=1, help='batch of the speed test')
    parser.add_argument('--precision', default='fp32', choices=tuple(PRECISIONS))
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu'
    )
    parser.add_argument('--out', type=Path, default=Path('benchmarks/results/paper'))
    args = parser.parse_args(argv)
    if not (args.hrsc or args.dota or args.dota_test or args.synthetic):
        parser.error('give --hrsc, --dota, --dota-test or --synthetic N')
    if not args.checkpoint and not args.fusion:
        parser.error('give --checkpoint (or --fusion, which trains its own models)')
    if args.fusion:
        try:
            ablation_data(args)
        except InputError as err:
            parser.error(str(err))
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Compute, print and save the tables."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    report: dict[str, Any] = {
        'version': __version__,
        'device': device_name(device),
        'checkpoint': args.checkpoint,
        'precision': args.precision,
    }
    if args.checkpoint:
        model = resolve_detector(args.checkpoint).model.eval()
        if args.hrsc:
            report['hrsc2016'] = table('hrsc2016', model, args, args.checkpoint)
        if args.synthetic:
            report['synthetic'] = table('synthetic', model, args, args.checkpoint)
        if args.dota or args.dota_test:
            work = Path(tempfile.mkdtemp(prefix='cstf-dota-'))
            try:
                report['dota'] = dota_table(model, args, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        report['speed'] = speed(model, speed_input(args), args, args.checkpoint)
    if args.fusion:
        report['ablation'] = ablation(args)
    text = markdown(report)
    print(text)
    (args.out / 'paper_tables.md').write_text(text)
    (args.out / 'paper_tables.json').write_text(json.dumps(report, indent=2) + '\n')
    return report


if __name__ == '__main__':
    main()
