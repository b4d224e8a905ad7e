"""``auto`` and ``dense`` on the real validation textures: the search's steps and the fixed turns.

The choices behind ``search=True`` — whether the rotation/scale search also
looks for the query's template in the reference (the swapped steps of
:data:`~torchgeo_cstf.inference.methods.SEARCHES`), and whether ``auto``'s
CSTF matcher tries :data:`FALLBACK_TURNS` fixed turns of the query where the
search finds nothing — are measured here on the **validation** textures of the
real folder (never the test split that ``benchmarks/matching.py --real-root``
reports), with the simulated views and geometry of the real table's ``any``
sets (any rotation, scale 0.7–1.4, 384²).

Rows: ``dense`` and ``auto`` (default weights) with the search one way only
(the reference's template in the query, as before the swapped step) and as
shipped; ``auto`` one way without the turns (as before them). Success: mean
corner error of the homography under 10 px.

Usage: python benchmarks/auto_validation.py --real-root data/real
       [--pairs sar=90 --pairs thermal=30 --pairs later-date=30]  (SET=0: left out)
       [--out benchmarks/results/auto_validation.json]
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import torch
from matching import REAL_MODALITIES, library_method, score

from torchgeo_cstf import __version__
from torchgeo_cstf.allocator import keep_freed_memory
from torchgeo_cstf.datasets import CrossModalPairs
from torchgeo_cstf.inference.methods import FALLBACK_TURNS, SEARCHES, PairMatcher
from torchgeo_cstf.models.registry import MATCHERS, resolve_model

#: the rows: name → (method, whether the fixed turns run, whether the search
#: also runs its swapped steps); ``auto`` with the default CSTF weights
ROWS: dict[str, tuple[str, bool, bool]] = {
    'dense, one-way search': ('dense', False, False),
    'dense (shipped)': ('dense', False, True),
    'auto, one-way search, no turns': ('auto', False, False),
    'auto, one-way search': ('auto', True, False),
    'auto (shipped)': ('auto', True, True),
}
DEFAULT_PAIRS = {'sar': 90, 'thermal': 30, 'later-date': 30}


def run_row(
    method: str, turns: bool, swapped: bool, samples: list[Any]
) -> dict[str, Any]:
    """Score one row on prepared samples (turns and swapped steps off or on)."""
    cstf = (
        None
        if method == 'dense'
        else resolve_model('cstf_matcher_regnetx_004', MATCHERS).model.eval()
    )
    pair = PairMatcher(
        method=method,  # type: ignore[arg-type]
        cstf=cstf,
        searches=SEARCHES if swapped else tuple(s for s in SEARCHES if not s.swapped),
        fallback_turns=FALLBACK_TURNS if turns else 0,
    )
    return score(library_method(pair, search=True), samples)


def main() -> None:
    """Score every row on every set and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--real-root', type=Path, required=True)
    parser.add_argument(
        '--pairs', action='append', default=[], help='SET=N (sar, thermal, later-date)'
    )
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/auto_validation.json')
    )
    args = parser.parse_args()
    counts = dict(DEFAULT_PAIRS)
    for item in args.pairs:
        name, _, number = item.partition('=')
        if name not in REAL_MODALITIES or not number.isdigit():
            parser.error(f'--pairs wants SET=N with SET in {list(REAL_MODALITIES)}')
        counts[name] = int(number)
    kept = keep_freed_memory()
    result: dict[str, Any] = {
        'benchmark': 'auto_validation',
        'imagery': 'real (validation textures; docs/datasets/real_matching.md)',
        'version': __version__,
        'machine': platform.machine(),
        'device': 'cpu',
        'threads': torch.get_num_threads(),
        'allocator_keeps_freed_memory': kept,
        'fallback_turns': FALLBACK_TURNS,
        'searches': [step._asdict() for step in SEARCHES],
        'results': {},
    }
    for name, pairs in counts.items():
        if pairs == 0:  # SET=0 leaves the set out
            continue
        data = CrossModalPairs(
            root=args.real_root / 'textures',
            split='val',
            length=pairs,
            size=384,
            seed=1,
            modalities=(REAL_MODALITIES[name],),
            scale=(0.7, 1.4),
            rotation=(-180.0, 180.0),
        )
        samples = [data[i] for i in range(len(data))]
        for row, (method, turns, swapped) in ROWS.items():
            figures = run_row(method, turns, swapped, samples)
            result['results'][f'{name}/{row}'] = figures
            print(
                f'{name:>10} {row:>30}: success {figures["success"]:.3f} '
                f'({round(figures["success"] * pairs)}/{pairs}), '
                f'{figures["pairs_per_second"]:.2f} pairs/s',
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + '\n')
    print('wrote', args.out)


if __name__ == '__main__':
    main()
