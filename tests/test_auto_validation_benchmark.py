from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_rows_switch_the_turns_and_the_swapped_search_and_restore_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / 'benchmarks'))
    import auto_validation

    from torchgeo_cstf.datasets import CrossModalPairs
    from torchgeo_cstf.inference import methods

    original = auto_validation.score
    seen: list[tuple[int, int]] = []

    def scored(method: Any, samples: list[Any]) -> dict[str, Any]:
        # what the row's matching sees: turns, and how many swapped steps
        swapped = sum(step.swapped for step in methods.SEARCHES)
        seen.append((methods.FALLBACK_TURNS, swapped))
        return original(method, samples)

    monkeypatch.setattr(auto_validation, 'score', scored)
    data = CrossModalPairs(length=2, size=128, rotation=(-5.0, 5.0))
    samples = [data[0], data[1]]
    turns, searches = methods.FALLBACK_TURNS, methods.SEARCHES
    swapped = sum(step.swapped for step in searches)
    assert turns > 0 and swapped > 0
    figures = [
        auto_validation.run_row('dense', t, s, samples)
        for t, s in ((False, False), (True, True))
    ]
    assert seen == [(0, 0), (turns, swapped)]  # the older rows, then as shipped
    # restored after every row
    assert (turns, searches) == (methods.FALLBACK_TURNS, methods.SEARCHES)
    assert all(f['pairs'] == 2 and 0 <= f['success'] <= 1 for f in figures)
