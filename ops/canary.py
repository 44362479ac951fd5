"""The doctor's canary: one real event per topic, through the real producer, waited for in its table, timed,
then deleted. Canary users are named `CANARY_USER_PREFIX*`, so `reconcile` can tell their records (whose
rows are deleted by design) from lost events.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from config.settings import Settings
from database.cassandra_connection import CassandraConnection
from database.schema import KEYSPACE
from kafka.contract import ACTIVITY, STREAMS, LogStream
from kafka.kafka_producer import LogProducer
from kafka.logs_generators import Event, LogGenerator

CANARY_USER_PREFIX = "doctor_canary_"
# Each table's partition key (cassandra/cassandra_setup.cql): activity rows live under their session.
PARTITION_KEY = {s.name: ("session_id" if s is ACTIVITY else "user_id") for s in STREAMS}


def is_canary(value: dict) -> bool:
    return str(value.get("user_id", "")).startswith(CANARY_USER_PREFIX)


@dataclass(frozen=True)
class CanaryResult:
    stream: LogStream
    event_id: str
    landed_s: float | None  # seconds from Kafka's acknowledgement to the row; None: not within the bound


def canary_events(now_ms: int) -> dict[str, Event]:
    """One event per stream, for a user of this run alone."""
    run = uuid.uuid4()
    generator = LogGenerator(seed=run.int % 2**32, users=1, user_prefix=f"{CANARY_USER_PREFIX}{run.hex[:8]}")
    chosen: dict[str, Event] = {}
    while len(chosen) < len(STREAMS):  # a session without activity or auth events is rare; draw again
        for event in generator.session(now_ms):
            chosen.setdefault(event.stream.name, event)
    return chosen


def _key(stream: LogStream, value: dict, cql_uuid: bool):
    key = value[PARTITION_KEY[stream.name]]
    return uuid.UUID(key) if cql_uuid else key


def run_canary(settings: Settings, cassandra: CassandraConnection, timeout_s: float) -> list[CanaryResult]:
    events = canary_events(int(time.time() * 1000))
    producer = LogProducer(settings)
    tally = producer.run(list(events.values()), progress=False)
    acked_at = time.monotonic()
    if not tally.all_delivered:
        return [CanaryResult(s, events[s.name].value["event_id"], None) for s in STREAMS]
    pending = {s.name: s for s in STREAMS}
    landed: dict[str, float] = {}
    queries = {
        s.name: cassandra.prepare(
            f'SELECT event_id FROM {KEYSPACE}.{s.table} WHERE "{PARTITION_KEY[s.name]}" = ? '
            f'AND "{s.event_time_field}" = ? AND event_id = ?'
        )
        for s in STREAMS
    }
    deadline = acked_at + timeout_s
    try:
        while pending and time.monotonic() < deadline:
            for name, stream in list(pending.items()):
                value = events[name].value
                bound = _row_key(stream, value)
                if cassandra.session.execute(queries[name], bound).one() is not None:
                    landed[name] = time.monotonic() - acked_at
                    del pending[name]
            if pending:
                time.sleep(0.25)
    finally:
        for stream in STREAMS:
            delete = cassandra.prepare(
                f'DELETE FROM {KEYSPACE}.{stream.table} WHERE "{PARTITION_KEY[stream.name]}" = ? '
                f'AND "{stream.event_time_field}" = ? AND event_id = ?'
            )
            cassandra.session.execute(delete, _row_key(stream, events[stream.name].value))
    return [CanaryResult(s, events[s.name].value["event_id"], landed.get(s.name)) for s in STREAMS]


def _row_key(stream: LogStream, value: dict) -> tuple:
    event_time = datetime.fromtimestamp(value[stream.event_time_field] / 1000, UTC)
    return (_key(stream, value, stream is ACTIVITY), event_time, uuid.UUID(value["event_id"]))
