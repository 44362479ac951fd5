"""`python3 main.py reconcile`: did every event arrive? The topics as Kafka holds them against the tables and
the dead-letter table, event id by event id, trusting nothing the job says.

Per topic, from the first record at or after `--since` (the log's start without it) to the end as it is when
the run starts: our own consumer reads every record and decodes it by its schema id; each decodable event
must have exactly one row (looked up by its partition key within the events' time span, widened by an hour on
each side so that a second row at another event time is seen), and each record
that has no row must be in the dead letters at its partition and offset. Counted per topic:

- records, decodable: what the range holds, and what decodes by its schema id;
- rows: events with a row; dead letters: records of the range in the dead-letter table;
- missing: records with neither; doubled: events with more than one row; extra: rows that claim an offset
  of the range (their lineage columns) whose event id no record there has;
- a sample of events compared field by field with their rows.

Memory stays bounded whatever the range: event ids and partition keys are spilled to disk in shards
(ops/spill.py) and compared a shard at a time. Exit 1 on anything missing, doubled or unequal.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cassandra.cluster import EXEC_PROFILE_DEFAULT
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import tuple_factory
from tqdm import tqdm

from config.settings import Settings
from database import dead_letters
from database.cassandra_connection import CassandraConnection
from database.schema import KEYSPACE
from kafka.contract import LogStream
from ops.args import parse_since, select_streams
from ops.canary import is_canary
from ops.errors import OperatorError
from ops.spill import Spill
from ops.wire import OffsetRange, WireDecoder, offset_range, read_records

SHARDS = 64
# Rows are read within each partition key's event-time span, widened by this much on both sides: a second row
# of an event (an event time rewritten) further away than this is not seen.
DOUBLED_SLACK_MS = 3_600_000
EXAMPLES = 5
CONCURRENCY = 64


class ReconcileError(OperatorError):
    """Nothing to reconcile, or no table to reconcile with."""


@dataclass
class TopicAudit:
    topic: str
    table: str
    span: OffsetRange
    records: int = 0
    decodable: int = 0
    rows: int = 0
    dead_letters: int = 0
    missing: int = 0
    doubled: int = 0
    extra: int = 0
    repeated: int = 0  # events whose id more than one record carries (produced twice; one row is right)
    canaries: int = 0  # the doctor's canary events, not counted
    rows_read: int = 0
    sample_checked: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.doubled or self.examples.get("unequal"))

    def note(self, what: str, example: str) -> None:
        shown = self.examples.setdefault(what, [])
        if len(shown) < EXAMPLES:
            shown.append(example)


def plain(value):
    """A field value in one comparable form, whether fastavro or cassandra-driver produced it: epoch ms for
    times (the driver's are naive UTC), text for uuids, ISO text for dates."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return round(moment.timestamp() * 1000)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def unequal_fields(value: dict, row: dict) -> list[str]:
    """The event's fields whose row value differs (fields the table lacks count as differing)."""
    return [name for name, item in value.items() if name not in row or plain(item) != plain(row[name])]


def _hour(ms: int) -> tuple[dt.date, int]:
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.date(), moment.hour


class TopicReconciler:
    """One topic's pass: read and spill the records, read and spill the rows, then compare shard by shard."""

    def __init__(
        self, settings: Settings, cassandra: CassandraConnection, decode: WireDecoder, stream: LogStream, folder: Path
    ) -> None:
        self.settings, self.cassandra, self.decode, self.stream = settings, cassandra, decode, stream
        # Plain tuples: the driver's default builds a namedtuple class for every result page.
        self.tuples = cassandra.session.execution_profile_clone_update(EXEC_PROFILE_DEFAULT, row_factory=tuple_factory)
        table = cassandra.cluster.metadata.keyspaces[KEYSPACE].tables.get(stream.table)
        if table is None:
            raise ReconcileError(f"table {KEYSPACE}.{stream.table} does not exist: run `python3 main.py setup`")
        (self.key_column,) = table.partition_key  # each table has a one-column partition key
        # (event id, partition, offset, is the doctor's canary)
        self.records = Spill(folder, f"{stream.name}-records", SHARDS)
        self.keys = Spill(folder, f"{stream.name}-keys", SHARDS)  # (partition key, event ms)
        self.rows = Spill(folder, f"{stream.name}-rows", SHARDS)  # (event id, claims an offset of the range)

    def run(self, span: OffsetRange, sample_size: int, rng: random.Random, progress: bool) -> TopicAudit:
        audit = TopicAudit(self.stream.topic, self.stream.table, span)
        unreadable, hours, sample = self._read_records(audit, span, sample_size, rng, progress)
        dead = self._dead_letter_positions(span, hours)
        self._read_rows(audit, span)
        self._compare(audit, dead, unreadable)
        self._check_sample(audit, sample)
        return audit

    def _read_records(self, audit: TopicAudit, span: OffsetRange, sample_size: int, rng, progress: bool):
        stream, key = self.stream, self.key_column.name
        unreadable: list[tuple[int, int]] = []  # records that do not decode: each must be a dead letter
        hours: set[tuple[dt.date, int]] = set()  # the dead-letter partitions the range's records fall in
        sample: list[tuple[dict, int, int]] = []
        bar = tqdm(total=span.records, unit="rec", desc=stream.topic, disable=not progress, mininterval=0.5)
        for msg in read_records(self.settings, span):
            audit.records += 1
            bar.update()
            p, o = msg.partition(), msg.offset()
            hours.add(_hour(msg.timestamp()[1]))
            value = self.decode(msg.value())
            try:
                event_id = uuid.UUID(str(value["event_id"])).bytes
                partition_key, event_ms = str(value[key]), plain(value[stream.event_time_field])
            except (TypeError, KeyError, ValueError):  # no value, or not an event the job can write
                unreadable.append((p, o))
                continue
            audit.decodable += 1
            self.records.add(event_id, p, o, is_canary(value))
            self.keys.add(partition_key, event_ms)
            # Reservoir sampling: every decodable event equally likely to be checked field by field.
            if len(sample) < sample_size:
                sample.append((value, p, o))
            elif (slot := rng.randrange(audit.decodable)) < sample_size:
                sample[slot] = (value, p, o)
        bar.close()
        return unreadable, hours, sample

    def _dead_letter_positions(self, span: OffsetRange, hours: set) -> set[tuple[int, int]]:
        """(partition, offset) of the topic's dead letters in the range (few: they are read whole)."""
        columns = "kafka_partition, kafka_offset"
        rows = dead_letters.read_hours(self.cassandra.session, self.stream.topic, sorted(hours), columns)
        return {(p, o) for p, o in rows if span.holds(p, o)}

    def _read_rows(self, audit: TopicAudit, span: OffsetRange) -> None:
        stream, key = self.stream, self.key_column
        query = self.cassandra.prepare(
            f'SELECT event_id, kafka_partition, kafka_offset FROM {KEYSPACE}.{stream.table} WHERE "{key.name}" = ? '
            f'AND "{stream.event_time_field}" >= ? AND "{stream.event_time_field}" <= ?'
        )
        as_key = uuid.UUID if key.cql_type in ("uuid", "timeuuid") else str
        for shard in range(SHARDS):
            spans: dict[str, list[int]] = {}  # partition key -> [first, last] event ms
            for partition_key, event_ms in self.keys.shard(shard):
                known = spans.setdefault(partition_key, [event_ms, event_ms])
                known[0], known[1] = min(known[0], event_ms), max(known[1], event_ms)
            slack = DOUBLED_SLACK_MS
            arguments = [(as_key(k), _utc(lo - slack), _utc(hi + slack)) for k, (lo, hi) in spans.items()]
            results = execute_concurrent_with_args(
                self.cassandra.session,
                query,
                arguments,
                concurrency=CONCURRENCY,
                results_generator=True,
                execution_profile=self.tuples,
            )
            for ok, result in results:
                if not ok:
                    raise result
                for event_id, kafka_partition, kafka_offset in result:
                    audit.rows_read += 1
                    claimed = kafka_partition is not None and span.holds(kafka_partition, kafka_offset)
                    self.rows.add(event_id.bytes, claimed)

    def _compare(self, audit: TopicAudit, dead: set[tuple[int, int]], unreadable: list[tuple[int, int]]) -> None:
        for shard in range(SHARDS):
            records: dict[bytes, tuple[int, int]] = {}
            canaries: set[bytes] = set()
            for event_id, p, o, canary in self.records.shard(shard):
                if event_id in records:
                    audit.repeated += 1
                else:
                    records[event_id] = (p, o)
                if canary:
                    canaries.add(event_id)
            found: Counter = Counter()
            for event_id, claimed in self.rows.shard(shard):
                if event_id in records:
                    found[event_id] += 1
                elif claimed:
                    audit.extra += 1
                    audit.note("extra", str(uuid.UUID(bytes=event_id)))
            for event_id, position in records.items():
                if event_id in canaries:  # the doctor's: deleted by design, whether or not a row is left
                    audit.canaries += 1
                    continue
                rows = found[event_id]
                if rows:
                    audit.rows += 1
                    if rows > 1:
                        audit.doubled += 1
                        audit.note("doubled", f"{uuid.UUID(bytes=event_id)} ({rows} rows)")
                elif position in dead:
                    audit.dead_letters += 1
                else:
                    audit.missing += 1
                    where = f"partition {position[0]}, offset {position[1]}"
                    audit.note("missing", f"{uuid.UUID(bytes=event_id)} ({where})")
        for position in unreadable:
            if position in dead:
                audit.dead_letters += 1
            else:
                audit.missing += 1
                audit.note("missing", f"undecodable record at partition {position[0]}, offset {position[1]}")

    def _check_sample(self, audit: TopicAudit, sample: list[tuple[dict, int, int]]) -> None:
        stream, key = self.stream, self.key_column
        query = self.cassandra.prepare(
            f'SELECT * FROM {KEYSPACE}.{stream.table} WHERE "{key.name}" = ? AND "{stream.event_time_field}" = ? '
            "AND event_id = ?"
        )
        as_key = uuid.UUID if key.cql_type in ("uuid", "timeuuid") else str
        for value, p, o in sample:
            event_time = _utc(plain(value[stream.event_time_field]))
            bound = (as_key(str(value[key.name])), event_time, uuid.UUID(str(value["event_id"])))
            result = self.cassandra.session.execute(query, bound, execution_profile=self.tuples)
            row = result.one()
            if row is None:
                continue  # counted as missing or dead letter already
            audit.sample_checked += 1
            if differing := unequal_fields(value, dict(zip(result.column_names, row, strict=True))):
                audit.note("unequal", f"{value['event_id']} (partition {p}, offset {o}): {', '.join(differing)}")


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def reconcile_topics(
    settings: Settings,
    streams: tuple[LogStream, ...],
    since_ms: int | None = None,
    sample_size: int = 20,
    progress: bool = False,
    seed: int | None = None,
) -> list[TopicAudit]:
    spans = [offset_range(settings, s.topic, since_ms) for s in streams]
    if sum(span.records for span in spans) == 0:
        where = f"since {_utc(since_ms):%Y-%m-%d %H:%M:%S} UTC" if since_ms is not None else "at all"
        raise ReconcileError(f"no records in {', '.join(s.topic for s in streams)} {where}: nothing to reconcile")
    decode = WireDecoder(settings.registry_client("admin"))
    rng = random.Random(seed)
    audits = []
    with CassandraConnection.open(settings, retry_s=10) as cassandra, tempfile.TemporaryDirectory() as folder:
        for stream, span in zip(streams, spans, strict=True):
            reconciler = TopicReconciler(settings, cassandra, decode, stream, Path(folder))
            audits.append(reconciler.run(span, sample_size, rng, progress))
    return audits


def format_audits(audits: list[TopicAudit], elapsed_s: float) -> str:
    head = (
        f"{'TOPIC':<20} {'RECORDS':>10} {'DECODABLE':>10} {'ROWS':>10} {'DEAD':>6} "
        f"{'MISSING':>8} {'DOUBLED':>8} {'EXTRA':>6}  SAMPLE"
    )
    lines = [head]
    for a in audits:
        unequal = len(a.examples.get("unequal", []))
        lines.append(
            f"{a.topic:<20} {a.records:>10,} {a.decodable:>10,} {a.rows:>10,} {a.dead_letters:>6,} "
            f"{a.missing:>8,} {a.doubled:>8,} {a.extra:>6,}  {a.sample_checked - unequal}/{a.sample_checked} equal"
        )
    for a in audits:
        if a.canaries:
            lines.append(f"  {a.topic}: {a.canaries:,} doctor canary events left out (the doctor deletes their rows)")
        if a.repeated:
            lines.append(f"  {a.topic}: {a.repeated:,} records repeat an earlier record's event id (one row each)")
        for what in ("missing", "doubled", "extra", "unequal"):
            for example in a.examples.get(what, []):
                lines.append(f"  {a.topic} {what}: {example}")
    records = sum(a.records for a in audits)
    rows = sum(a.rows_read for a in audits)
    rate = records / elapsed_s if elapsed_s > 0 else 0
    lines.append(f"read {records:,} records and {rows:,} rows in {elapsed_s:.1f} s ({rate:,.0f} records/s)")
    verdict = "clean" if all(a.clean for a in audits) else "NOT clean"
    lines.append(f"reconciliation: {verdict}")
    return "\n".join(lines)


def as_json(audits: list[TopicAudit], elapsed_s: float) -> str:
    topics = []
    for a in audits:
        counted = {k: getattr(a, k) for k in ("records", "decodable", "rows", "dead_letters", "missing", "doubled")}
        extras = {k: getattr(a, k) for k in ("extra", "repeated", "canaries", "sample_checked")}
        topics.append({"topic": a.topic, "table": a.table, **counted, **extras, "examples": a.examples})
    return json.dumps({"topics": topics, "elapsed_s": round(elapsed_s, 2), "clean": all(a.clean for a in audits)})


def main(
    settings: Settings, topics: list[str] | None, since: str | None, sample: int, progress: bool, json_out: bool
) -> int:
    streams = select_streams(topics)
    since_ms = parse_since(since, dt.datetime.now(dt.UTC)) if since else None
    started = time.monotonic()
    audits = reconcile_topics(settings, streams, since_ms, sample, progress)
    elapsed = time.monotonic() - started
    print(as_json(audits, elapsed) if json_out else format_audits(audits, elapsed))
    return 0 if all(a.clean for a in audits) else 1
