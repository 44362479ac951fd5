"""`python3 main.py bench [--quick]`: every figure of the pipeline, each next to a ceiling measured in the
same run on the same box, into bench-results/<time>-<mode>/ (results.json, summary.md, PNG plots).

Steps: `up` cold and warm with the time to the first row; the producer against raw librdkafka; the
Cassandra write ceiling through cassandra-driver; the sustained rate (a search); per-event latency at
fixed rates and under the `bursty` load profile; the job against a plain Python consumer (the peer) on the
same backlog; peak memory of every service throughout. Before the sustained search and each latency run,
Cassandra finishes the compactions earlier steps left (bounded; the wait is recorded).

No step writes to the user's topics or tables: start-up is timed in a scratch state folder, and every later
step works in the bench's own topics and keyspace with its own run of the job (bench/namespace.py). It
stops local mode, and leaves it running with the job but without the generator.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from bench import (
    cassandra_ceiling,
    connector_ceiling,
    e2e_bench,
    peer_bench,
    producer_bench,
    report,
    startup,
    sustained,
)
from bench.cpu import CpuUsage
from bench.machine import machine_info
from bench.memory import PeakMemory
from bench.namespace import BenchNamespace
from bench.quiesce import wait_for_compactions
from config.settings import PROJECT_ROOT, Settings, load_settings
from kafka.load_profiles import BurstyPacer
from local.platform import Platform

RESULTS_DIR = PROJECT_ROOT / "bench-results"
FIXED_RATES = (500, 1000, 2000, 5000)  # 1000: the p99 target's rate


@dataclass(frozen=True)
class Profile:
    name: str
    producer_events: int
    ceiling_grid: tuple[tuple[int, int], ...]  # (processes, requests in flight)
    ceiling_rows_per_process: int
    connector_rows: int
    connector_runs: int  # the best run counts: a fresh JVM keeps compiling through the first
    sustained_start_rate: float
    sustained_trials: int
    sustained_duration_s: float
    latency_duration_s: float
    latency_wait_s: float
    warmup_s: float  # a load at WARMUP_RATE after start-up, so a cold JIT does not weigh on the first figures
    bursty_duration_s: float  # the bursty profile bursts for the first 5 s of each minute
    peer_events: int
    peer_grid: tuple[tuple[int, int], ...]  # (peer processes, requests in flight)


QUICK = Profile("quick", 50_000, ((1, 512),), 8_000, 10_000, 1, 500, 2, 12, 2, 120, 0, 10, 20_000, ((1, 256),))
FULL = Profile(
    "full", 200_000, ((1, 64), (1, 256), (1, 1024), (2, 256)), 30_000, 60_000, 2, 2000, 4, 60, 40, 300, 45,
    125, 300_000, ((1, 1024), (2, 256), (2, 1024)),
)  # fmt: skip
BURSTY_RATE = 1000  # the rate between bursts; bursts are ten times it
WARMUP_RATE = 1000
SETTLE_TIMEOUT_S = 180
QUIESCE_TIMEOUT_S = 90


def chosen_settings(settings: Settings) -> dict:
    """The knobs the numbers depend on (see docs/performance.md for why each is set so)."""
    return {
        "topic_partitions": settings.topic_partitions,
        "spark_trigger_interval": settings.spark_trigger_interval,
        "spark_max_offsets_per_trigger": settings.spark_max_offsets_per_trigger,
        "cassandra_output_concurrent_writes": settings.cassandra_output_concurrent_writes,
        "cassandra_output_batch_size_rows": settings.cassandra_output_batch_size_rows,
        "spark_worker_cores": settings.spark_worker_cores,
        "spark_job_cores_max": settings.spark_job_cores_max,
        "spark_driver_memory": settings.spark_driver_memory,
        "spark_executor_memory": settings.spark_executor_memory,
        "kafka_heap": settings.kafka_heap,
        "cassandra_heap": settings.cassandra_heap,
        "registry_heap": settings.registry_heap,
        "producer_linger_ms": settings.producer_linger_ms,
        "producer_compression": settings.producer_compression,
    }


def _step(number: int, total: int, what: str) -> float:
    print(f"[{number}/{total}] {what} ...", flush=True)
    return time.monotonic()


def _done(results: dict, step: str, started: float) -> None:
    seconds = round(time.monotonic() - started, 1)
    results.setdefault("step_seconds", {})[step] = seconds
    print(f"      ({seconds:.0f} s)", flush=True)


class BenchError(RuntimeError):
    pass


def settle(settings: Settings, warmup_s: float) -> None:
    """Let the job drain what it was given, warm it with a short load (a fresh job's JVMs are still
    compiling: its first batches are several times slower), and drain again."""
    if sustained.drain(settings, SETTLE_TIMEOUT_S) is None:
        raise BenchError(f"the streaming job did not catch up within {SETTLE_TIMEOUT_S} s of start-up")
    if warmup_s:
        sustained.trial(settings, WARMUP_RATE, warmup_s, seed=999)
        # The warm-up's tail, left to drain during the next step, halved the producer's figures (2026-12-04).
        if sustained.drain(settings, SETTLE_TIMEOUT_S) is None:
            raise BenchError(f"the streaming job did not drain its warm-up within {SETTLE_TIMEOUT_S} s")


def run(profile: Profile) -> tuple[dict, Path]:
    began = time.monotonic()
    settings = load_settings()
    platform = Platform.load()
    results: dict = {
        "mode": profile.name,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "settings": chosen_settings(settings),
    }
    m = results["machine"]
    print(f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, Python {m['python']}")
    steps = 8

    t = _step(1, steps, "cold and warm `up` in a scratch state folder (stops local mode first), time to the first row")
    startup._main_py(["down"], startup.base_env(), 300)
    results["startup"] = startup.cold_and_warm_up(settings)
    _done(results, "cold_and_warm_up", t)

    t = _step(2, steps, "local mode `up` without the generator; the bench's own topics, keyspace and job")
    startup._main_py(["up", "--no-producer"], startup.base_env(), startup.UP_TIMEOUT_S)
    namespace = BenchNamespace(platform)
    with PeakMemory(platform) as memory, namespace as settings:
        settle(settings, profile.warmup_s)
        _done(results, "namespace", t)

        t = _step(3, steps, f"producer vs raw librdkafka, {profile.producer_events:,} events")
        quiet_s = results.setdefault("compactions_waited_s", {})
        quiet_s["producer"] = wait_for_compactions(settings, QUIESCE_TIMEOUT_S)
        with CpuUsage(platform) as cpu:
            results["producer"] = producer_bench.run(settings, events=profile.producer_events)
        results["producer"]["cpu"] = cpu.result
        print(producer_bench.format_results(results["producer"]))
        _done(results, "producer", t)

        t = _step(4, steps, "Cassandra write ceiling: cassandra-driver, then the job's connector alone")
        results["cassandra_ceiling"] = cassandra_ceiling.search(
            settings, list(profile.ceiling_grid), profile.ceiling_rows_per_process
        )
        print(cassandra_ceiling.format_results(results["cassandra_ceiling"]))
        results["connector_ceiling"] = connector_ceiling.measure(
            settings, profile.connector_rows, profile.connector_runs
        )
        print(connector_ceiling.format_results(results["connector_ceiling"]))
        _done(results, "cassandra_ceiling", t)

        trials, seconds = profile.sustained_trials, profile.sustained_duration_s
        t = _step(5, steps, f"sustained rate: {trials} trials of {seconds:.0f} s")
        quiet_s["sustained"] = wait_for_compactions(settings, QUIESCE_TIMEOUT_S)
        results["sustained"] = sustained.search(
            settings, profile.sustained_start_rate, profile.sustained_trials, profile.sustained_duration_s
        )
        _done(results, "sustained", t)

        sustained_rate = results["sustained"]["events_per_s"] or FIXED_RATES[0]
        rates = sorted({*FIXED_RATES, sustained_rate})
        t = _step(6, steps, f"latency at {', '.join(f'{r:,.0f}' for r in rates)} events/s")
        results["latency"] = []
        for rate in rates:
            quiet_s[f"latency_{rate:.0f}"] = wait_for_compactions(settings, QUIESCE_TIMEOUT_S)
            with CpuUsage(platform) as cpu:  # what the box did meanwhile: the reason next to a missed p99
                measured = e2e_bench.measure(
                    settings,
                    rate=rate,
                    duration_s=profile.latency_duration_s,
                    count=None,
                    wait_s=profile.latency_wait_s,
                )
            measured["cpu"] = cpu.result
            measured["sustained_rate"] = rate == sustained_rate
            results["latency"].append(measured)
            print(f"  {rate:>8,.0f}/s: {e2e_bench.format_results(measured)}", flush=True)
        _done(results, "latency", t)

        t = _step(7, steps, f"latency under the bursty profile: {BURSTY_RATE:,}/s, 10x for 5 s a minute")
        quiet_s["latency_bursty"] = wait_for_compactions(settings, QUIESCE_TIMEOUT_S)
        results["latency_bursty"] = e2e_bench.measure(
            settings,
            rate=BURSTY_RATE,
            duration_s=profile.bursty_duration_s,
            count=None,
            wait_s=profile.latency_wait_s,
            pacer=BurstyPacer(BURSTY_RATE),
        )
        print(f"  bursty: {e2e_bench.format_results(results['latency_bursty'])}", flush=True)
        _done(results, "latency_bursty", t)

        t = _step(8, steps, f"the job against a plain Python consumer, {profile.peer_events:,} events each")
        quiet_s["peer"] = wait_for_compactions(settings, QUIESCE_TIMEOUT_S)
        results["peer"] = peer_bench.run(namespace, list(profile.peer_grid), profile.peer_events)
        print(peer_bench.format_results(results["peer"]), flush=True)
        _done(results, "peer", t)
    results["memory"] = memory.results()
    results["ratios"] = report.ratios(results)
    results["targets"] = report.targets(results)
    results["duration_s"] = round(time.monotonic() - began, 1)
    folder = RESULTS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{profile.name}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2, default=str))
    report.write(results, folder)
    return results, folder
