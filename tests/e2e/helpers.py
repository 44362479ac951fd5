"""Producing known events and reading them back from the tables."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from database.cassandra_connection import CassandraConnection
from database.rows import table_row
from kafka.contract import ACTIVITY, AUTH, SESSION, STREAMS, LogStream
from kafka.kafka_producer import LogProducer
from kafka.logs_generators import Event, LogGenerator
from local import platform as local_platform
from local.platform import Platform
from spark.checkpoints import batch_end_offsets

START_MS = int(time.time() * 1000) - 3_600_000
# The partition key each table is read by (see cassandra/cassandra_setup.cql).
PARTITION_KEY = {SESSION.name: "user_id", AUTH.name: "user_id", ACTIVITY.name: "session_id"}


def unique_events(sessions: int) -> list[Event]:
    """Events no other test run has: a fresh seed gives fresh event and session ids, a fresh user prefix fresh
    users, so each test owns its partitions even in a keyspace that outlives test runs."""
    run = uuid.uuid4()
    generator = LogGenerator(seed=run.int % 2**32, users=200, user_prefix=f"e2e_{run.hex[:10]}")
    return [event for i in range(sessions) for event in generator.session(START_MS + i * 1000)]


def as_cassandra(stream: LogStream, value: dict) -> dict:
    """A produced Avro value as cassandra-driver returns the row: uuids, naive UTC datetimes, event_day."""
    return table_row(stream, value)


def rows_for(
    cassandra: CassandraConnection, stream: LogStream, events: Iterable[Event], keyspace: str = "user_logs"
) -> list[dict]:
    """Every row in the stream's table under the partitions the given events belong to."""
    key = PARTITION_KEY[stream.name]
    partitions = {e.value[key] for e in events if e.stream.name == stream.name}
    query = cassandra.prepare(f"SELECT * FROM {keyspace}.{stream.table} WHERE {key} = ?")
    rows = []
    for partition in partitions:
        value = uuid.UUID(partition) if key == "session_id" else partition
        rows += [row._asdict() for row in cassandra.session.execute(query, (value,))]
    return rows


@contextmanager
def producing(settings, events: list[Event], rate: float, join_s: float = 180) -> Iterator[None]:
    """Produce `events` at `rate` from a background thread while the block runs; afterwards wait (bounded)
    for the producer to finish and check that it reported every event delivered."""
    producer = LogProducer(settings)
    outcome: dict = {}
    sending = threading.Thread(
        target=lambda: outcome.update(tally=producer.run(events, rate=rate, progress=False)), daemon=True
    )
    sending.start()
    yield
    sending.join(timeout=join_s)
    assert not sending.is_alive(), f"the producer was still sending {join_s:.0f} s after the block"
    assert outcome["tally"].all_delivered, outcome["tally"]


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, every_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


def wait_until_landed(
    cassandra: CassandraConnection, events: list[Event], timeout_s: float = 240
) -> dict[str, list[dict]]:
    """Rows per stream once every table holds at least as many rows as events produced for it."""
    expected = defaultdict(int)
    for event in events:
        expected[event.stream.name] += 1
    found: dict[str, list[dict]] = {}

    def landed() -> bool:
        for stream in STREAMS:
            found[stream.name] = rows_for(cassandra, stream, events)
        return all(len(found[s.name]) >= expected[s.name] for s in STREAMS)

    wait_for(landed, timeout_s, f"{len(events)} events to land in Cassandra")
    return found


def log_since(path: Path, offset: int) -> str:
    """What a log gained after `offset` (its size when the caller started watching)."""
    with path.open(errors="replace") as handle:
        handle.seek(offset)
        return handle.read()


def batch_offset_range(checkpoint: Path, topic: str, batch_id: int) -> dict[int, tuple[int, int]]:
    """Per partition, the [start, end) Kafka offsets of one micro-batch, from the query's offset log."""
    end = batch_end_offsets(checkpoint, topic, batch_id) or {}
    start = batch_end_offsets(checkpoint, topic, batch_id - 1) or {}
    return {p: (start.get(p, 0), o) for p, o in end.items()}


@contextmanager
def job_restarted_with(env: dict[str, str]) -> Iterator[Platform]:
    """The streaming job restarted with these settings (its supervisord program changes, so `up` restarts
    it), and restarted as configured afterwards."""
    os.environ.update(env)
    try:
        platform = Platform.load()
        local_platform.up(platform, pipeline=True, producer=False)
        yield platform
    finally:
        for name in env:
            os.environ.pop(name, None)
        local_platform.up(Platform.load(), pipeline=True, producer=False)
