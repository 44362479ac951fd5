"""`python3 main.py bench alerts`: what the failed-login query (spark/auth_alerts.py) delivers and costs.

In the bench's namespace (its own topics, keyspace and job; bench/namespace.py):
- latency: brute-force attacks of exactly the user threshold of failed logins, one every few seconds, under
  steady background traffic; for each, the Cassandra write time (WRITETIME) of its first alert row against
  the event time of its last failed login (stamped with the wall clock as it is sent);
- cost: backlogs drained by the job with the alerts query on and off (on, off, off, on; the job restarted in
  between, the alerts query from the topic's end), the main queries' end-to-end events/s;
- state: an hour of default-rate traffic in event time, produced at ten times real time so that each batch
  covers seconds of event time as in real time, then the query's state (rows, bytes in memory, bytes of its
  checkpoint's state folder on disk).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Iterator

from bench import e2e_bench
from bench.namespace import BenchNamespace
from config.settings import Settings
from database.cassandra_connection import CassandraConnection
from kafka.contract import AUTH, streams
from kafka.kafka_producer import LogProducer
from kafka.logs_generators import Event, LogGenerator
from local.pipeline_status import read_job_report

ATTACKS = 20
ATTACK_GAP_S = 3.0
FAILURE_GAP_S = 0.2
BACKGROUND_RATE = 1000
HOUR_S = 3600
SPEEDUP = 10
ALERT_WAIT_S = 120


def _failure(user: str, ip: str) -> Event:
    value = {
        "event_id": str(uuid.uuid4()),
        "user_id": user,
        "session_id": None,
        "timestamp": int(time.time() * 1000),
        "ip_address": ip,
        "device": "desktop",
        "event_type": "login_failure",
        "failure_reason": "invalid_password",
    }
    return Event(AUTH, user, value)


def latency(settings: Settings, attacks: int = ATTACKS, background_rate: float = BACKGROUND_RATE) -> dict:
    """Per attack: first alert row's write time minus the last failed login's event time (ms)."""
    threshold, run = settings.auth_alerts.user_threshold, uuid.uuid4().hex[:8]
    background = LogProducer(settings)
    duration_s = attacks * (ATTACK_GAP_S + threshold * FAILURE_GAP_S) + 10
    events = e2e_bench.Recorder().events()
    noise = threading.Thread(
        target=lambda: background.run(events, rate=background_rate, duration_s=duration_s, progress=False), daemon=True
    )
    noise.start()
    producer, last_failure = LogProducer(settings), {}
    time.sleep(5)
    for i in range(attacks):
        victim = f"bench_victim_{run}_{i}"
        for _ in range(threshold):
            event = _failure(victim, f"198.18.{i}.1")
            producer.produce_one(event, queue_full_timeout_s=30)
            producer.producer.poll(0)
            time.sleep(FAILURE_GAP_S)
        producer.flush()
        last_failure[victim] = event.value["timestamp"]
        time.sleep(ATTACK_GAP_S)
    noise.join(timeout=duration_s + 60)
    latencies = _alert_latencies(settings, last_failure)
    values = sorted(latencies.values())
    return {
        "attacks": attacks,
        "alerted": len(values),
        "background_events_per_s": background_rate,
        "latency_ms_p50": round(statistics.median(values)) if values else None,
        "latency_ms_p99": round(e2e_bench.percentile(values, 0.99)) if values else None,
        "latency_ms_max": round(values[-1]) if values else None,
    }


def _alert_latencies(settings: Settings, last_failure: dict[str, int]) -> dict[str, float]:
    connection = CassandraConnection.open(settings)
    query = connection.prepare(
        f"SELECT failures, WRITETIME(failures) AS written FROM {settings.cassandra_keyspace}.auth_alerts "
        "WHERE subject = ?"
    )
    found: dict[str, float] = {}
    deadline = time.monotonic() + ALERT_WAIT_S
    try:
        while len(found) < len(last_failure) and time.monotonic() < deadline:
            for victim, last_ms in last_failure.items():
                if victim in found:
                    continue
                rows = [r for r in connection.session.execute(query, (victim,)) if r.failures is not None]
                if rows:
                    found[victim] = min(r.written for r in rows) / 1000 - last_ms
            time.sleep(1)
    finally:
        connection.close()
    return found


def drain_cost(namespace: BenchNamespace, events: int) -> dict:
    """The main queries' drain rate with the alerts query on and off, alternating (on, off, off, on)."""
    rates: dict[str, list[float]] = {"on": [], "off": []}
    for state in ("on", "off", "off", "on"):
        namespace.restart_job(alerts=state == "on")
        result = e2e_bench.measure(namespace.settings, rate=0, duration_s=None, count=events)
        rates[state].append(result["end_to_end_events_per_s"])
        print(f"  drain of {events:,} events, alerts {state}: {rates[state][-1]:,.0f} events/s", flush=True)
    namespace.restart_job(alerts=True)
    on, off = statistics.mean(rates["on"]), statistics.mean(rates["off"])
    return {
        "events_per_drain": events,
        "drain_on_events_per_s": [round(r) for r in rates["on"]],
        "drain_off_events_per_s": [round(r) for r in rates["off"]],
        "drain_ratio_on_off": round(on / off, 3),
    }


def _hour_of_traffic(rate: float) -> Iterator[Event]:
    """Sessions of an hour of event time, from an hour ago to the moment the sending starts."""
    generator = LogGenerator(seed=7, user_prefix=f"bench_hour_{uuid.uuid4().hex[:6]}")
    started = time.time() * 1000
    event_time = started - HOUR_S * 1000
    while event_time < started:
        session = generator.session(int(event_time))
        yield from session
        event_time += 1000 * len(session) / rate  # sent at speedup x rate: event time stays behind the clock


def state_after_hour(settings: Settings, speedup: float = SPEEDUP) -> dict:
    rate = settings.producer_rate
    tally = LogProducer(settings).run(_hour_of_traffic(rate), rate=rate * speedup, progress=False)
    time.sleep(10)  # the last batches
    status = (read_job_report(settings.job_status_file) or {}).get("auth_alerts") or {}
    auth = next(s for s in streams(settings.topic_prefix) if s.name == AUTH.name)
    folder = settings.spark_checkpoint_dir / f"{auth.topic}.alerts" / "state"
    on_disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else None
    return {
        "events": tally.total_acked,
        "event_time_s": HOUR_S,
        "rate": rate,
        "state_rows": status.get("state_rows"),
        "state_bytes_in_memory": status.get("state_bytes"),
        "state_folder_bytes": on_disk,
        "late_dropped": status.get("late_dropped"),
        "alert_rows_written": (status.get("rows_written") or {}).get("auth_alerts"),
        "watermark": status.get("watermark"),
    }


def run(namespace: BenchNamespace, events: int) -> dict:
    settings = namespace.settings
    print(f"latency: {ATTACKS} attacks under {BACKGROUND_RATE:,} events/s ...", flush=True)
    results = {"latency": latency(settings)}
    print(f"cost: drains of {events:,} events with the alerts query on and off ...", flush=True)
    results["cost"] = drain_cost(namespace, events)
    print(f"state: an hour of traffic at {settings.producer_rate:g} events/s, sent {SPEEDUP}x faster ...", flush=True)
    results["state"] = state_after_hour(settings)
    return results


def format_results(r: dict) -> str:
    lat, cost, state = r["latency"], r["cost"], r["state"]
    return "\n".join(
        [
            f"alert latency (last failed login -> alert row), {lat['alerted']} of {lat['attacks']} attacks under "
            f"{lat['background_events_per_s']:,} events/s: p50 {lat['latency_ms_p50']:,} ms, "
            f"p99 {lat['latency_ms_p99']:,} ms, max {lat['latency_ms_max']:,} ms",
            f"cost: drains of {cost['events_per_drain']:,} events, alerts on "
            f"{', '.join(f'{x:,}' for x in cost['drain_on_events_per_s'])} vs off "
            f"{', '.join(f'{x:,}' for x in cost['drain_off_events_per_s'])} events/s (on/off "
            f"{cost['drain_ratio_on_off']:.3f})",
            f"state after an hour of traffic ({state['events']:,} events at {state['rate']:g}/s in event time): "
            f"{state['state_rows']:,} rows, {state['state_bytes_in_memory'] / 2**20:.1f} MB in memory, "
            f"{(state['state_folder_bytes'] or 0) / 2**20:.1f} MB on disk; {state['late_dropped']:,} late "
            f"events dropped, {state['alert_rows_written']:,} alert rows written",
        ]
    )
