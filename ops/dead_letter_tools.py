"""`python3 main.py dead-letters list|show|replay`: what got rejected, and putting it back.

- `list`: dead letters by topic, day and reason over the last `--days` (or one `--day`), and the newest rows.
- `show TOPIC:PARTITION:OFFSET`: one dead letter: reason, schema id, key, headers, a hex and decoded preview.
- `replay`: re-produces the selected records' raw key, value and headers, byte for byte (so each keeps its
  schema id), to their topic, after a fix such as a schema registered late. A dry run lists what it would send;
  on a terminal it asks first. A dead letter is deleted only once Kafka acknowledged its record (acks=all,
  idempotent producer), and every record is accounted for. Replaying twice writes each event once (event ids
  are in the tables' primary keys); a record that fails again is a dead letter again, at its new offset,
  with the reason of this attempt.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from cassandra.concurrent import execute_concurrent_with_args
from confluent_kafka import KafkaError, Producer

from config.settings import Settings
from database import dead_letters
from database.cassandra_connection import CassandraConnection
from database.schema import KEYSPACE
from kafka.contract import LogStream
from kafka.kafka_producer import producer_config
from ops.args import parse_day, parse_record_id, select_streams
from ops.errors import OperatorError
from ops.wire import WireDecoder, schema_id_of

DEFAULT_DAYS = 7
RETENTION_DAYS = 30  # the table's default TTL: no dead letter is older
NEWEST_SHOWN = 10
PREVIEW_BYTES = 64
FLUSH_TIMEOUT_S = 60


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    day: dt.date
    hour: int
    partition: int
    offset: int
    reason: str
    schema_id: int | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    produced_at: dt.datetime | None
    failed_at: dt.datetime | None

    @property
    def record_id(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @classmethod
    def from_row(cls, row) -> DeadLetter:
        keys, values = row.header_keys or [], row.header_values or []
        return cls(
            row.topic, row.day, row.hour, row.kafka_partition, row.kafka_offset, row.reason, row.schema_id,
            row.raw_key, row.raw_value, list(zip(keys, values, strict=True)), row.produced_at, row.failed_at,
        )  # fmt: skip


def days_back(days: int, today: dt.date) -> list[dt.date]:
    if days < 1:
        raise OperatorError(f"--days {days}: give at least 1")
    return [today - dt.timedelta(days=n) for n in range(days)]


def read(session, streams: Iterable[LogStream], days: list[dt.date]) -> list[DeadLetter]:
    hours = [(day, hour) for day in days for hour in dead_letters.HOURS]
    return [DeadLetter.from_row(row) for s in streams for row in dead_letters.read_hours(session, s.topic, hours)]


def matching(letters: list[DeadLetter], reason: str | None) -> list[DeadLetter]:
    """Dead letters whose reason contains `reason` (case-insensitive); all without it."""
    if not reason:
        return letters
    return [d for d in letters if reason.lower() in d.reason.lower()]


def nothing_found(streams, days: list[dt.date], reason: str | None, seen: list[DeadLetter]) -> OperatorError:
    where = f"{', '.join(s.topic for s in streams)} from {min(days)} to {max(days)} (UTC)"
    if reason and seen:
        reasons = "; ".join(r for r, _ in Counter(d.reason for d in seen).most_common(5))
        return OperatorError(
            f"no dead letters in {where} with a reason containing {reason!r}; reasons there: {reasons}"
        )
    return OperatorError(f"no dead letters in {where}")


def format_list(letters: list[DeadLetter]) -> str:
    counts = Counter((d.topic, d.day, d.reason) for d in letters)
    lines = [f"{'TOPIC':<20} {'DAY':<10} {'COUNT':>7}  REASON"]
    for (topic, day, reason), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[1])):
        lines.append(f"{topic:<20} {day!s:<10} {n:>7,}  {reason}")
    newest = sorted(letters, key=lambda d: d.failed_at or dt.datetime.min, reverse=True)[:NEWEST_SHOWN]
    lines += ["", f"newest {len(newest)} of {len(letters):,} (`dead-letters show ID` for one):"]
    lines.append(f"{'FAILED AT (UTC)':<19}  {'ID':<28} REASON")
    for d in newest:
        failed = f"{d.failed_at:%Y-%m-%d %H:%M:%S}" if d.failed_at else "-"
        lines.append(f"{failed:<19}  {d.record_id:<28} {d.reason}")
    return "\n".join(lines)


def hex_preview(data: bytes, limit: int = PREVIEW_BYTES) -> list[str]:
    """`hexdump -C`-like lines of the first `limit` bytes."""
    lines = []
    for start in range(0, min(len(data), limit), 16):
        chunk = data[start : start + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{start:08x}  {chunk.hex(' '):<47}  |{text}|")
    if len(data) > limit:
        lines.append(f"... {len(data) - limit:,} more bytes")
    return lines


def printable(data: bytes | None) -> str:
    if data is None:
        return "null"
    try:
        return f"{data.decode('utf-8')!r} ({len(data)} bytes)"
    except UnicodeDecodeError:
        return f"0x{data.hex()} ({len(data)} bytes)"


def decoded_preview(decode: WireDecoder, value: bytes | None) -> str:
    """What the value decodes to now, or why it does not."""
    schema_id = schema_id_of(value)
    if schema_id is None:
        return "not in the Confluent wire format"
    if decode.schema(schema_id) is None:
        return f"schema id {schema_id} is not in the registry"
    decoded = decode(value)
    if decoded is None:
        return f"does not decode with schema id {schema_id}"
    return json.dumps(decoded, default=str, sort_keys=True)


def format_show(letter: DeadLetter, decode: WireDecoder) -> str:
    lines = [
        f"dead letter {letter.record_id}",
        f"  reason:      {letter.reason}",
        f"  produced at: {letter.produced_at} UTC (Kafka timestamp); failed at {letter.failed_at} UTC",
        f"  schema id:   {letter.schema_id if letter.schema_id is not None else '-'}",
        f"  key:         {printable(letter.key)}",
        f"  headers:     {', '.join(f'{k}={printable(v)}' for k, v in letter.headers) or 'none'}",
        f"  value:       {len(letter.value) if letter.value is not None else 'null'} bytes",
        *(f"    {line}" for line in hex_preview(letter.value or b"")),
        f"  decoded now: {decoded_preview(decode, letter.value)}",
    ]
    return "\n".join(lines)


def find(session, stream: LogStream, partition: int, offset: int, today: dt.date) -> DeadLetter:
    """One dead letter by its record's position: its day and hour are unknown, so every hour the table can
    still hold is asked (point reads, concurrently)."""
    query = session.prepare(
        f"SELECT * FROM {KEYSPACE}.{dead_letters.TABLE} WHERE topic = ? AND day = ? AND hour = ? "
        "AND kafka_partition = ? AND kafka_offset = ?"
    )
    days = days_back(RETENTION_DAYS + 1, today)
    arguments = [(stream.topic, day, hour, partition, offset) for day in days for hour in dead_letters.HOURS]
    for ok, result in execute_concurrent_with_args(session, query, arguments, concurrency=64):
        if not ok:
            raise result
        row = result.one()
        if row is not None:
            return DeadLetter.from_row(row)
    raise OperatorError(f"no dead letter {stream.topic}:{partition}:{offset} (`dead-letters list` shows the ids)")


@dataclass
class ReplayOutcome:
    selected: int = 0
    acknowledged: int = 0
    failed: int = 0
    removed: int = 0
    errors: Counter = field(default_factory=Counter)  # error text -> records that failed with it


def replay(settings: Settings, session, letters: list[DeadLetter], keep: bool) -> ReplayOutcome:
    """Produce each dead letter's record again; delete the dead letters Kafka acknowledged (unless `keep`)."""
    outcome = ReplayOutcome(selected=len(letters))
    acked: list[DeadLetter] = []

    def delivered(letter: DeadLetter):
        def callback(err: KafkaError | None, _msg) -> None:
            if err is None:
                acked.append(letter)
            else:
                outcome.failed += 1
                outcome.errors[str(err)] += 1

        return callback

    producer = Producer(
        {**producer_config(settings, settings.kafka_bootstrap_servers), "client.id": "dead-letter-replay"}
    )
    for letter in letters:
        while True:
            try:
                producer.produce(
                    letter.topic, value=letter.value, key=letter.key, headers=letter.headers or None,
                    on_delivery=delivered(letter),
                )  # fmt: skip
                break
            except BufferError:
                producer.poll(0.5)
        producer.poll(0)
    pending = producer.flush(FLUSH_TIMEOUT_S)
    if pending:
        outcome.failed += pending
        outcome.errors[f"not acknowledged within {FLUSH_TIMEOUT_S} s (Kafka down?)"] += pending
    outcome.acknowledged = len(acked)
    if not keep and acked:
        delete = session.prepare(
            f"DELETE FROM {KEYSPACE}.{dead_letters.TABLE} WHERE topic = ? AND day = ? AND hour = ? "
            "AND kafka_partition = ? AND kafka_offset = ?"
        )
        arguments = [(d.topic, d.day, d.hour, d.partition, d.offset) for d in acked]
        for ok, result in execute_concurrent_with_args(session, delete, arguments, concurrency=32):
            if not ok:
                raise result
        outcome.removed = len(acked)
    return outcome


def format_outcome(outcome: ReplayOutcome, keep: bool) -> str:
    lines = [
        f"replayed {outcome.selected:,} records: {outcome.acknowledged:,} acknowledged by Kafka, "
        f"{outcome.failed:,} failed; {outcome.removed:,} dead letters removed"
        + (" (--keep: none removed)" if keep else "")
    ]
    lines += [f"  failed: {n:,} x {error} (their dead letters are kept)" for error, n in outcome.errors.items()]
    if outcome.acknowledged:
        lines.append(
            "the job decodes them like any record: `status` shows them written; a record that fails again is a "
            "dead letter again with its new reason"
        )
    return "\n".join(lines)


def confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise OperatorError("not a terminal, so no prompt: add --yes to replay (or --dry-run to look first)")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def main(settings: Settings, args) -> int:
    today = dt.datetime.now(dt.UTC).date()
    with CassandraConnection.open(settings, retry_s=10) as cassandra:
        session = cassandra.session
        if args.action == "show":
            stream, partition, offset = parse_record_id(args.record_id)
            letter = find(session, stream, partition, offset, today)
            print(format_show(letter, WireDecoder(settings.registry_client("admin"))))
            return 0
        if args.ids:
            positions = [parse_record_id(i) for i in args.ids]
            letters = [find(session, s, p, o, today) for s, p, o in positions]
            streams, days = tuple(dict.fromkeys(s for s, _, _ in positions)), [d.day for d in letters]
        else:
            streams = select_streams(args.topic)
            days = [parse_day(args.day)] if args.day else days_back(args.days, today)
            seen = read(session, streams, days)
            letters = matching(seen, args.reason)
            if not letters:
                raise nothing_found(streams, days, args.reason, seen)
        if args.action == "list":
            print(format_list(letters))
            return 0
        by_reason = Counter((d.topic, d.reason) for d in letters)
        print(f"{len(letters):,} dead letters selected:")
        for (topic, reason), n in by_reason.most_common():
            print(f"  {n:>7,}  {topic}  {reason}")
        if args.dry_run:
            print("dry run: nothing sent, nothing removed")
            return 0
        if not confirm(f"replay {len(letters):,} records to {', '.join(s.topic for s in streams)}?", args.yes):
            print("nothing replayed")
            return 1
        outcome = replay(settings, session, letters, args.keep)
        print(format_outcome(outcome, args.keep))
        return 0 if outcome.failed == 0 else 1
