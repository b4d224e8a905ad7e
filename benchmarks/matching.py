"""Cross-modal matching: CSTF against SIFT + MAGSAC++ on held-out pairs.

Sets (CrossModalPairs test split, ``--pairs`` each; scale 0.7–1.4 and rotation
within ±30°, the range the shipped matcher trains for): optical → SAR-like,
optical → thermal-like, optical → optical at a later date; and optical → optical
under any rotation and scale 0.5–2 (outside that range, on purpose); with ``--real-root`` also pairs made from a
folder of real rasters (warp and SAR-like view simulated). For each method: mean
matching accuracy at 1/3/5 px over putative matches (HPatches style), homography
AUC of the corner error at 3/5/10 px (MAGSAC++ fit), and pairs per second on one
thread. Kornia's LoFTR with random weights is timed for speed only. The CSTF
matcher is ``--weights``: the shipped weights by default
(``CSTFMatcherRegNetX004_Weights.SYNTHETIC``, made by
``configs/matching_synthetic.yaml``), a CSTFMatching checkpoint, or ``none``
for the baselines only.

The fusion ablation (``--ablation-steps N``) trains the matcher once per fusion
mode (concat, sum, ca, sca, none) with the recipe of
``configs/matching_synthetic.yaml`` for N steps each, same seed, same pairs,
and scores each on the three usual sets.

Usage: python benchmarks/matching.py [--weights NAME|PATH|none] [--pairs 50] [--size 256]
       [--ablation-steps 400] [--ablation-out benchmarks/results/matching_ablation.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import kornia.feature as KF
import lightning
import numpy as np
import torch
import yaml
from kornia.geometry.subpix import ConvQuadInterp3d
from kornia.geometry.transform import ScalePyramid
from matplotlib.figure import Figure

from torchgeo_cstf import __version__
from torchgeo_cstf.datamodules import CrossModalPairsDataModule
from torchgeo_cstf.datasets import CrossModalPairs
from torchgeo_cstf.datasets.synthetic import synthesize_scene
from torchgeo_cstf.inference import plot_matches
from torchgeo_cstf.inference.matching import resolve_matcher
from torchgeo_cstf.metrics import corner_error, homography_auc, mean_matching_accuracy
from torchgeo_cstf.models import CSTFMatcher, DoGKeypoints, Matches, estimate_transform
from torchgeo_cstf.models.cstf import FUSIONS
from torchgeo_cstf.tasks import CSTFMatching

Matcher = Callable[[torch.Tensor, torch.Tensor], Matches]


def sift_matcher(ratio: float = 0.8) -> Matcher:
    """OpenCV SIFT (4000 features) with Lowe's ratio test."""
    sift = cv2.SIFT_create(nfeatures=4000)
    brute = cv2.BFMatcher(cv2.NORM_L2)

    def run(reference: torch.Tensor, query: torch.Tensor) -> Matches:
        images = [
            np.round(255 * x.mean(dim=0).numpy()).astype(np.uint8)
            for x in (reference, query)
        ]
        (kp1, d1), (kp2, d2) = (sift.detectAndCompute(im, None) for im in images)
        if d1 is None or d2 is None or len(kp1) < 2 or len(kp2) < 2:
            empty = torch.zeros(0, 2, dtype=torch.float64)
            return Matches(empty, empty, torch.zeros(0))
        pairs = [
            m for m, n in brute.knnMatch(d1, d2, k=2) if m.distance < ratio * n.distance
        ]
        # OpenCV's keypoint coordinates put pixel centres on integers
        ref = torch.tensor([kp1[m.queryIdx].pt for m in pairs], dtype=torch.float64)
        qry = torch.tensor([kp2[m.trainIdx].pt for m in pairs], dtype=torch.float64)
        return Matches(
            ref.reshape(-1, 2) + 0.5,
            qry.reshape(-1, 2) + 0.5,
            torch.tensor([1 - m.distance / 512 for m in pairs]),
        )

    return run


def cstf_matcher(model: CSTFMatcher, min_confidence: float) -> Matcher:
    """A trained CSTF matcher, one pair at a time."""

    def run(reference: torch.Tensor, query: torch.Tensor) -> Matches:
        return model.match(reference[None], query[None], min_confidence)[0].cpu()

    return run


def evaluate(matcher: Matcher, data: CrossModalPairs) -> dict[str, Any]:
    """Matching accuracy, homography AUC and speed of one method on one set."""
    accuracy, errors, seconds, counts = [], [], 0.0, []
    warm_up = data[0]
    matcher(warm_up['reference'], warm_up['query'])  # first-call set-up untimed
    for index in range(len(data)):
        sample = data[index]
        start = time.perf_counter()
        matches = matcher(sample['reference'], sample['query'])
        fitted = estimate_transform(matches, 'homography')
        seconds += time.perf_counter() - start
        warp = sample['warp'].numpy()
        accuracy.append(
            mean_matching_accuracy(matches.ref_xy, matches.query_xy, warp, (1, 3, 5))
        )
        height, width = sample['reference'].shape[-2:]
        errors.append(
            corner_error(None if fitted is None else fitted.matrix, warp, width, height)
        )
        counts.append(len(matches))
    mma = np.mean(accuracy, axis=0)
    auc = homography_auc(errors, (3, 5, 10))
    return {
        'mma1': round(float(mma[0]), 4),
        'mma3': round(float(mma[1]), 4),
        'mma5': round(float(mma[2]), 4),
        'auc3': round(float(auc[0]), 4),
        'auc5': round(float(auc[1]), 4),
        'auc10': round(float(auc[2]), 4),
        'matches_per_pair': round(float(np.mean(counts)), 1),
        'pairs_per_second': round(len(data) / seconds, 3),
    }


CONFIG = Path(__file__).parents[1] / 'configs' / 'matching_synthetic.yaml'


def train_fusion(fusion: str, steps: int) -> tuple[CSTFMatcher, float]:
    """Train the config's matcher with another fusion mode for ``steps`` steps.

    Returns:
        The trained matcher (eval mode) and the training seconds.
    """
    config = yaml.safe_load(CONFIG.read_text())
    model_args = {**config['model']['init_args'], 'fusion': fusion}
    data_args = {**config['data']['init_args'], **config['data']['dict_kwargs']}
    lightning.seed_everything(0, verbose=False)
    task = CSTFMatching(**model_args)
    datamodule = CrossModalPairsDataModule(**data_args)
    trainer = lightning.Trainer(
        max_steps=steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(task, datamodule=datamodule)
    return task.model.eval(), time.perf_counter() - start


def ablation(
    steps: int, sets: dict[str, CrossModalPairs], min_confidence: float, out: Path
) -> None:
    """Train and score every fusion mode with the same budget; JSON + PNG."""
    torch.set_num_threads(2)  # training uses both cores, scoring one as above
    table: dict[str, dict[str, Any]] = {}
    for fusion in FUSIONS:
        model, seconds = train_fusion(fusion, steps)
        torch.set_num_threads(1)
        scores = {
            name: evaluate(cstf_matcher(model, min_confidence), data)
            for name, data in sets.items()
        }
        torch.set_num_threads(2)
        table[fusion] = {'train_seconds': round(seconds, 1), **scores}
        print(f'{fusion:>7}', json.dumps(table[fusion]))
    result = {
        'benchmark': 'matching_ablation',
        'version': __version__,
        'config': str(CONFIG.relative_to(CONFIG.parents[1])),
        'steps': steps,
        'results': table,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + '\n')
    figure = Figure(figsize=(9, 4), layout='constrained')
    ax = figure.subplots()
    names = list(sets)
    width = 0.8 / len(table)
    for offset, fusion in enumerate(table):
        values = [table[fusion][n]['mma3'] for n in names]
        ax.bar(np.arange(len(names)) + offset * width, values, width, label=fusion)
    ax.set_xticks(np.arange(len(names)) + width * (len(table) - 1) / 2, names)
    ax.set_ylabel('MMA@3px')
    ax.set_title(f'CSTF fusion ablation: {steps} training steps each')
    ax.legend()
    figure.savefig(out.with_suffix('.png'), dpi=80)
    print(f'wrote {out} and {out.with_suffix(".png")}')


def keypoint_speed(size: int, repeat: int = 10) -> dict[str, float]:
    """DoGKeypoints against kornia's ScaleSpaceDetector (same scale space), one image.

    Returns ms per image of each, and the share of our 256 keypoints within
    1 px of one of kornia's 512 on a synthetic scene.
    """
    image = torch.from_numpy(synthesize_scene((size, size), seed=3).image)[None] / 255
    grey = image.float().mean(dim=1, keepdim=True)
    ours = DoGKeypoints(256)
    kornia = KF.ScaleSpaceDetector(
        num_features=512,
        resp_module=KF.BlobDoG(),
        subpix_module=ConvQuadInterp3d(10),
        scale_pyr_module=ScalePyramid(3, 1.6, 32, double_image=False),
        ori_module=KF.PassLAF(),
        aff_module=KF.PassLAF(),
        minima_are_also_good=True,
        scale_space_response=True,
    )
    timings = {}
    with torch.no_grad():
        for name, run in (
            ('ours', lambda: ours(image)),
            ('kornia', lambda: kornia(grey)),
        ):
            run()
            start = time.perf_counter()
            for _ in range(repeat):
                run()
            timings[f'{name}_ms'] = round(
                1000 * (time.perf_counter() - start) / repeat, 1
            )
        xy, _ = ours(image)
        lafs, _ = kornia(grey)
    distance = (
        torch.cdist(xy[0].double(), lafs[0, :, :, 2].double() + 0.5).min(1).values
    )
    return {
        **timings,
        'within_1px_of_kornia': round(float((distance < 1).float().mean()), 3),
    }


def loftr_speed(size: int, repeat: int = 3) -> float:
    """Pairs per second of kornia's LoFTR (random weights: speed only)."""
    model = KF.LoFTR(pretrained=None).eval()
    images = {
        'image0': torch.rand(1, 1, size, size),
        'image1': torch.rand(1, 1, size, size),
    }
    with torch.no_grad():
        model(images)
        start = time.perf_counter()
        for _ in range(repeat):
            model(images)
    return repeat / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--weights', default='CSTFMatcherRegNetX004_Weights.SYNTHETIC')
    parser.add_argument('--pairs', type=int, default=50)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--min-confidence', type=float, default=0.2)
    parser.add_argument('--real-root', type=Path, default=None)
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/matching.json')
    )
    parser.add_argument('--plot', type=Path, default=Path('docs/assets/matching.png'))
    parser.add_argument('--ablation-steps', type=int, default=0)
    parser.add_argument(
        '--ablation-out',
        type=Path,
        default=Path('benchmarks/results/matching_ablation.json'),
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)

    common = {'split': 'test', 'length': args.pairs, 'size': args.size, 'seed': 1}
    # the shipped matcher trains for rotations within ±30° (configs/matching_synthetic.yaml);
    # 'strong-geometry' (any rotation, scale 0.5–2) lies outside that on purpose
    usual = {'scale': (0.7, 1.4), 'rotation': (-30.0, 30.0), **common}
    sets = {
        'optical-sar': CrossModalPairs(modalities=('sar',), **usual),
        'optical-thermal': CrossModalPairs(modalities=('thermal',), **usual),
        'multi-temporal': CrossModalPairs(modalities=('optical',), **usual),
        'strong-geometry': CrossModalPairs(
            modalities=('optical',),
            scale=(0.5, 2.0),
            rotation=(-180.0, 180.0),
            **common,
        ),
    }
    if args.ablation_steps > 0:
        usual_sets = {k: v for k, v in sets.items() if k != 'strong-geometry'}
        ablation(
            args.ablation_steps, usual_sets, args.min_confidence, args.ablation_out
        )
        return
    if args.real_root is not None:
        sets['real-sar'] = CrossModalPairs(
            root=args.real_root, modalities=('sar',), scale=(0.7, 1.4), **common
        )
    methods: dict[str, Matcher] = {'sift+magsac': sift_matcher()}
    if args.weights != 'none':
        model = resolve_matcher(args.weights).eval()
        methods['cstf'] = cstf_matcher(model, args.min_confidence)
    table: dict[str, dict[str, Any]] = {}
    for set_name, data in sets.items():
        for method, matcher in methods.items():
            table[f'{set_name}/{method}'] = evaluate(matcher, data)
            print(f'{set_name:>16} {method:>12}', table[f'{set_name}/{method}'])
    result = {
        'benchmark': 'matching',
        'version': __version__,
        'machine': platform.machine(),
        'threads': 1,
        'pairs_per_set': args.pairs,
        'size': args.size,
        'weights': args.weights,
        'results': table,
        'loftr_random_weights_pairs_per_second': round(loftr_speed(args.size), 3),
        'keypoints': keypoint_speed(args.size),
    }
    print(
        'LoFTR (random weights) pairs/s:',
        result['loftr_random_weights_pairs_per_second'],
    )
    print('keypoints:', result['keypoints'])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + '\n')
    _figure(table, sets, methods, args.plot)
    print(f'wrote {args.out} and {args.plot}')


def _figure(
    table: dict[str, dict[str, Any]],
    sets: dict[str, CrossModalPairs],
    methods: dict[str, Matcher],
    path: Path,
) -> None:
    """Bar chart of MMA@3px per set and method, and one example pair per method."""
    figure = Figure(figsize=(12, 4), layout='constrained')
    ax = figure.subplots()
    names = list(sets)
    width = 0.8 / len(methods)
    for offset, method in enumerate(methods):
        values = [table[f'{n}/{method}']['mma3'] for n in names]
        ax.bar(np.arange(len(names)) + offset * width, values, width, label=method)
    ax.set_xticks(np.arange(len(names)) + width * (len(methods) - 1) / 2, names)
    ax.set_ylabel('MMA@3px')
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    sample = sets['optical-sar'][0]
    for method, matcher in methods.items():
        found = matcher(sample['reference'], sample['query'])
        plot_matches(
            sample['reference'],
            sample['query'],
            found,
            path.with_name(f'{path.stem}_{method.replace("+", "_")}.png'),
            warp=sample['warp'].numpy(),
            title=f'{method}, optical → SAR-like',
        )


if __name__ == '__main__':
    main()
