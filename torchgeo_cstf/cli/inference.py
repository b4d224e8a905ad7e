"""``cstf detect``, ``cstf match`` and ``cstf export``: inference on real rasters."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..options import RegistrationOptions, TilingOptions
from .parsing import add_registration_arguments, add_tiling_arguments, option_values


def _detect(args: argparse.Namespace) -> int:
    from ..inference import detect_scene, write_detections, write_quicklook

    found = detect_scene(
        args.scene,
        args.model,
        TilingOptions.from_mapping(option_values(args, TilingOptions)),
        device=args.device,
        reference=args.reference,
        acquisition_id=args.acquisition_id,
        progress=not args.quiet,
    )
    write_detections(found, args.out, crs=args.crs)
    quicklook = Path(args.out).with_suffix('.png')
    if not args.no_quicklook:
        write_quicklook(found, quicklook)
    counts = ', '.join(f'{n} {name}' for name, n in found.counts().items())
    timings = found.timings
    print(
        f'{args.out}: {len(found)} objects ({counts}) from {timings.tiles} tiles '
        f'in {timings.seconds:.1f} s ({timings.tiles / timings.seconds:.2f} tiles/s)'
        + ('' if args.no_quicklook else f'; quicklook {quicklook}')
    )
    return 0


def _match(args: argparse.Namespace) -> int:
    from ..inference.coregister import coregister
    from ..inference.coregistration_files import write_coregistration

    out = Path(args.out)
    result = coregister(
        args.reference,
        args.query,
        args.model,
        RegistrationOptions.from_mapping(option_values(args, RegistrationOptions)),
        device=args.device,
        progress=not args.quiet,
    )
    write_coregistration(result, out, progress=not args.quiet)
    if result.transform is None:
        print(
            f'{out}: {len(result.matches.confidence)} matches but no consistent '
            'transform; tie points and matches.png written, nothing warped'
        )
        return 1
    print(
        f'{out}: {result.inliers}/{len(result.matches.confidence)} matches '
        f'consistent, RMSE {result.rmse_px:.2f} px; query_on_reference.tif, '
        'tie_points.gpkg, matches.png, report.json'
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..models.weights import export_weights

    digest = export_weights(args.checkpoint, args.out, half=not args.fp32)
    size = Path(args.out).stat().st_size / 2**20
    print(f'{args.out}: {size:.1f} MiB, sha256 {digest}')
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--device', default='cpu', help='cpu, cuda or cuda:N (default cpu)'
    )
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def add_inference_commands(commands: Any) -> None:
    """Add ``cstf detect``, ``cstf match`` and ``cstf export`` to the sub-command set."""
    detect = commands.add_parser(
        'detect', help='detect oriented objects in a GeoTIFF scene of any size'
    )
    detect.add_argument('scene', help='the scene (GeoTIFF with a CRS)')
    detect.add_argument(
        '--model',
        default='cstf_detector_regnetx_002',
        help='registered detector, weights name or CSTFDetection .ckpt '
        '(default cstf_detector_regnetx_002, trained on synthetic scenes; '
        '`cstf models` lists the weights and the imagery each knows)',
    )
    detect.add_argument(
        '--out', required=True, help='output .gpkg (default format) or .geojson'
    )
    detect.add_argument(
        '--crs', default=None, help='output CRS, e.g. EPSG:4326 (default the scene)'
    )
    detect.add_argument(
        '--reference',
        default=None,
        help='co-registered earlier acquisition on the same grid (temporal fusion)',
    )
    add_tiling_arguments(detect)
    detect.add_argument(
        '--acquisition-id', default=None, help='id written per object (file stem)'
    )
    detect.add_argument(
        '--no-quicklook', action='store_true', help='skip the PNG quicklook'
    )
    _common(detect)
    detect.set_defaults(handler=_detect)

    match = commands.add_parser(
        'match', help='co-register QUERY onto REF (tie points, warped COG, report)'
    )
    match.add_argument('reference', help='reference raster (the target grid)')
    match.add_argument('query', help='raster to align')
    match.add_argument('--out', required=True, help='output directory')
    add_registration_arguments(match)
    match.add_argument(
        '--model',
        default='cstf_matcher_regnetx_004',
        help='CSTF matcher: a registered name (its shipped weights), a weights '
        'name or a CSTFMatching .ckpt (default cstf_matcher_regnetx_004)',
    )
    _common(match)
    match.set_defaults(handler=_match)

    export = commands.add_parser(
        'export', help='write a checkpoint as a release weights file (+ SHA-256)'
    )
    export.add_argument('checkpoint', help='Lightning checkpoint or state dict')
    export.add_argument('out', help='the weights file to write (.pth)')
    export.add_argument('--fp32', action='store_true', help='keep fp32 (default fp16)')
    export.set_defaults(handler=_export)
