"""End-to-end numbers from the rows themselves: produce known events through the real producer, wait for
them in Cassandra, and read each row's write time (WRITETIME) against its Kafka record timestamp.

    python3 main.py bench latency --rate 1000 --duration 60   # per-event latency percentiles at a fixed rate
    python3 main.py bench drain --events 200000               # throughput: a backlog produced at full speed

Both run in the bench's own topics and keyspace, with its own run of the job (bench/namespace.py); the
pipeline's job and generator are paused meanwhile, so nothing mixes its load into the numbers.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC

from cassandra.concurrent import execute_concurrent_with_args

from config.settings import Settings
from database.cassandra_connection import CassandraConnection
from kafka.contract import STREAMS, streams
from kafka.kafka_producer import LogProducer
from kafka.logs_generators import Event, LogGenerator

PARTITION_KEY = {"session": "user_id", "auth": "user_id", "activity": "session_id"}


class Recorder:
    """Wall-clock sessions of fresh users, remembering every partition they touch."""

    def __init__(self, seed: int | None = None) -> None:
        """A seed gives the same events (ids, users, keys) again: the peer bench drains one backlog twice."""
        run = uuid.uuid4()
        seed = run.int % 2**32 if seed is None else seed
        self.generator = LogGenerator(seed=seed, users=2000, user_prefix=f"bench_{seed:08x}")
        self.partitions: dict[str, set] = defaultdict(set)

    def events(self) -> Iterator[Event]:
        while True:
            for event in self.generator.session(int(time.time() * 1000)):
                key = PARTITION_KEY[event.stream.name]
                value = event.value[key]
                self.partitions[event.stream.name].add(uuid.UUID(value) if key == "session_id" else value)
                yield event


def _fetch(cassandra: CassandraConnection, keyspace: str, recorder: Recorder) -> dict[str, list[tuple]]:
    """(produced_at ms, write time ms) of every row under the recorded partitions."""
    rows: dict[str, list[tuple]] = {}
    for stream in STREAMS:
        key = PARTITION_KEY[stream.name]
        query = cassandra.prepare(
            f"SELECT produced_at, WRITETIME(kafka_offset) AS written FROM {keyspace}.{stream.table} WHERE {key} = ?"
        )
        params = [(p,) for p in recorder.partitions[stream.name]]
        results = execute_concurrent_with_args(
            cassandra.session, query, params, concurrency=64, raise_on_first_error=True
        )
        # cassandra-driver returns naive datetimes in UTC; WRITETIME is in microseconds.
        rows[stream.name] = [
            (row.produced_at.replace(tzinfo=UTC).timestamp() * 1000, row.written / 1000)
            for _ok, result in results
            for row in result
        ]
    return rows


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1] if len(values) > 1 else values[0]


def measure(
    settings: Settings,
    rate: float,
    duration_s: float | None,
    count: int | None,
    wait_s: float = 600,
    seed: int | None = None,
    pacer=None,
) -> dict:
    recorder = Recorder(seed)
    started = time.time()
    with LogProducer(settings) as producer:
        events = recorder.events()
        tally = producer.run(events, rate=rate, count=count, duration_s=duration_s, progress=False, pacer=pacer)
    produced_s = time.time() - started
    assert tally.all_delivered, "not every event was acknowledged by Kafka"
    expected = {s.name: tally.acked[s.topic] for s in streams(settings.topic_prefix)}
    with CassandraConnection.open(settings) as cassandra:
        deadline = time.monotonic() + wait_s
        while True:
            rows = _fetch(cassandra, settings.cassandra_keyspace, recorder)
            if all(len(rows[s.name]) >= expected[s.name] for s in STREAMS) or time.monotonic() > deadline:
                break
            time.sleep(1)
    landed = {name: len(r) for name, r in rows.items()}
    latencies = sorted(w - p for r in rows.values() for p, w in r)
    first_produced = min(p for r in rows.values() for p, _ in r)
    last_written = max(w for r in rows.values() for _, w in r)
    total = sum(expected.values())
    return {
        "target_rate": rate,
        "events": total,
        "landed": sum(landed.values()),
        "complete": landed == expected,
        "produce_seconds": round(produced_s, 2),
        "produced_events_per_s": round(total / produced_s, 1),
        "end_to_end_events_per_s": round(total / ((last_written - first_produced) / 1000), 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50)),
            "p95": round(percentile(latencies, 0.95)),
            "p99": round(percentile(latencies, 0.99)),
            "max": round(latencies[-1]),
        },
    }


def format_results(results: dict) -> str:
    lat = results["latency_ms"]
    produced, end_to_end = results["produced_events_per_s"], results["end_to_end_events_per_s"]
    return (
        f"events {results['events']:,} ({'all landed' if results['complete'] else 'NOT all landed'}), "
        f"produced at {produced:,.0f}/s, end to end {end_to_end:,.0f}/s\n"
        f"latency ms: p50 {lat['p50']:,}  p95 {lat['p95']:,}  p99 {lat['p99']:,}  max {lat['max']:,}"
    )
