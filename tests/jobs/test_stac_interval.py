"""The STAC watcher's datetime filter: RFC 3339 bounds compared as instants."""

import datetime as dt

import pytest

from torchgeo_cstf.errors import InputError
from torchgeo_cstf.jobs.stac_watch import parse_interval

UTC = dt.UTC


def test_dates_stand_for_their_whole_period() -> None:
    start, end = parse_interval('2024-01-01/2024-12-31')
    assert start == dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert end == dt.datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_interval('2024-02') == (
        dt.datetime(2024, 2, 1, tzinfo=UTC),
        dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    )
    assert parse_interval('2023')[1] == dt.datetime(
        2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC
    )


def test_open_bounds_and_offsets() -> None:
    assert parse_interval('2024-05-01T00:00:00Z/..') == (
        dt.datetime(2024, 5, 1, tzinfo=UTC),
        None,
    )
    assert parse_interval('../2024-05-01T12:00:00Z')[0] is None
    start, _ = parse_interval('2024-05-01T02:00:00+02:00/..')
    # an offset is an instant: midnight UTC, whatever the text says
    assert start == dt.datetime(2024, 5, 1, tzinfo=UTC)
    moment = dt.datetime(2024, 5, 1, 1, tzinfo=UTC)
    assert start is not None and moment > start  # a string comparison said no


@pytest.mark.parametrize(
    ('text', 'problem'),
    [
        ('yesterday', 'is not a date'),
        ('2024-13-01/..', 'is not a date'),
        ('2024-05-02/2024-05-01', 'ends before it starts'),
    ],
)
def test_a_bad_window_is_named(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_interval(text)
