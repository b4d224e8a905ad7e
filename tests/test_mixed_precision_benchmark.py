from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_both_precisions_time_the_same_training_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / 'benchmarks'))
    import mixed_precision

    small = {
        'detector': lambda: mixed_precision.detector_step((128, 160), batch=2),
        'matcher': lambda: mixed_precision.matcher_step(128, batch=2),
    }
    monkeypatch.setattr(mixed_precision, 'MODELS', small)
    for name in small:
        figures = mixed_precision.measure(name, steps=3, rounds=1)
        seconds = figures['seconds_per_step']
        assert set(seconds) == {'float32', 'bf16-mixed'}
        assert min(seconds.values()) > 0
        assert figures['steps_timed'] == 2  # the first step of a round left out
        # each precision starts from the same weights: the first losses agree
        first = figures['first_loss']
        assert first['bf16-mixed'] == pytest.approx(first['float32'], rel=0.03)
