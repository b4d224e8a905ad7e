"""What each tutorial costs: its tested run, and its full-size work on this device.

For every page of ``docs/tutorials/`` (run as ``tests/test_tutorials.py`` runs
it: the page's own commands on the test-size data it declares) the wall time;
and for the work the page describes at full size, measured on this device:

- ``hrsc2016``: one training step of ``configs/hrsc2016_cstf_r50.yaml``
  (ResNet-50, 800², batch 4, forward + loss + backward + AdamW step, fp32 on the
  CPU, bf16 autocast on CUDA), times the schedule's 5,580 steps; and detection
  images/s at 800².
- ``dota``: one training step of ``configs/dota_cstf_r50.yaml`` (ResNet-50,
  1024²) at ``--dota-batch`` (default 2 on the CPU, 8 on CUDA; the CPU time is
  scaled to the config's batch 8 linearly), per 1,000 steps.
- ``detect``: ``cstf detect`` on a synthetic 4096² scene (the page's full
  size).
- ``coregister``, ``jobs``, ``deploy``: the page runs at full size; its wall
  time is the cost.

Every figure is labelled with the device. Writes
``benchmarks/results/tutorial_costs.json`` (``tutorial_costs_gpu.json`` on a
GPU), which the docs build puts into each tutorial's "What it costs" section
(``tools/mkdocs_hooks.py``).

Usage: python benchmarks/tutorial_costs.py [--steps 2] [--skip-tutorials]
       [--redis redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from paper_tables import device_name

from torchgeo_cstf import __version__
from torchgeo_cstf.tasks import CSTFDetection

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location(
    'tutorials', ROOT / 'tools' / 'tutorials.py'
)
assert _SPEC is not None
assert _SPEC.loader is not None
tutorials: Any = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = tutorials  # its dataclasses look their module up
_SPEC.loader.exec_module(tutorials)

#: steps of the HRSC2016 schedule (36 epochs × 155 steps of batch 4)
HRSC_STEPS = 5580


def _model(config: str) -> CSTFDetection:
    """The config's detector with fresh weights (no download: speed needs none)."""
    init = yaml.safe_load((ROOT / config).read_text())['model']['init_args']
    return CSTFDetection(**{**init, 'pretrained': False})


def _targets(
    batch: int, size: int, classes: int, device: torch.device
) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(0)
    targets = []
    for _ in range(batch):
        count = 20
        centre = torch.rand(count, 2, generator=generator) * (size - 100) + 50
        extent = torch.rand(count, 2, generator=generator) * 60 + 10
        angle = (torch.rand(count, 1, generator=generator) - 0.5) * 3.14
        targets.append(
            {
                'boxes': torch.cat([centre, extent, angle], 1).to(device),
                'difficult': torch.zeros(count, dtype=torch.bool, device=device),
                'labels': torch.randint(0, classes, (count,), generator=generator).to(
                    device
                ),
            }
        )
    return targets


def train_step_seconds(
    config: str, size: int, batch: int, steps: int, device: torch.device
) -> float:
    """Median seconds of one optimisation step (after one warm-up step)."""
    task = _model(config).to(device).train()
    model = task.model
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    image = torch.rand(batch, 3, size, size, device=device)
    targets = _targets(batch, size, model.num_classes, device)
    times = []
    for step in range(steps + 1):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        began = time.perf_counter()
        with torch.autocast(device.type, torch.bfloat16, enabled=device.type == 'cuda'):
            loss = model.loss(image, targets)['loss']
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        if step:
            times.append(time.perf_counter() - began)
    return statistics.median(times)


@torch.inference_mode()
def detect_images_per_second(config: str, size: int, device: torch.device) -> float:
    """Images/s of ``predict`` at ``size``² (batch 1, median of 3 after a warm-up)."""
    model = _model(config).model.to(device).eval()
    image = torch.rand(1, 3, size, size, device=device)
    times = []
    for run in range(4):
        began = time.perf_counter()
        model.predict(image)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        if run:
            times.append(time.perf_counter() - began)
    return 1.0 / statistics.median(times)


def detect_scene_seconds(work: Path) -> float:
    """Wall time of ``cstf detect`` on a synthetic 4096² scene (the CLI, as users run it)."""
    scene = work / 'scene.tif'
    subprocess.run(
        [sys.executable, '-m', 'torchgeo_cstf.cli', 'synth', 'scene', str(scene),
         '--size', '4096x4096', '--objects', '200', '--seed', '3'],
        check=True, capture_output=True,
    )  # fmt: skip
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, '-m', 'torchgeo_cstf.cli', 'detect', str(scene),
         '--out', str(work / 'scene.gpkg'), '--quiet'],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - began


def tested_runs(redis_url: str) -> dict[str, float]:
    """Wall seconds of each tutorial as its test runs it."""
    seconds = {}
    for page in tutorials.pages():
        tutorial = tutorials.parse(page)
        with tempfile.TemporaryDirectory(prefix=f'cost-{tutorial.name}-') as work:
            outcome = tutorials.run(
                tutorial, Path(work), {'CSTF_TEST_BROKER_URL': redis_url}
            )
        if outcome.returncode:
            raise SystemExit(f'{tutorial.name} failed:\n{outcome.output[-3000:]}')
        seconds[tutorial.name] = round(outcome.seconds, 1)
        print(f'{tutorial.name}: {outcome.seconds:.0f} s as tested', flush=True)
    return seconds


def main() -> None:
    """Measure, print and save."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=2, help='timed training steps')
    parser.add_argument('--dota-batch', type=int, default=None)
    parser.add_argument('--skip-tutorials', action='store_true')
    parser.add_argument('--redis', default='redis://127.0.0.1:6379/15')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu'
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    report: dict[str, Any] = {
        'version': __version__,
        'device': device_name(device),
        'data': 'tutorial commands on the test-size data they declare; random '
        'tensors for the training steps; synthetic scenes for detection',
    }
    if not args.skip_tutorials:
        report['tested_seconds'] = tested_runs(args.redis)
    hrsc_step = train_step_seconds(
        'configs/hrsc2016_cstf_r50.yaml', 800, 4, args.steps, device
    )
    print(f'hrsc2016: {hrsc_step:.1f} s per training step', flush=True)
    dota_batch = args.dota_batch or (8 if device.type == 'cuda' else 2)
    dota_step = train_step_seconds(
        'configs/dota_cstf_r50.yaml', 1024, dota_batch, args.steps, device
    ) * (8 / dota_batch)
    print(f'dota: {dota_step:.1f} s per training step (batch 8)', flush=True)
    with tempfile.TemporaryDirectory(prefix='cost-detect-') as work:
        scene = detect_scene_seconds(Path(work))
    print(f'detect: {scene:.0f} s for a 4096² scene', flush=True)
    report['full_size'] = {
        'hrsc2016': {
            'train_step_s': round(hrsc_step, 2),
            'schedule_steps': HRSC_STEPS,
            'schedule_hours': round(hrsc_step * HRSC_STEPS / 3600, 1),
            'detect_images_per_s_800': round(
                detect_images_per_second('configs/hrsc2016_cstf_r50.yaml', 800, device),
                2,
            ),
        },
        'dota': {
            'train_step_s_batch8': round(dota_step, 2),
            'measured_batch': dota_batch,
            'hours_per_1000_steps': round(dota_step * 1000 / 3600, 1),
        },
        'detect': {'scene_px': 4096, 'seconds': round(scene, 1)},
    }
    name = 'tutorial_costs_gpu.json' if device.type == 'cuda' else 'tutorial_costs.json'
    out = ROOT / 'benchmarks' / 'results' / name
    out.write_text(json.dumps(report, indent=2) + '\n')
    print(json.dumps(report, indent=2))


if __name__ == '__main__':
    main()
