from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_rows_switch_the_turns_and_the_swapped_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / 'benchmarks'))
    import auto_validation

    from torchgeo_cstf.datasets import CrossModalPairs
    from torchgeo_cstf.inference.methods import FALLBACK_TURNS, SEARCHES, PairMatcher

    made: list[tuple[int, int]] = []

    class Recording(PairMatcher):
        def __post_init__(self) -> None:
            super().__post_init__()
            # what the row's matching uses: turns, and how many swapped steps
            made.append((self.fallback_turns, sum(s.swapped for s in self.searches)))

    monkeypatch.setattr(auto_validation, 'PairMatcher', Recording)
    data = CrossModalPairs(length=2, size=128, rotation=(-5.0, 5.0))
    samples: list[Any] = [data[0], data[1]]
    swapped = sum(step.swapped for step in SEARCHES)
    assert FALLBACK_TURNS > 0 and swapped > 0
    figures = [
        auto_validation.run_row('dense', t, s, samples)
        for t, s in ((False, False), (True, True))
    ]
    assert made == [(0, 0), (FALLBACK_TURNS, swapped)]  # the older rows, as shipped
    assert all(f['pairs'] == 2 and 0 <= f['success'] <= 1 for f in figures)
