from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_rows_switch_the_fixed_turns_and_restore_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / 'benchmarks'))
    import auto_validation

    from torchgeo_cstf.datasets import CrossModalPairs
    from torchgeo_cstf.inference import methods

    original = auto_validation.score
    seen: list[int] = []

    def scored(method: Any, samples: list[Any]) -> dict[str, Any]:
        seen.append(methods.FALLBACK_TURNS)  # what the row's matching sees
        return original(method, samples)

    monkeypatch.setattr(auto_validation, 'score', scored)
    data = CrossModalPairs(length=2, size=128, rotation=(-5.0, 5.0))
    samples = [data[0], data[1]]
    shipped = methods.FALLBACK_TURNS
    figures = [
        auto_validation.run_row('dense', None, t, samples) for t in (False, True)
    ]
    assert seen == [0, shipped]  # the older rows without the turns, as shipped with
    assert shipped == methods.FALLBACK_TURNS  # restored after every row
    assert all(f['pairs'] == 2 and 0 <= f['success'] <= 1 for f in figures)
