"""The dashboard's history: a bounded window and rates between samples."""

from __future__ import annotations

import datetime as dt

from dashboard.history import History, Point
from dashboard.sources import _percentile, recent_hours, sample_span


def _point(at: float, end: int | None, processed: int | None = None) -> Point:
    return Point(at=at, end_offset={"t": end}, processed_offset={"t": processed})


def test_rates_come_from_offset_deltas_over_elapsed_time() -> None:
    history = History()
    for at, end in ((0, 100), (5, 600), (10, 600)):
        history.add(_point(at, end))
    assert history.rates("end_offset", ["t"]) == {"t": [None, 100.0, 0.0]}
    assert history.latest_rate("end_offset", "t") == 0.0


def test_a_missing_value_or_an_offset_reset_gives_no_rate() -> None:
    history = History()
    for at, end in ((0, 100), (5, None), (10, 500), (15, 20)):
        history.add(_point(at, end))
    assert history.rates("end_offset", ["t"]) == {"t": [None, None, None, None]}


def test_points_older_than_the_window_are_dropped() -> None:
    history = History(window_s=60)
    for at in range(0, 200, 10):
        history.add(_point(at, at))
    assert [p.at for p in history.points][0] == 130
    assert history.series(["t"], [])["t"][-1] == 190


def test_the_sample_span_is_the_last_processed_records_and_the_first_waiting_one() -> None:
    span = sample_span("t", low={0: 0, 1: 50}, end={0: 1000, 1: 55, 2: 0}, done={0: 990, 1: 55})
    assert span.start == {0: 980, 1: 50, 2: 0}
    assert span.end == {0: 991, 1: 55, 2: 0}


def test_recent_hours_cross_midnight() -> None:
    hours = recent_hours(dt.datetime(2026, 12, 4, 1, 30, tzinfo=dt.UTC), hours=3)
    assert hours == [(dt.date(2026, 12, 4), 1), (dt.date(2026, 12, 4), 0), (dt.date(2026, 12, 3), 23)]


def test_percentiles_of_few_samples() -> None:
    assert _percentile([], 0.5) is None
    assert _percentile([2.0], 0.99) == 2.0
    assert _percentile([1.0, 2.0, 3.0], 0.5) == 2.0
