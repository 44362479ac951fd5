"""`python3 main.py bench security`: what authentication and ACLs cost. The same measurements twice on the same
box, in the bench's own namespace: with local mode secured (as it runs by default), then restarted with
`up --insecure`; local mode is restarted secured at the end, whatever happened.

Per mode: the sustained rate (the search of `bench sustained`), the p99 latency at `rate` events/s (`bench
latency`) and the drain rate of a backlog (`bench drain`). Ratios are insecure / secured: above 1, security
costs that much.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench import e2e_bench, suite, sustained
from bench.namespace import BenchNamespace
from config.security import SECURITY_ENV
from config.settings import PROJECT_ROOT
from local.platform import Platform

RESTART_TIMEOUT_S = 600
WARMUP_S = 30.0
SUSTAINED_TRIALS = 3


class SecurityBenchError(RuntimeError):
    pass


def _main_py(*args: str, insecure: bool) -> None:
    env = {**os.environ, SECURITY_ENV: "off" if insecure else "on"}
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), *args],
        env=env, capture_output=True, text=True, timeout=RESTART_TIMEOUT_S,
    )  # fmt: skip
    if done.returncode != 0:
        raise SecurityBenchError(f"`main.py {' '.join(args)}` failed: {(done.stderr or done.stdout).strip()[-600:]}")


def restart(insecure: bool) -> None:
    """Local mode down, then up again secured or not (the job, no generator: the bench brings its own load)."""
    _main_py("down", insecure=insecure)
    _main_py("up", "--no-producer", *(["--insecure"] if insecure else []), insecure=insecure)


def measure_mode(insecure: bool, rate: float, duration_s: float, events: int) -> dict:
    os.environ[SECURITY_ENV] = "off" if insecure else "on"  # what load_settings (and so the namespace) reads
    with BenchNamespace(Platform.load()) as settings:
        assert settings.security.enabled is not insecure
        suite.settle(settings, WARMUP_S)
        found = sustained.search(settings, start_rate=rate * 4, trials=SUSTAINED_TRIALS, duration_s=duration_s)
        latency = e2e_bench.measure(settings, rate=rate, duration_s=duration_s, count=None)
        drain = e2e_bench.measure(settings, rate=0, duration_s=None, count=events)
    return {
        "sustained_events_per_s": found["events_per_s"],
        "sustained": found,
        "latency_p50_ms": latency["latency_ms"]["p50"],
        "latency_p99_ms": latency["latency_ms"]["p99"],
        "latency": latency,
        "drain_events_per_s": drain["end_to_end_events_per_s"],
        "all_landed": latency["complete"] and drain["complete"],
        "drain": drain,
    }


def run(rate: float, duration_s: float, events: int) -> dict:
    if not Platform.load().settings.security.enabled:
        raise SecurityBenchError("local mode runs --insecure: `down`, then `up` secured, then run this again")
    started = time.monotonic()
    results: dict = {"rate": rate, "duration_s": duration_s, "events": events}
    try:
        print("secured (as local mode runs):", flush=True)
        results["secured"] = measure_mode(False, rate, duration_s, events)
        print("restarting local mode with --insecure ...", flush=True)
        restart(insecure=True)
        print("insecure:", flush=True)
        results["insecure"] = measure_mode(True, rate, duration_s, events)
    finally:
        print("restarting local mode secured ...", flush=True)
        os.environ[SECURITY_ENV] = "on"
        restart(insecure=False)
    secured, insecure = results["secured"], results["insecure"]
    results["ratios"] = {
        "sustained_insecure_over_secured": _ratio(
            insecure["sustained_events_per_s"], secured["sustained_events_per_s"]
        ),
        "p99_secured_over_insecure": _ratio(secured["latency_p99_ms"], insecure["latency_p99_ms"]),
        "drain_insecure_over_secured": _ratio(insecure["drain_events_per_s"], secured["drain_events_per_s"]),
    }
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    return results


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def format_results(results: dict) -> str:
    rows = [
        ("sustained rate (events/s)", "sustained_events_per_s", "{:,.0f}"),
        (f"p50 latency at {results['rate']:,.0f}/s (ms)", "latency_p50_ms", "{:,.0f}"),
        (f"p99 latency at {results['rate']:,.0f}/s (ms)", "latency_p99_ms", "{:,.0f}"),
        (f"drain of {results['events']:,} events (events/s)", "drain_events_per_s", "{:,.0f}"),
    ]
    lines = ["| measure | secured | --insecure |", "|---|---|---|"]
    for label, key, spec in rows:
        cells = [results[m][key] for m in ("secured", "insecure")]
        lines.append(f"| {label} | " + " | ".join(spec.format(c) if c is not None else "-" for c in cells) + " |")
    ratios = results["ratios"]
    lines.append(
        f"\nsustained insecure/secured {ratios['sustained_insecure_over_secured']}, p99 secured/insecure "
        f"{ratios['p99_secured_over_insecure']}, drain insecure/secured {ratios['drain_insecure_over_secured']}"
    )
    return "\n".join(lines)
