"""`python3 main.py bench soak --minutes M`: a steady load for M minutes, watched for slow drifts.

Each minute produces fresh events for ~55 s at the given rate (by default half the sustained rate the
suite measured here) and waits for them to land, so the minute's p99 latency comes from its own rows
(WRITETIME minus the Kafka timestamp). Meanwhile every 5 s: the RSS of every service (process trees) and the
job's total lag; at each minute's end, Cassandra's data on disk. The report fits a least-squares line to
each series and calls it flat when the fitted change over the whole run stays within a tolerance of its
mean (RSS 10 %, p99 and lag 25 %, noisier); disk grows with the data by design (rows live 30 days), so
for disk it checks that the growth per minute does not speed up instead. Results go to
bench-results/<time>-soak/ (results.json, summary.md, soak.png).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from bench import e2e_bench
from bench.memory import MB, service_rss
from config.settings import PROJECT_ROOT, Settings
from local.pipeline_status import total_lag
from local.platform import Platform
from local.topology import topology

SAMPLE_EVERY_S = 5.0
PRODUCE_S_PER_MINUTE = 55.0
TOLERANCE = {"rss": 0.10, "p99": 0.25, "lag": 0.25}


def slope(values: list[float]) -> float:
    """Least-squares slope per step; 0 with fewer than three values."""
    n = len(values)
    if n < 3:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    spread = sum((x - mean_x) ** 2 for x in range(n))
    return sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values)) / spread


def trend(values: list[float], tolerance: float, floor: float = 0.0) -> dict:
    """The fitted change over the run against the mean (or `floor`, for series that sit near zero)."""
    fitted_change = slope(values) * (len(values) - 1)
    scale = max(sum(values) / len(values) if values else 0.0, floor)
    relative = fitted_change / scale if scale else 0.0
    return {
        "slope_per_minute": round(slope(values), 2),
        "change_over_run": round(fitted_change, 1),
        "relative": round(relative, 3),
        "flat": abs(relative) <= tolerance,
    }


def steady_growth(values: list[float]) -> dict:
    """Disk: growth per minute in the second half against the first. Growth that slows (compaction, the
    commit log reaching its cap) is fine; growth that speeds up by more than half is not."""
    steps = [b - a for a, b in zip(values, values[1:], strict=False)]
    half = len(steps) // 2
    first = sum(steps[:half]) / half if half else 0.0
    second = sum(steps[half:]) / (len(steps) - half) if len(steps) > half else 0.0
    steady = second <= 1.5 * max(first, 1.0)
    return {"mb_per_minute_first_half": round(first, 1), "mb_per_minute_second_half": round(second, 1), "flat": steady}


def disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / MB


class Sampler:
    """RSS per service and the job's lag every few seconds, kept per minute."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            try:
                rss = service_rss(self.platform)
            except OSError:
                continue
            lag = total_lag(self.platform.settings)
            self.samples.append({"t": time.time(), "rss": rss, "lag": None if lag is None else lag[0]})

    def take(self) -> list[dict]:
        taken, self.samples = self.samples, []
        return taken

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def minute_row(minute: int, measured: dict, samples: list[dict], disk: float) -> dict:
    services = sorted({name for s in samples for name in s["rss"]})
    lags = [s["lag"] for s in samples if s["lag"] is not None]
    return {
        "minute": minute,
        "events": measured["events"],
        "complete": measured["complete"],
        "p99_ms": measured["latency_ms"]["p99"],
        "p50_ms": measured["latency_ms"]["p50"],
        "lag_max": max(lags, default=0),
        "rss_mb_total": round(max((sum(s["rss"].values()) for s in samples), default=0) / MB),
        "rss_mb": {n: round(max(s["rss"].get(n, 0) for s in samples) / MB) for n in services},
        "cassandra_disk_mb": round(disk, 1),
    }


def wait_for_catch_up(settings: Settings, rate: float, timeout_s: float = 600, say=print) -> int:
    """Wait until the job's lag is below 2 s of input, so that a backlog left from before (the job just
    started, an earlier run) does not show up as the first minute's latency and tilt every fitted line."""
    deadline = time.monotonic() + timeout_s
    while True:
        lag = total_lag(settings)
        if lag is not None and lag[0] <= rate * 2:
            return lag[0]
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the job did not catch up within {timeout_s:.0f} s (lag {lag[0] if lag else 'unknown'}); "
                "see `python3 main.py status` and `python3 main.py logs stream`"
            )
        say(f"waiting for the job to catch up before the soak starts: lag {lag[0] if lag else 'unknown'}")
        time.sleep(15)


def run(settings: Settings, minutes: int, rate: float, say=print) -> dict:
    platform = Platform.load()
    wait_for_catch_up(settings, rate, say=say)
    rows = []
    with Sampler(platform) as sampler:
        for minute in range(1, minutes + 1):
            measured = e2e_bench.measure(settings, rate=rate, duration_s=PRODUCE_S_PER_MINUTE, count=None, wait_s=120)
            disk = sum(disk_mb(platform.paths.data / node.name) for node in topology(settings).cassandra)
            row = minute_row(minute, measured, sampler.take(), disk)
            rows.append(row)
            say(
                f"minute {minute:>3}/{minutes}: p99 {row['p99_ms']:>6,} ms  lag max {row['lag_max']:>7,}  "
                f"RSS {row['rss_mb_total']:>6,} MB  Cassandra disk {row['cassandra_disk_mb']:>8,.1f} MB"
                f"{'' if row['complete'] else '  NOT ALL LANDED'}"
            )
    services = sorted({n for r in rows for n in r["rss_mb"]})
    verdicts = {
        "rss_total": trend([r["rss_mb_total"] for r in rows], TOLERANCE["rss"]),
        **{f"rss_{n}": trend([r["rss_mb"].get(n, 0) for r in rows], TOLERANCE["rss"]) for n in services},
        "p99": trend([r["p99_ms"] for r in rows], TOLERANCE["p99"]),
        # Lag near zero is noise: judge its change against at least 2 s of input.
        "lag": trend([r["lag_max"] for r in rows], TOLERANCE["lag"], floor=rate * 2),
        "cassandra_disk": steady_growth([r["cassandra_disk_mb"] for r in rows]),
    }
    return {
        "rate": rate,
        "minutes": minutes,
        "every_event_landed": all(r["complete"] for r in rows),
        "minutes_detail": rows,
        "trends": verdicts,
        "flat": all(v["flat"] for v in verdicts.values()),
    }


def summary_markdown(results: dict) -> str:
    lines = [
        f"# Soak: {results['minutes']} minutes at {results['rate']:,.0f} events/s",
        "",
        f"Every event landed: {'yes' if results['every_event_landed'] else 'NO'}. "
        f"All series flat: {'yes' if results['flat'] else 'NO'}.",
        "",
        "| series | slope / minute | fitted change over the run | relative | flat |",
        "|---|---|---|---|---|",
    ]
    for name, t in results["trends"].items():
        if name == "cassandra_disk":
            lines.append(
                f"| Cassandra disk (MB) | {t['mb_per_minute_first_half']} first half, "
                f"{t['mb_per_minute_second_half']} second half | - | - | {'steady' if t['flat'] else 'NO'} |"
            )
        else:
            lines.append(
                f"| {name} | {t['slope_per_minute']} | {t['change_over_run']} | {t['relative']:+.1%} | "
                f"{'yes' if t['flat'] else 'NO'} |"
            )
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    from bench.report import plt

    rows = results["minutes_detail"]
    minutes = [r["minute"] for r in rows]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    series = [
        ("RSS, whole stack (MB)", [r["rss_mb_total"] for r in rows]),
        ("p99 latency (ms)", [r["p99_ms"] for r in rows]),
        ("lag, max in the minute (events)", [r["lag_max"] for r in rows]),
        ("Cassandra data on disk (MB)", [r["cassandra_disk_mb"] for r in rows]),
    ]
    for ax, (title, values) in zip(axes.flat, series, strict=True):
        ax.plot(minutes, values, marker=".")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("minute")
    fig.suptitle(f"soak: {results['minutes']} min at {results['rate']:,.0f} events/s")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict, root: Path = PROJECT_ROOT / "bench-results") -> Path:
    folder = root / f"{time.strftime('%Y%m%d-%H%M%S')}-soak"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2))
    (folder / "summary.md").write_text(summary_markdown(results))
    plot(results, folder / "soak.png")
    return folder
