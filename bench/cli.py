"""`python3 main.py bench [--quick]` runs the whole suite (bench/suite.py); `bench producer|latency|drain|sustained`
runs one measurement against an already running local mode (single-node or cluster), with where the CPU
went and the peak memory. Results go to bench-results/ (git-ignored). Steps that need the streaming job
run it in the bench's own topics and keyspace (bench/namespace.py): the user's data is never touched."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench import (
    alerts_bench,
    dashboard_overhead,
    e2e_bench,
    nulls,
    peer_bench,
    producer_bench,
    startup,
    suite,
    sustained,
)
from bench.cpu import CpuUsage, format_cpu
from bench.machine import machine_info
from bench.memory import PeakMemory
from bench.namespace import BenchNamespace, NamespaceError
from config.settings import PROJECT_ROOT, Settings, load_settings
from kafka.load_profiles import BurstyPacer
from local.platform import Platform

RESULTS_DIR = suite.RESULTS_DIR
SUSTAINED_TRIALS = 4  # a search of `bench sustained`: double or halve, then bisect
WARMUP_S = 30.0
PEER_GRID = list(suite.FULL.peer_grid)


def save(name: str, results: dict) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


def run_suite(quick: bool) -> int:
    profile = suite.QUICK if quick else suite.FULL
    try:
        _, folder = suite.run(profile)
    except (startup.StartupError, suite.BenchError, NamespaceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print()
    print((folder / "summary.md").read_text())
    print(f"results: {folder.relative_to(PROJECT_ROOT)}/ (results.json, summary.md, latency.png, throughput.png)")
    return 0


def run_security(rate: float, duration_s: float, events: int) -> int:
    from bench import security_cost

    try:
        results = security_cost.run(rate, duration_s, events)
    except (security_cost.SecurityBenchError, NamespaceError, suite.BenchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(security_cost.format_results(results))
    path = save("security", {"machine": machine_info(), **results})
    print(f"results: {path.relative_to(PROJECT_ROOT)}")
    return 0


def run_bench(what: str, events: int, rate: float, duration_s: float, quick: bool = False) -> int:
    if what == "all":
        return run_suite(quick)
    if what == "security":
        return run_security(rate, duration_s, events)
    settings = load_settings()
    machine = machine_info()
    cpus, model, memory_gb = machine["cpus"], machine["cpu_model"], machine["memory_gb"]
    mode = "cluster" if settings.cluster else "single-node"
    print(f"machine: {cpus} CPUs ({model}), {memory_gb} GB, Python {machine['python']}; local mode: {mode}")
    platform = Platform.load()
    if what in ("producer", "nulls"):  # their own topics or keyspace, no job
        results, summary, cpu, peak = _measured(platform, settings, what, events, rate, duration_s)
    else:
        try:
            namespace = BenchNamespace(platform)
            with namespace as bench_settings:
                print(f"the bench's own job runs; warming it for {WARMUP_S:.0f} s ...", flush=True)
                suite.settle(bench_settings, WARMUP_S)
                results, summary, cpu, peak = _measured(
                    platform, bench_settings, what, events, rate, duration_s, namespace
                )
        except (NamespaceError, suite.BenchError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(summary)
    print(format_cpu(cpu))
    print(f"peak RSS of the whole stack: {peak['peak_rss_mb_total']:,} MB")
    path = save(f"{what}-{mode}", {"machine": machine, "mode": mode, **results, "cpu": cpu, "memory": peak})
    print(f"results: {path.relative_to(PROJECT_ROOT)}")
    return 0


def _measured(
    platform: Platform,
    settings: Settings,
    what: str,
    events: int,
    rate: float,
    duration_s: float,
    namespace: BenchNamespace | None = None,
):
    """(results, summary, CPU use, peak memory) of one measurement."""
    with CpuUsage(platform) as cpu, PeakMemory(platform) as memory:
        if what == "producer":
            results = producer_bench.run(settings, events=events)
            summary = producer_bench.format_results(results)
        elif what == "sustained":
            results = sustained.search(settings, start_rate=rate, trials=SUSTAINED_TRIALS, duration_s=duration_s)
            summary = f"sustained rate: {results['events_per_s']:,.0f} events/s"
        elif what == "nulls":
            results = nulls.run(settings, events=events)
            summary = nulls.format_results(results)
        elif what == "latency":
            results = e2e_bench.measure(settings, rate=rate, duration_s=duration_s, count=None)
            summary = e2e_bench.format_results(results)
        elif what == "bursty":
            pacer = BurstyPacer(rate)
            results = e2e_bench.measure(settings, rate=rate, duration_s=duration_s, count=None, pacer=pacer)
            summary = f"bursty ({rate:,.0f}/s, 10x for 5 s a minute): " + e2e_bench.format_results(results)
        elif what == "peer":
            results = peer_bench.run(namespace, PEER_GRID, events)
            summary = peer_bench.format_results(results)
        elif what == "alerts":
            results = alerts_bench.run(namespace, events)
            summary = alerts_bench.format_results(results)
        elif what == "dashboard":
            results = dashboard_overhead.run(platform, settings, events)
            summary = dashboard_overhead.format_results(results)
        else:
            results = e2e_bench.measure(settings, rate=0, duration_s=None, count=events)
            summary = e2e_bench.format_results(results)
    return results, summary, cpu.result, memory.results()


def run_soak(minutes: int, rate: float | None) -> int:
    from bench import soak
    from bench.measured import default_rate

    if rate is None:
        rate, why = default_rate()
        print(f"rate {rate:,.0f} events/s: {why}")
    try:
        with BenchNamespace(Platform.load()) as bench_settings:
            results = soak.run(bench_settings, minutes, rate)
    except (TimeoutError, NamespaceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    folder = soak.write({"machine": machine_info(), **results})
    print()
    print((folder / "summary.md").read_text())
    print(f"results: {folder.relative_to(PROJECT_ROOT)}/ (results.json, summary.md, soak.png)")
    return 0 if results["every_event_landed"] else 1
