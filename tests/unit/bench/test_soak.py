"""The soak's verdicts: a series is flat when its fitted change over the run is small against its mean."""

from __future__ import annotations

from bench import soak
from bench.soak import slope, steady_growth, trend


def test_a_fitted_line_through_a_ramp_has_its_slope() -> None:
    assert slope([10, 12, 14, 16]) == 2.0 and slope([5, 5]) == 0.0


def test_noise_around_a_level_is_flat_and_a_leak_is_not() -> None:
    assert trend([3000, 3040, 2990, 3020, 3010, 2995], tolerance=0.10)["flat"]
    leak = trend([3000 + 40 * m for m in range(30)], tolerance=0.10)  # +1,160 MB over a 3,580 MB mean
    assert not leak["flat"] and leak["relative"] > 0.3


def test_a_near_zero_series_is_judged_against_its_floor() -> None:
    assert trend([0, 40, 0, 120, 0, 60], tolerance=0.25, floor=1000)["flat"]


def test_disk_that_grows_steadily_is_fine_and_a_runaway_is_not() -> None:
    assert steady_growth([100 + 5 * m for m in range(10)])["flat"]
    assert not steady_growth([100, 101, 102, 103, 150, 250, 400, 600])["flat"]
    # The 2026-12-03 soak's disk: 70.7 MB a minute in the first half, 41.5 in the second (growth slowing).
    assert steady_growth([0, 70, 141, 212, 283, 324, 366, 407, 449])["flat"]


def test_the_soak_waits_for_a_backlog_to_drain_before_its_first_minute(monkeypatch) -> None:
    lags = iter([(50_000, {}), (9_000, {}), (1_500, {})])
    monkeypatch.setattr(soak, "total_lag", lambda _settings: next(lags))
    monkeypatch.setattr(soak.time, "sleep", lambda _s: None)
    said: list[str] = []
    assert soak.wait_for_catch_up(None, rate=1000, say=said.append) == 1_500
    assert len(said) == 2 and "lag 50000" in said[0]


def test_a_job_that_never_catches_up_ends_the_soak_with_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(soak, "total_lag", lambda _settings: None)
    monkeypatch.setattr(soak.time, "sleep", lambda _s: None)
    try:
        soak.wait_for_catch_up(None, rate=1000, timeout_s=0, say=lambda _m: None)
    except TimeoutError as exc:
        assert "did not catch up" in str(exc) and "main.py status" in str(exc)
    else:
        raise AssertionError("no TimeoutError")
