"""The ``cstf`` command line.

User errors (bad paths, bad parameters) end with exit code 2 and a one-line
``cstf: error: …`` message, never a traceback. Heavy libraries are imported only
by the command that needs them, so ``cstf --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import CSTFError

if TYPE_CHECKING:
    from .datasets.synthetic import SceneTruth

EXIT_USER_ERROR = 2


def _size(text: str) -> tuple[int, int]:
    """Parse ``512`` or ``512x768`` (rows x columns)."""
    parts = text.lower().split('x')
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a size like 512 or 512x768'
        ) from None
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise argparse.ArgumentTypeError(f'{text!r} is not a size like 512 or 512x768')


def _range(text: str) -> tuple[float, float]:
    """Parse ``0.5:2`` or a single number."""
    try:
        values = [float(p) for p in text.split(':')]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a range like 0.5:2'
        ) from None
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise argparse.ArgumentTypeError(f'{text!r} is not a range like 0.5:2')


def _describe(truth: SceneTruth) -> str:
    from .datasets.synthetic import CLASSES

    counts = Counter(CLASSES[o.label] for o in truth.objects)
    per_class = ', '.join(f'{name} {counts[name]}' for name in CLASSES)
    return (
        f'{truth.path}: {truth.height}x{truth.width} px, {len(truth.bands)} '
        f'{truth.modality} band(s) {truth.dtype}, {truth.crs}, '
        f'{len(truth.objects)} objects ({per_class})'
    )


def _synth_scene(args: argparse.Namespace) -> int:
    from .datasets.synthetic import generate_scene

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
    from .datasets.synthetic import generate_pair

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


def _dota_split(args: argparse.Namespace) -> int:
    from .datasets.dota import split_dota

    summary = split_dota(
        args.root,
        args.out,
        split=args.split,
        version=args.version,
        size=args.size,
        gap=args.gap,
        rates=args.rates,
        iof_threshold=args.iof_threshold,
        min_image_share=args.min_image_share,
        num_workers=args.workers,
    )
    print(
        f'{args.out}: {summary.patches} patches from {summary.images} images '
        f'({summary.skipped} mostly-padding windows skipped), '
        f'{summary.objects} object lines, {summary.lost} objects in no patch'
    )
    return 0


def _add_dota_commands(commands: Any) -> None:
    dota = commands.add_parser('dota', help='DOTA tools (patch splitting)')
    tools = dota.add_subparsers(dest='tool', required=True, metavar='TOOL')
    split = tools.add_parser(
        'split', help='cut a DOTA split into overlapping labelled patches'
    )
    split.add_argument('root', help="DOTA root in TorchGeo's layout")
    split.add_argument('out', help='output root (patches, labels, samples.csv)')
    split.add_argument('--split', choices=('train', 'val'), default='train')
    split.add_argument('--version', choices=('1.0', '1.5', '2.0'), default='1.0')
    split.add_argument('--size', type=int, default=1024, help='patch side (1024)')
    split.add_argument('--gap', type=int, default=200, help='window overlap (200)')
    split.add_argument(
        '--rates', type=float, nargs='+', default=[1.0], help='scales, e.g. 0.5 1 1.5'
    )
    split.add_argument(
        '--iof-threshold', type=float, default=0.7, help='keep-object IoF (0.7)'
    )
    split.add_argument(
        '--min-image-share',
        type=float,
        default=0.5,
        help='skip object-free patches with less data than this (0.5)',
    )
    split.add_argument('--workers', type=int, default=0, help='worker threads (0)')
    split.set_defaults(handler=_dota_split)


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cstf`` (all sub-commands).

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog='cstf',
        description='CSTF cross-modal matching and oriented object detection.',
    )
    parser.add_argument('--version', action='version', version=f'cstf {__version__}')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')

    synth = commands.add_parser(
        'synth', help='write synthetic acquisitions with exact ground truth'
    )
    kinds = synth.add_subparsers(dest='kind', required=True, metavar='KIND')

    scene = kinds.add_parser('scene', help='one GeoTIFF scene with oriented objects')
    scene.add_argument('out', help='output GeoTIFF')
    scene.add_argument(
        '--size', type=_size, default=(1024, 1024), help='ROWSxCOLS (default 1024)'
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
        '--size', type=_size, default=(512, 512), help='reference ROWSxCOLS'
    )
    pair.add_argument('--query-size', type=_size, default=None, help='query ROWSxCOLS')
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
        '--scale', type=_range, default=(0.5, 2.0), help='MIN:MAX (default 0.5:2)'
    )
    pair.add_argument(
        '--rotation',
        type=_range,
        default=(-180.0, 180.0),
        help='MIN:MAX degrees (default -180:180)',
    )
    pair.add_argument(
        '--time-change', type=float, default=0.3, help='share of objects that change'
    )
    _common_synth_options(pair)
    pair.set_defaults(handler=_synth_pair)
    _add_dota_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cstf``.

    Args:
        argv: arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 2 on a user error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except CSTFError as err:
        print(f'cstf: error: {err}', file=sys.stderr)
        return EXIT_USER_ERROR
    return code


if __name__ == '__main__':
    sys.exit(main())
