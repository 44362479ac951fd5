"""`python3 main.py bench dashboard`: what the dashboard costs the pipeline.

In the bench's namespace, a dashboard of its own watches the bench's job (the supervised one is paused with
the pipeline), while a poller plays a browser (the page's JSON every refresh) and a Prometheus (`/metrics`
every 15 s). Reported: its CPU and the engines' CPU its sampling causes, as a share of the box (the rate a
CPU-bound box gives up for it), its peak RSS, and backlog drains with it on and off as a cross-check.
Targets (issue 15): under 2 % of the sustained rate, under 150 MB.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time

import psutil
import requests

from bench import e2e_bench
from bench.cpu import service_cpu_seconds
from bench.namespace import job_environment
from config.settings import PROJECT_ROOT, Settings
from local.platform import Platform

SCRAPE_EVERY_S = 15.0
READY_TIMEOUT_S = 90
COST_TARGET = 0.02
IDLE_WINDOW_S = 45
RSS_TARGET_MB = 150


class Dashboard:
    """`main.py dashboard` for the bench's namespace, with its CPU time and peak RSS, and a poller that plays
    a browser and a Prometheus scraping it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.dashboard_url
        self.process: subprocess.Popen | None = None
        self.peak_rss = 0
        self.requests = 0
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def __enter__(self) -> Dashboard:
        # As `up` runs it (local/services.py), in the bench's namespace.
        env = {**os.environ, **job_environment(self.settings), "MALLOC_ARENA_MAX": self.settings.jvm_malloc_arena_max}
        self.process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "main.py"), "dashboard"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the bench's dashboard did not answer at {self.url} within {READY_TIMEOUT_S} s")
            time.sleep(1)
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()
        return self

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/api/snapshot", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def _poll(self) -> None:
        last_scrape = 0.0
        proc = psutil.Process(self.process.pid)
        while not self._stop.wait(self.settings.dashboard_refresh_s):
            requests.get(f"{self.url}/api/snapshot", timeout=10)
            self.requests += 1
            if time.monotonic() - last_scrape >= SCRAPE_EVERY_S:
                requests.get(f"{self.url}/metrics", timeout=10)
                last_scrape = time.monotonic()
                self.requests += 1
            self.peak_rss = max(self.peak_rss, proc.memory_info().rss)

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=30)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _drain(settings: Settings, events: int) -> float:
    results = e2e_bench.measure(settings, rate=0, duration_s=None, count=events)
    assert results["complete"], "not every event landed"
    return results["end_to_end_events_per_s"]


def _engines_cpu(platform: Platform, seconds: float) -> float:
    """CPU seconds per second of every local-mode service (the bench's own process left out) over a window."""
    before, started = service_cpu_seconds(platform), time.monotonic()
    time.sleep(seconds)
    after, wall = service_cpu_seconds(platform), time.monotonic() - started
    used = sum(max(after[n] - before.get(n, 0.0), 0.0) for n in after if n != "bench (producer)")
    return used / wall


def run(platform: Platform, settings: Settings, events: int) -> dict:
    """The dashboard's cost, measured two ways.

    CPU (the verdict): its own CPU while the job drains backlogs, plus what its sampling makes the engines
    spend (their CPU with the dashboard on against off, in alternating windows with the job idle). On a box
    that is CPU-bound at the sustained rate, that share of the box is the share of the rate it can take.
    Drains (a cross-check): backlogs drained on, off, off, on after a discarded warm-up drain. Identical
    drains here differ by up to 20 %, so four of them cannot resolve 2 %; they are reported with their spread.
    """
    windows: dict[str, list[float]] = {"on": [], "off": []}
    for state in ("off", "on", "off", "on"):
        if state == "off":
            windows["off"].append(_engines_cpu(platform, IDLE_WINDOW_S))
        else:
            with Dashboard(settings):
                time.sleep(2 * settings.dashboard_refresh_s)
                windows["on"].append(_engines_cpu(platform, IDLE_WINDOW_S))
    induced = max(statistics.mean(windows["on"]) - statistics.mean(windows["off"]), 0.0)

    on, off, cpu_seconds, wall_s, peak_rss, served = [], [], 0.0, 0.0, 0, 0
    _drain(settings, events)
    for state in ("on", "off", "off", "on"):
        if state == "off":
            off.append(_drain(settings, events))
        else:
            with Dashboard(settings) as dashboard:
                time.sleep(2 * settings.dashboard_refresh_s)  # its history and connections warm
                cpu_before, started = dashboard.cpu_seconds(), time.monotonic()
                on.append(_drain(settings, events))
                cpu_seconds += dashboard.cpu_seconds() - cpu_before
                wall_s += time.monotonic() - started
                peak_rss, served = max(peak_rss, dashboard.peak_rss), served + dashboard.requests
        print(f"  drain, dashboard {state}: {(on if state == 'on' else off)[-1]:,.0f} events/s", flush=True)
    cores = psutil.cpu_count() or 1
    own = cpu_seconds / wall_s
    share = (own + induced) / cores
    return {
        "events_per_drain": events,
        "drain_on_events_per_s": [round(r) for r in on],
        "drain_off_events_per_s": [round(r) for r in off],
        "drain_ratio_on_off": round(statistics.mean(on) / statistics.mean(off), 3),
        "dashboard_cpu_pct_of_one_core": round(100 * own, 2),
        "engines_cpu_pct_of_one_core_induced": round(100 * induced, 2),
        "engines_idle_cpu_pct": {k: [round(100 * v, 1) for v in vs] for k, vs in windows.items()},
        "share_of_box": round(share, 4),
        "dashboard_peak_rss_mb": round(peak_rss / 2**20),
        "requests_served": served,
        "refresh_s": settings.dashboard_refresh_s,
        "cost_met": share < COST_TARGET,
        "rss_met": peak_rss / 2**20 < RSS_TARGET_MB,
    }


def _rates(rates: list[int]) -> str:
    return ", ".join(f"{r:,}" for r in rates)


def format_results(r: dict) -> str:
    def yes(ok: bool) -> str:
        return "yes" if ok else "no"

    idle = r["engines_idle_cpu_pct"]
    return "\n".join(
        [
            f"dashboard CPU {r['dashboard_cpu_pct_of_one_core']}% of one core, engines' CPU it causes"
            f" {r['engines_cpu_pct_of_one_core_induced']}% (idle windows on {idle['on']}, off {idle['off']}):"
            f" {100 * r['share_of_box']:.2f}% of the box (target < {100 * COST_TARGET:.0f}% of the sustained rate:"
            f" {yes(r['cost_met'])}); sampling every {r['refresh_s']:g} s, {r['requests_served']} requests served",
            f"dashboard peak RSS {r['dashboard_peak_rss_mb']} MB (target < {RSS_TARGET_MB} MB: {yes(r['rss_met'])})",
            f"cross-check, drains of {r['events_per_drain']:,} events: on {_rates(r['drain_on_events_per_s'])},"
            f" off {_rates(r['drain_off_events_per_s'])} (on/off {r['drain_ratio_on_off']:.3f}; identical drains"
            " differ by up to 20 % here)",
        ]
    )
