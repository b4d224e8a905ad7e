"""Training-step time in float32 against bfloat16 mixed precision.

Lightning's ``--trainer.precision bf16-mixed`` runs the forward pass under
``torch.autocast``. This script times full training steps (forward, loss,
backward, AdamW step) of the two trained models at the shapes of their real
recipes, in float32 and under bfloat16 autocast, alternating, several rounds:

- ``detector``: ``CSTFDetector`` RegNetX-200MF, 96 channels, 4 classes, a batch
  of 4 images of 640×512 (``configs/hit_uav_cstf.yaml``);
- ``matcher``: ``CSTFMatcher`` RegNetX-400MF with structure channels, a batch
  of 4 pairs of 256² (``configs/matching_real.yaml``).

Inputs are synthetic (speed only; the losses of the first step, at the same
weights, are recorded beside each other as a check that both precisions train
the same thing). On a CPU, bfloat16 pays only where the processor has
AVX-512 BF16 or AMX; ``bf16_supported`` records what oneDNN reports.

Usage::

    python benchmarks/mixed_precision.py [--steps 6] [--rounds 2] [--threads 2]

Prints the figures and writes ``benchmarks/results/mixed_precision.json``.
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
from torch import Tensor, nn

from torchgeo_cstf import __version__
from torchgeo_cstf.datasets import CrossModalPairs
from torchgeo_cstf.models import CSTFDetector, CSTFMatcher
from torchgeo_cstf.synthetic import synthesize_scene

OUT = Path(__file__).parent / 'results' / 'mixed_precision.json'
PRECISIONS = ('float32', 'bf16-mixed')


def detector_step(
    size: tuple[int, int] = (512, 640), batch: int = 4
) -> tuple[nn.Module, Callable[[], Tensor]]:
    """The detector and a closure computing its training loss on one batch."""
    model = CSTFDetector(backbone='regnetx_002', num_classes=4, channels=96)
    scenes = [
        synthesize_scene(size, seed=seed, num_objects=12) for seed in range(batch)
    ]
    image = torch.stack(
        [torch.from_numpy(s.image.astype('float32') / 255.0) for s in scenes]
    )
    targets = [
        {
            'boxes': torch.from_numpy(s.truth.boxes()).float(),
            'labels': torch.from_numpy(s.truth.labels()),
        }
        for s in scenes
    ]
    return model, lambda: model.loss(image, targets)['loss']


def matcher_step(
    size: int = 256, batch: int = 4
) -> tuple[nn.Module, Callable[[], Tensor]]:
    """The matcher and a closure computing its training loss on one batch."""
    model = CSTFMatcher(
        backbone='regnetx_004', reference_channels=3, query_channels=1, structure=True
    )
    pairs = CrossModalPairs(length=batch, size=size, rotation=(-30.0, 30.0))
    samples = [pairs[i] for i in range(batch)]
    keys = ('reference', 'query', 'warp', 'query_valid')
    data = {k: torch.stack([s[k] for s in samples]) for k in keys}
    return model, lambda: model.loss(
        data['reference'], data['query'], data['warp'], data['query_valid']
    )['loss']


MODELS: dict[str, Callable[[], tuple[nn.Module, Callable[[], Tensor]]]] = {
    'detector': detector_step,
    'matcher': matcher_step,
}


def time_steps(
    model: nn.Module, loss: Callable[[], Tensor], precision: str, steps: int
) -> tuple[list[float], float]:
    """Seconds of each training step, and the first step's loss."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    seconds, first = [], float('nan')
    for step in range(steps):
        start = time.perf_counter()
        with torch.autocast('cpu', torch.bfloat16, enabled=precision != 'float32'):
            value = loss()
        optimiser.zero_grad()
        value.backward()
        optimiser.step()
        seconds.append(time.perf_counter() - start)
        if step == 0:
            first = value.item()
    return seconds, first


def measure(name: str, steps: int, rounds: int) -> dict[str, Any]:
    """Median step time per precision (first step of each round left out)."""
    model, loss = MODELS[name]()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    losses: dict[str, float] = {}
    for _ in range(rounds):
        for precision in PRECISIONS:
            model.load_state_dict(initial)  # same weights, so the losses compare
            seconds, first = time_steps(model, loss, precision, steps)
            times[precision] += seconds[1:]
            losses[precision] = round(first, 4)
    median = {p: statistics.median(times[p]) for p in PRECISIONS}
    return {
        'seconds_per_step': {p: round(v, 3) for p, v in median.items()},
        'speedup': round(median['float32'] / median['bf16-mixed'], 2),
        'first_loss': losses,
        'steps_timed': len(times['float32']),
    }


def main() -> None:
    """Time both models and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=6)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS)
    parser.add_argument('--out', type=Path, default=OUT)
    args = parser.parse_args()
    if args.steps < 2:
        parser.error('--steps must be at least 2 (the first step is left out)')
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    result: dict[str, Any] = {
        'benchmark': 'mixed_precision',
        'imagery': 'synthetic inputs (speed only)',
        'version': __version__,
        'machine': platform.processor() or platform.machine(),
        'device': 'CPU',
        'threads': args.threads,
        'bf16_supported': bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
        'results': {},
    }
    for name in args.models:
        result['results'][name] = figures = measure(name, args.steps, args.rounds)
        print(
            f'{name}: float32 {figures["seconds_per_step"]["float32"]} s/step, '
            f'bf16-mixed {figures["seconds_per_step"]["bf16-mixed"]} s/step '
            f'({figures["speedup"]}x); first loss {figures["first_loss"]}',
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + '\n')
    print('wrote', args.out)


if __name__ == '__main__':
    main()
