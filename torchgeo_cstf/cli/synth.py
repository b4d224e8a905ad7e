"""``cstf synth``: write synthetic acquisitions with exact ground truth."""

from __future__ import annotations

import argparse
import dataclasses
from collections import Counter
from typing import TYPE_CHECKING, Any

from .parsing import size, value_range

if TYPE_CHECKING:
    from ..synthetic import SceneTruth
    from ..synthetic.settings import GroundSettings


def _describe(truth: SceneTruth) -> str:
    from ..synthetic import CLASSES

    counts = Counter(CLASSES[o.label] for o in truth.objects)
    per_class = ', '.join(f'{name} {counts[name]}' for name in CLASSES)
    return (
        f'{truth.path}: {truth.height}x{truth.width} px, {len(truth.bands)} '
        f'{truth.modality} band(s) {truth.dtype}, {truth.crs}, '
        f'{len(truth.objects)} objects ({per_class})'
    )


#: CLI option → settings field, where the names differ (by settings class name)
_RENAMED: dict[str, dict[str, str]] = {
    'SceneSettings': {'objects': 'num_objects', 'clouds': 'cloud_cover'},
    'PairSettings': {
        'objects': 'num_objects',
        'clouds': 'cloud_cover',
        'bands': 'query_bands',
        'dtype': 'query_dtype',
    },
}
#: said by every option left to the simulator
_DEFAULT = " (default: the simulator's, see {}.{})"


def _settings[S: GroundSettings](cls: type[S], args: argparse.Namespace) -> S:
    """The settings record of the options given (``None``: the record's default)."""
    renamed = _RENAMED[cls.__name__]
    names = {f.name for f in dataclasses.fields(cls)}
    given = {
        renamed.get(option, option): value
        for option, value in vars(args).items()
        if value is not None and renamed.get(option, option) in names
    }
    return cls(**given)


def _synth_scene(args: argparse.Namespace) -> int:
    from ..synthetic import SceneSettings, generate_scene

    size = {} if args.size is None else {'size': args.size}
    truth = generate_scene(
        args.out,
        seed=args.seed,
        settings=_settings(SceneSettings, args),
        truth_path=args.truth,
        **size,
    )
    print(_describe(truth))
    return 0


def _synth_pair(args: argparse.Namespace) -> int:
    from ..synthetic import PairSettings, generate_pair

    truth = generate_pair(
        args.reference,
        args.query,
        seed=args.seed,
        settings=_settings(PairSettings, args),
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


def _common_synth_options(parser: argparse.ArgumentParser, settings: str) -> None:
    """Options of scenes and pairs (``settings``: the record their defaults live in)."""
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument(
        '--gsd',
        type=float,
        help='pixel size in metres' + _DEFAULT.format(settings, 'gsd'),
    )
    parser.add_argument(
        '--crs', help='projected CRS' + _DEFAULT.format(settings, 'crs')
    )
    parser.add_argument(
        '--objects',
        type=int,
        help='number of targets to place' + _DEFAULT.format(settings, 'num_objects'),
    )
    parser.add_argument(
        '--clouds',
        type=float,
        help='cloud cover in [0, 1] (optical)'
        + _DEFAULT.format(settings, 'cloud_cover'),
    )
    parser.add_argument('--dtype', choices=('uint8', 'uint16'))
    parser.add_argument('--bands', type=int, help='band count')
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
        '--size', type=size, help="ROWSxCOLS (default: generate_scene's)"
    )
    scene.add_argument(
        '--modality',
        choices=('optical', 'sar', 'thermal'),
        help='modality' + _DEFAULT.format('SceneSettings', 'modality'),
    )
    _common_synth_options(scene, 'SceneSettings')
    scene.set_defaults(handler=_synth_scene)

    pair = kinds.add_parser(
        'pair', help='a reference and a warped, later query in another modality'
    )
    pair.add_argument('reference', help='output GeoTIFF of the reference')
    pair.add_argument('query', help='output GeoTIFF of the query')
    pair.add_argument(
        '--size',
        type=size,
        help='reference ROWSxCOLS' + _DEFAULT.format('PairSettings', 'size'),
    )
    pair.add_argument(
        '--query-size', type=size, help='query ROWSxCOLS (default --size)'
    )
    pair.add_argument(
        '--modality',
        choices=('optical', 'sar', 'thermal'),
        help='query modality' + _DEFAULT.format('PairSettings', 'modality'),
    )
    pair.add_argument(
        '--reference-modality',
        choices=('optical', 'sar', 'thermal'),
        help='reference modality'
        + _DEFAULT.format('PairSettings', 'reference_modality'),
    )
    pair.add_argument(
        '--warp',
        choices=('identity', 'similarity', 'affine', 'homography'),
        help='warp model' + _DEFAULT.format('PairSettings', 'warp'),
    )
    pair.add_argument(
        '--scale',
        type=value_range,
        help='MIN:MAX query pixels per reference pixel'
        + _DEFAULT.format('PairSettings', 'scale'),
    )
    pair.add_argument(
        '--rotation',
        type=value_range,
        help='MIN:MAX degrees' + _DEFAULT.format('PairSettings', 'rotation'),
    )
    pair.add_argument(
        '--time-change',
        type=float,
        help='share of objects that change'
        + _DEFAULT.format('PairSettings', 'time_change'),
    )
    _common_synth_options(pair, 'PairSettings')
    pair.set_defaults(handler=_synth_pair)
