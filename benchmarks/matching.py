"""Cross-modal matching: CSTF, dense, auto and SIFT + MAGSAC++ on held-out pairs.

Synthetic sets (CrossModalPairs test split, ``--pairs`` each; scale 0.7–1.4 and
rotation within ±30°, the range the matcher trains for): optical → SAR-like,
optical → thermal-like, optical → optical at a later date; and optical →
optical under any rotation and scale 0.5–2. The CSTF matcher is scored there
as it always was (one forward pass, no prior, no search).

With ``--real-root DIR`` (the folder ``benchmarks/prepare_real_matching.py``
writes; all imagery real) the real table is measured instead:

- real textures of the test split (Sentinel-2 tile 14RNT, RSSCN7 test scenes)
  with simulated modalities (SAR-like, thermal-like, later date), once with
  rotation within ±10° and once under any rotation, scale 0.7–1.4: no prior,
  so CSTF, dense and auto start from the rotation/scale search;
- real co-registered pairs (StaRainJ multimodal remote-sensing pairs by
  modality, Sentinel-1/2 optical–SAR of tile 14RNT, visible–NIR of the
  Desert and Mountain scenes), the query resampled into the reference frame
  and moved by ±40 px, ±3°, ±3 % (the co-registration case: the prior is the
  identity, no search).

Methods: SIFT (OpenCV, ratio test) and the three of
:mod:`torchgeo_cstf.inference.methods`; every transform is fitted by
MAGSAC++ at 3 px, the model the library chooses for the case (SIFT's too): a
homography on the synthetic sets and where the methods search, affine on the
pre-aligned pairs. Metrics: mean matching accuracy at 1/3/5 px over
putative matches (HPatches style), homography AUC of the mean corner error at
3/5/10 px, success (mean corner error < 10 px) and pairs per second on one
thread. Kornia's LoFTR with random weights is timed for speed only.
``--weights``: the CSTF weights (default: the shipped default matcher), a
CSTFMatching checkpoint, or ``none`` for the training-free methods only.

The fusion ablation (``--ablation-steps N``) trains the matcher once per fusion
mode (concat, sum, ca, sca, none) with the recipe of
``configs/matching_synthetic.yaml`` for N steps each, same seed, same pairs,
and scores each on the three usual synthetic sets.

Usage: python benchmarks/matching.py [--weights NAME|PATH|none] [--pairs 50] [--size 256]
       [--real-root data/real --real-pairs 30 --real-size 384]
       [--summarise benchmarks/results/matching_real.json]
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
from torchgeo_cstf.allocator import keep_freed_memory
from torchgeo_cstf.datamodules import CrossModalPairsDataModule
from torchgeo_cstf.datasets import CrossModalPairs, PairedRasters
from torchgeo_cstf.inference import plot_matches
from torchgeo_cstf.inference.matching import resolve_matcher
from torchgeo_cstf.inference.methods import PairMatcher, fitted_model
from torchgeo_cstf.metrics import corner_error, homography_auc, mean_matching_accuracy
from torchgeo_cstf.models import (
    CSTFMatcher,
    DoGKeypoints,
    Matches,
    Transform,
    estimate_transform,
)
from torchgeo_cstf.models.cstf import FUSIONS
from torchgeo_cstf.options import TransformModel
from torchgeo_cstf.synthetic import synthesize_scene
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
            return Matches.empty()
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


Method = Callable[[torch.Tensor, torch.Tensor], tuple[Matches, Transform | None]]
Sample = dict[str, Any]


def with_fit(matcher: Matcher, model: TransformModel = 'homography') -> Method:
    """A matcher followed by the MAGSAC++ fit (3 px) of every method.

    ``model``: the one the library's methods fit in the same case
    (:func:`~torchgeo_cstf.inference.methods.fitted_model`): a homography
    where they search, affine around the identity prior of pre-aligned pairs.
    """

    def run(
        reference: torch.Tensor, query: torch.Tensor
    ) -> tuple[Matches, Transform | None]:
        found = matcher(reference, query)
        return found, estimate_transform(found, model)

    return run


def evaluate(matcher: Matcher, data: CrossModalPairs) -> dict[str, Any]:
    """Matching accuracy, homography AUC and speed of one matcher on one set."""
    return score(with_fit(matcher), [data[i] for i in range(len(data))])


def library_method(pair: PairMatcher, search: bool) -> Method:
    """One of the library's methods (inference.methods) as the benchmark calls it."""

    def run(
        reference: torch.Tensor, query: torch.Tensor
    ) -> tuple[Matches, Transform | None]:
        result = pair(reference, query, search=search)
        return result.matches, result.transform

    return run


def score(method: Method, samples: list[Sample]) -> dict[str, Any]:
    """MMA, homography AUC, success, speed and each pair's corner error of one method."""
    accuracy, errors, counts, seconds = [], [], [], 0.0
    method(samples[0]['reference'], samples[0]['query'])  # first-call set-up untimed
    for sample in samples:
        start = time.perf_counter()
        matches, fitted = method(sample['reference'], sample['query'])
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
        'pairs': len(samples),
        'mma1': round(float(mma[0]), 4),
        'mma3': round(float(mma[1]), 4),
        'mma5': round(float(mma[2]), 4),
        'auc3': round(float(auc[0]), 4),
        'auc5': round(float(auc[1]), 4),
        'auc10': round(float(auc[2]), 4),
        'success': round(float(np.mean(np.asarray(errors) < 10)), 4),
        'matches_per_pair': round(float(np.mean(counts)), 1),
        'pairs_per_second': round(len(samples) / seconds, 3),
        # each pair's mean corner error (px; None: no transform), in set order
        'corner_errors': [round(e, 2) if np.isfinite(e) else None for e in errors],
    }


#: simulated modalities of the real-texture sets: set name → CrossModalPairs modality
REAL_MODALITIES = {'sar': 'sar', 'thermal': 'thermal', 'later-date': 'optical'}
#: real co-registered pair sets (folders of OUT/pairs), pre-aligned
REAL_PAIR_SETS = ('multimodal', 'optical-sar', 'nir-vis')
#: the methods of the real table: SIFT and the library's three
REAL_METHODS = ('sift+magsac', 'dense', 'cstf', 'auto')


def prealignment(data: PairedRasters) -> str:
    """How far the pre-aligned queries of a pair set are moved off the truth."""
    return (
        f'shift up to {data.shift:g} px, rotation {data.rotation[0]:g} to '
        f'{data.rotation[1]:g} deg, scale {data.scale[0]:g} to {data.scale[1]:g}'
    )


def real_sets(
    root: Path, pairs: int, size: int
) -> tuple[dict[str, tuple[list[Sample], bool]], str]:
    """The real-imagery sets and their pre-alignment.

    Returns:
        Set name → (samples, whether methods search rotations), and the
        pre-alignment of the pair sets (see :func:`prealignment`).
    """
    sets: dict[str, tuple[list[Sample], bool]] = {}
    for rotation_name, rotation in (('10deg', (-10.0, 10.0)), ('any', (-180.0, 180.0))):
        for name, modality in REAL_MODALITIES.items():
            data = CrossModalPairs(
                root=root / 'textures',
                split='test',
                length=pairs,
                size=size,
                seed=1,
                modalities=(modality,),
                scale=(0.7, 1.4),
                rotation=rotation,
            )
            samples = [data[i] for i in range(len(data))]
            sets[f'textures-{name}/{rotation_name}'] = (samples, True)
    prealigned, moved = real_pair_sets(root)
    sets.update((name, (samples, False)) for name, samples in prealigned.items())
    return sets, moved


def real_pair_sets(root: Path) -> tuple[dict[str, list[Sample]], str]:
    """The real co-registered pair sets of the test split, pre-aligned.

    One 512² tile per pair; the StaRainJ pairs grouped by modality.

    Returns:
        Set name → samples, and the pre-alignment (see :func:`prealignment`).
    """
    sets: dict[str, list[Sample]] = {}
    moved = ''
    for name in REAL_PAIR_SETS:
        data = PairedRasters(
            root / 'pairs' / name, split='test', size=512, resample=True
        )
        moved = prealignment(data)
        first: dict[int, int] = {}
        for index, (pair, _, _) in enumerate(data.tiles):
            first.setdefault(pair, index)
        for pair, index in first.items():
            kind = data.kinds[pair] if name == 'multimodal' else name
            label = f'pairs-{name}' if kind == name else f'pairs-multimodal/{kind}'
            sets.setdefault(label, []).append(data[index])
    return sets, moved


def summarise(table: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The real table's headline figures, per method.

    Args:
        table: ``set/method`` → the metrics of :func:`score`.

    Returns:
        ``multimodal_success``: success over all StaRainJ pairs (weighted by
        pairs per modality); ``prealigned_success``, ``prealigned_pairs``,
        ``prealigned_pairs_per_second`` (all pre-aligned ``pairs-*`` sets
        together: StaRainJ, optical–SAR, visible–NIR) and its ratio to SIFT's.
    """

    def success(rows: list[dict[str, Any]]) -> float:
        weights = [r['pairs'] for r in rows]
        return round(
            float(np.average([r['success'] for r in rows], weights=weights)), 4
        )

    sets = sorted({key.rsplit('/', 1)[0] for key in table})
    prealigned = [s for s in sets if s.startswith('pairs-')]
    multimodal = [s for s in prealigned if s.startswith('pairs-multimodal/')]
    summary: dict[str, Any] = {}
    for method in REAL_METHODS:
        rows = [table.get(f'{s}/{method}') for s in prealigned]
        if not all(rows):
            continue
        chosen = [r for r in rows if r is not None]
        mm = [table[f'{s}/{method}'] for s in multimodal]
        pairs = sum(r['pairs'] for r in chosen)
        seconds = sum(r['pairs'] / r['pairs_per_second'] for r in chosen)
        summary[method] = {
            'multimodal_success': success(mm),
            'prealigned_success': success(chosen),
            'prealigned_pairs': pairs,
            'prealigned_pairs_per_second': round(pairs / seconds, 3),
        }
    sift = summary.get('sift+magsac', {}).get('prealigned_pairs_per_second')
    for figures in summary.values():
        if sift:
            figures['speed_vs_sift'] = round(
                figures['prealigned_pairs_per_second'] / sift, 3
            )
    return summary


def run_real(args: argparse.Namespace, kept: bool) -> None:
    """The real-imagery table: JSON, bar chart and example matches.

    ``kept``: whether glibc keeps freed memory (:func:`keep_freed_memory`).
    """
    sets, moved = real_sets(args.real_root, args.real_pairs, args.real_size)
    cstf = None if args.weights == 'none' else resolve_matcher(args.weights).eval()
    table: dict[str, dict[str, Any]] = {}
    for set_name, (samples, search) in sets.items():
        peer = with_fit(sift_matcher(), fitted_model(None, search))
        methods: dict[str, Method] = {'sift+magsac': peer}
        for name in REAL_METHODS[1:]:
            if name != 'dense' and cstf is None:
                continue
            pair = PairMatcher(method=name, cstf=cstf)  # type: ignore[arg-type]
            methods[name] = library_method(pair, search)
        for method, run in methods.items():
            table[f'{set_name}/{method}'] = score(run, samples)
            print(
                f'{set_name:>34} {method:>12}',
                table[f'{set_name}/{method}'],
                flush=True,
            )
    result = {
        'benchmark': 'matching_real',
        'imagery': 'real (see docs/datasets/real_matching.md)',
        'version': __version__,
        'machine': platform.machine(),
        'device': 'cpu',
        'threads': 1,
        'allocator_keeps_freed_memory': kept,
        'weights': args.weights,
        'texture_size': args.real_size,
        'pairs_per_texture_set': args.real_pairs,
        'prealignment': moved,
        'results': table,
        'summary': summarise(table),
    }
    print(json.dumps(result['summary'], indent=1))
    args.real_out.parent.mkdir(parents=True, exist_ok=True)
    args.real_out.write_text(json.dumps(result, indent=1) + '\n')
    _real_figure(table, list(sets), args.plot.with_name('matching_real.png'))
    print(f'wrote {args.real_out}')


def _real_figure(
    table: dict[str, dict[str, Any]], names: list[str], path: Path
) -> None:
    """Success rate per set and method."""
    methods = [m for m in REAL_METHODS if f'{names[0]}/{m}' in table]
    figure = Figure(figsize=(14, 4.5), layout='constrained')
    ax = figure.subplots()
    width = 0.8 / len(methods)
    for offset, method in enumerate(methods):
        values = [table[f'{n}/{method}']['success'] for n in names]
        ax.bar(np.arange(len(names)) + offset * width, values, width, label=method)
    ax.set_xticks(
        np.arange(len(names)) + width * (len(methods) - 1) / 2,
        [n.replace('pairs-multimodal/', 'mm/') for n in names],
        rotation=35,
        ha='right',
    )
    ax.set_ylabel('success (corner error < 10 px)')
    ax.set_ylim(0, 1.05)
    ax.set_title('Matching on real imagery (2 CPU cores, 1 thread)')
    ax.legend(ncols=4)
    figure.savefig(path, dpi=80)


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
    parser.add_argument('--weights', default='cstf_matcher_regnetx_004')
    parser.add_argument('--pairs', type=int, default=50)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--min-confidence', type=float, default=0.2)
    parser.add_argument('--real-root', type=Path, default=None)
    parser.add_argument('--real-pairs', type=int, default=30)
    parser.add_argument('--real-size', type=int, default=384)
    parser.add_argument(
        '--real-out', type=Path, default=Path('benchmarks/results/matching_real.json')
    )
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/matching.json')
    )
    parser.add_argument('--plot', type=Path, default=Path('docs/assets/matching.png'))
    parser.add_argument(
        '--summarise',
        type=Path,
        default=None,
        help='recompute the summary of a saved real table (JSON) and rewrite it',
    )
    parser.add_argument('--ablation-steps', type=int, default=0)
    parser.add_argument(
        '--ablation-out',
        type=Path,
        default=Path('benchmarks/results/matching_ablation.json'),
    )
    args = parser.parse_args()
    if args.summarise is not None:
        saved = json.loads(args.summarise.read_text())
        saved['summary'] = summarise(saved['results'])
        args.summarise.write_text(json.dumps(saved, indent=1) + '\n')
        print(json.dumps(saved['summary'], indent=1))
        return
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    # as the command line and the workers do (every method in this process gains)
    kept = keep_freed_memory()

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
        run_real(args, kept)
        return
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
        'allocator_keeps_freed_memory': kept,
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
