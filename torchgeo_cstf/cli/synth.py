"""``cstf synth``: write synthetic acquisitions with exact ground truth."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import TYPE_CHECKING, Any

from .parsing import size, value_range

if TYPE_CHECKING:
    from ..synthetic import SceneTruth


def _describe(truth: SceneTruth) -> str:
    from ..synthetic import CLASSES

    counts = Counter(CLASSES[o.label] for o in truth.objects)
    per_class = ', '.join(f'{name} {counts[name]}' for name in CLASSES)
    return (
        f'{truth.path}: {truth.height}x{truth.width} px, {len(truth.bands)} '
        f'{truth.modality} band(s) {truth.dtype}, {truth.crs}, '
        f'{len(truth.objects)} objects ({per_class})'
    )


def _synth_scene(args: argparse.Namespace) -> int:
    from ..synthetic import generate_scene

    truth = generate_scene(
        args.out,
        size=args.size,
        seed=args.seed,
        modality=args.modality,
        bands=args.bands,
        dtype=args.dtype,
        gsd=args.gsd,
        crs=args.crs,
        num_objects=args.objects,
        cloud_cover=args.clouds,
        truth_path=args.truth,
    )
    print(_describe(truth))
    return 0


def _synth_pair(args: argparse.Namespace) -> int:
    from ..synthetic import generate_pair

    truth = generate_pair(
        args.reference,
        args.query,
        seed=args.seed,
        size=args.size,
        query_size=args.query_size,
        modality=args.modality,
        reference_modality=args.reference_modality,
        query_bands=args.bands,
        query_dtype=args.dtype,
        warp=args.warp,
        scale=args.scale,
        rotation=args.rotation,
        time_change=args.time_change,
        gsd=args.gsd,
        crs=args.crs,
        num_objects=args.objects,
        cloud_cover=args.clouds,
        truth_path=args.truth,
    )
    changes = Counter(truth.changes.values())
    print(_describe(truth.reference))
    print(_describe(truth.query))
    print(
        f'warp ({truth.warp_model}): '
        + ' '.join(f'{v:.6g}' for row in truth.warp for v in row)
    )
    print('changes: ' + ', '.join(f'{k} {v}' for k, v in sorted(changes.items())))
    return 0


def _common_synth_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--gsd', type=float, default=0.5, help='pixel size in metres')
    parser.add_argument(
        '--crs', default='EPSG:32633', help='projected CRS (default EPSG:32633)'
    )
    parser.add_argument(
        '--objects', type=int, default=None, help='number of targets to place'
    )
    parser.add_argument(
        '--clouds', type=float, default=0.0, help='cloud cover in [0, 1] (optical)'
    )
    parser.add_argument('--dtype', choices=('uint8', 'uint16'), default=None)
    parser.add_argument('--bands', type=int, default=None, help='band count')
    parser.add_argument('--truth', default=None, help='write the ground truth as JSON')


def add_synth_commands(commands: Any) -> None:
    """Add ``cstf synth scene|pair`` to the sub-command set."""
    synth = commands.add_parser(
        'synth', help='write synthetic acquisitions with exact ground truth'
    )
    kinds = synth.add_subparsers(dest='kind', required=True, metavar='KIND')

    scene = kinds.add_parser('scene', help='one GeoTIFF scene with oriented objects')
    scene.add_argument('out', help='output GeoTIFF')
    scene.add_argument(
        '--size', type=size, default=(1024, 1024), help='ROWSxCOLS (default 1024)'
    )
    scene.add_argument(
        '--modality', choices=('optical', 'sar', 'thermal'), default='optical'
    )
    _common_synth_options(scene)
    scene.set_defaults(handler=_synth_scene)

    pair = kinds.add_parser(
        'pair', help='a reference and a warped, later query in another modality'
    )
    pair.add_argument('reference', help='output GeoTIFF of the reference')
    pair.add_argument('query', help='output GeoTIFF of the query')
    pair.add_argument(
        '--size', type=size, default=(512, 512), help='reference ROWSxCOLS'
    )
    pair.add_argument('--query-size', type=size, default=None, help='query ROWSxCOLS')
    pair.add_argument(
        '--modality',
        choices=('optical', 'sar', 'thermal'),
        default='sar',
        help='query modality (default sar)',
    )
    pair.add_argument(
        '--reference-modality', choices=('optical', 'sar', 'thermal'), default='optical'
    )
    pair.add_argument(
        '--warp',
        choices=('identity', 'similarity', 'affine', 'homography'),
        default='homography',
    )
    pair.add_argument(
        '--scale', type=value_range, default=(0.5, 2.0), help='MIN:MAX (default 0.5:2)'
    )
    pair.add_argument(
        '--rotation',
        type=value_range,
        default=(-180.0, 180.0),
        help='MIN:MAX degrees (default -180:180)',
    )
    pair.add_argument(
        '--time-change', type=float, default=0.3, help='share of objects that change'
    )
    _common_synth_options(pair)
    pair.set_defaults(handler=_synth_pair)
