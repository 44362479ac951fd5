"""What the dashboard reads besides `status`: a sample of recent rows for end-to-end latency, how far behind
the job is in seconds, and the recent dead letters.

Latency is measured on the rows themselves: the last records the job has processed (per partition, from its
own report) are read back from Kafka, decoded, and their rows looked up by primary key; each row's
`WRITETIME` minus its Kafka record timestamp is one sample. The record at the job's processed offset is the
oldest one not yet written: its age is the lag in seconds.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from cassandra.concurrent import execute_concurrent_with_args
from confluent_kafka import Consumer, KafkaException, TopicPartition

from config.settings import Settings
from database import dead_letters
from database.cassandra_connection import CassandraConnection
from kafka.contract import LogStream
from kafka.offsets import QUIET_LOGGER, processed_offsets
from ops.wire import OffsetRange, WireDecoder

SAMPLE_PER_PARTITION = 10
READ_TIMEOUT_S = 10
DEAD_LETTER_HOURS = 24
NEWEST_DEAD_LETTERS = 20


@dataclass(frozen=True)
class TopicSample:
    """One topic's latency sample (seconds) and the age of its oldest unprocessed record."""

    latencies_s: list[float]
    lag_s: float | None

    @property
    def p50_s(self) -> float | None:
        return _percentile(self.latencies_s, 0.50)

    @property
    def p99_s(self) -> float | None:
        return _percentile(self.latencies_s, 0.99)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def sample_span(topic: str, low: dict[int, int], end: dict[int, int], done: dict[int, int]) -> OffsetRange:
    """Per partition: the last SAMPLE_PER_PARTITION processed records and the first unprocessed one."""
    start, stop = {}, {}
    for p, high in end.items():
        processed = min(done.get(p, low.get(p, 0)), high)
        start[p] = max(processed - SAMPLE_PER_PARTITION, low.get(p, 0))
        stop[p] = min(processed + 1, high)
    return OffsetRange(topic, start, stop)


def key_value(stream: LogStream, name: str, value):
    """A decoded Avro value as cassandra-driver binds it (fastavro gives uuids and datetimes already, unless
    a writer schema lacks the logical type)."""
    if isinstance(value, str) and name in stream.uuid_fields:
        return uuid.UUID(value)
    if isinstance(value, int) and name in stream.timestamp_fields:
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    return value


def sampling_consumer(settings: Settings) -> Consumer:
    """A consumer for a few records at a time: librdkafka prefetches megabytes per partition by default (and
    the tools' consumer 16 MB), which a dashboard reading 11 records per partition would only hold in memory."""
    return Consumer(
        {
            **settings.kafka_client("admin"),
            "group.id": f"pipeline-dashboard-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "fetch.max.bytes": 1024 * 1024,  # librdkafka's floor: message.max.bytes (1,000,000)
            "max.partition.fetch.bytes": 32 * 1024,
            "queued.max.messages.kbytes": 256,
            "queued.min.messages": 100,
            "logger": QUIET_LOGGER,
        }
    )


class RowSampler:
    """Latency and lag in seconds of each topic, read from Kafka and the tables. One consumer, kept between
    samples and reassigned each time (a new client per read would cost more than the read)."""

    def __init__(self, settings: Settings, decoder: WireDecoder) -> None:
        self.settings, self.decode = settings, decoder
        self.primary_keys: dict[str, list[str]] = {}
        self.client: Consumer | None = None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _lookup(self, cassandra: CassandraConnection, stream: LogStream):
        keyspace = self.settings.cassandra_keyspace
        if stream.table not in self.primary_keys:
            table = cassandra.cluster.metadata.keyspaces[keyspace].tables[stream.table]
            self.primary_keys[stream.table] = [c.name for c in table.primary_key]
        keys = self.primary_keys[stream.table]
        where = " AND ".join(f"{k} = ?" for k in keys)
        query = cassandra.prepare(
            f"SELECT WRITETIME(kafka_offset) AS written FROM {keyspace}.{stream.table} WHERE {where}"
        )
        return query, keys

    def _spans(self, client: Consumer, done: dict[str, dict[int, int]]) -> list[OffsetRange]:
        spans = []
        for topic, offsets in done.items():
            low, high = {}, {}
            for p in offsets:
                low[p], high[p] = client.get_watermark_offsets(TopicPartition(topic, p), timeout=READ_TIMEOUT_S)
            spans.append(sample_span(topic, low, high, offsets))
        return spans

    def _read(self, client: Consumer, spans: list[OffsetRange]) -> dict[str, list]:
        """Every record of the spans, by topic, bounded in time."""
        todo = {(s.topic, p): e for s in spans for p, e in s.end.items() if e > s.start[p]}
        starts = {(s.topic, p): o for s in spans for p, o in s.start.items()}
        found: dict[str, list] = {s.topic: [] for s in spans}
        client.assign([TopicPartition(topic, p, starts[topic, p]) for topic, p in todo])
        deadline = time.monotonic() + READ_TIMEOUT_S
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the latest records of {', '.join(found)} not read within {READ_TIMEOUT_S} s")
            for msg in client.consume(500, timeout=0.5):
                if msg.error() is not None:
                    raise KafkaException(msg.error())
                key = (msg.topic(), msg.partition())
                if key in todo and msg.offset() < todo[key]:
                    found[msg.topic()].append(msg)
                if key in todo and msg.offset() >= todo[key] - 1:
                    del todo[key]
        client.unassign()
        return found

    def sample(self, cassandra: CassandraConnection, progress: dict[LogStream, dict | None]) -> dict[str, TopicSample]:
        """Per topic whose query has committed a batch (its `last_progress`), a sample."""
        done = {s.topic: d for s, last in progress.items() if (d := processed_offsets(last, s.topic)) is not None}
        if not done:
            return {}
        if self.client is None:
            self.client = sampling_consumer(self.settings)
        try:
            records = self._read(self.client, self._spans(self.client, done))
        except (KafkaException, TimeoutError):
            self.close()  # a fresh client next time
            raise
        by_topic = {s.topic: s for s in progress}
        return {topic: self._measure(cassandra, by_topic[topic], msgs, done[topic]) for topic, msgs in records.items()}

    def _measure(
        self, cassandra: CassandraConnection, stream: LogStream, msgs: list, done: dict[int, int]
    ) -> TopicSample:
        produced, oldest_waiting = [], None
        for msg in msgs:
            timestamp_ms = msg.timestamp()[1]
            if msg.offset() >= done.get(msg.partition(), 0):
                oldest_waiting = min(timestamp_ms, oldest_waiting or timestamp_ms)
                continue
            event = self.decode(msg.value())
            if event is not None:  # an undecodable record is a dead letter, not a row
                produced.append((timestamp_ms, event))
        query, keys = self._lookup(cassandra, stream)
        arguments = [tuple(key_value(stream, k, event.get(k)) for k in keys) for _, event in produced]
        results = execute_concurrent_with_args(cassandra.session, query, arguments, concurrency=32)
        latencies = []
        for (timestamp_ms, _), (ok, result) in zip(produced, results, strict=True):
            found = result.one() if ok else None
            if found is not None and found.written:  # WRITETIME is in microseconds
                latencies.append(max(found.written / 1000 - timestamp_ms, 0) / 1000)
        # No record waiting: nothing is behind.
        lag_s = 0.0 if oldest_waiting is None else max(time.time() - oldest_waiting / 1000, 0.0)
        return TopicSample(latencies, lag_s)


@dataclass(frozen=True)
class DeadLetterSummary:
    by_reason: dict[tuple[str, str], int]  # (topic, reason) -> count over the last DEAD_LETTER_HOURS
    newest: list[dict]


def recent_hours(now: dt.datetime, hours: int = DEAD_LETTER_HOURS) -> list[tuple[dt.date, int]]:
    """The (UTC day, hour) partitions of the dead-letter table covering the last `hours` hours, newest first."""
    return [((now - dt.timedelta(hours=h)).date(), (now - dt.timedelta(hours=h)).hour) for h in range(hours)]


def dead_letter_summary(cassandra: CassandraConnection, keyspace: str, streams: list[LogStream]) -> DeadLetterSummary:
    """Counts by topic and reason, and the newest rows, of the last DEAD_LETTER_HOURS (small columns only)."""
    hours = recent_hours(dt.datetime.now(dt.UTC))
    counts: Counter = Counter()
    rows = []
    for stream in streams:
        found = dead_letters.read_hours(
            cassandra.session, stream.topic, hours, "topic, kafka_partition, kafka_offset, reason, failed_at", keyspace
        )
        counts.update((row.topic, row.reason) for row in found)
        rows += found
    rows.sort(key=lambda r: r.failed_at or dt.datetime.min, reverse=True)
    newest = [
        {
            "topic": r.topic,
            "partition": r.kafka_partition,
            "offset": r.kafka_offset,
            "reason": r.reason,
            "failed_at": r.failed_at.replace(tzinfo=dt.UTC).timestamp() if r.failed_at else None,
        }
        for r in rows[:NEWEST_DEAD_LETTERS]
    ]
    return DeadLetterSummary(dict(counts), newest)


NEWEST_ALERTS = 20
ALERT_COLUMNS = (
    "window_start, subject_type, subject, reason, failures, distinct_ips, distinct_users, lockouts, last_failure, "
    "alerted_at"
)


def recent_alerts(cassandra: CassandraConnection, keyspace: str) -> list[dict]:
    """The newest failed-login alerts (today's and yesterday's partitions, UTC), newest window first."""
    today = dt.datetime.now(dt.UTC).date()
    rows = []
    for day in (today, today - dt.timedelta(days=1)):
        query = f"SELECT {ALERT_COLUMNS} FROM {keyspace}.auth_alerts WHERE day = %s LIMIT {NEWEST_ALERTS}"
        rows += list(cassandra.session.execute(query, (day,), timeout=READ_TIMEOUT_S))
        if len(rows) >= NEWEST_ALERTS:
            break

    def seconds(value: dt.datetime | None) -> float | None:
        return value.replace(tzinfo=dt.UTC).timestamp() if value else None

    return [
        {
            "window_start": seconds(r.window_start),
            "subject_type": r.subject_type,
            "subject": r.subject,
            "reason": r.reason,
            "failures": r.failures,
            "distinct": r.distinct_ips if r.subject_type == "user" else r.distinct_users,
            "lockouts": r.lockouts,
            "last_failure": seconds(r.last_failure),
            "alerted_at": seconds(r.alerted_at),
        }
        for r in rows[:NEWEST_ALERTS]
    ]
