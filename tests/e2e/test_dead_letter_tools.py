"""`main.py dead-letters list|show|replay` on the live pipeline, through the command line.

The round trip: auth records written with a schema registered under another subject (a producer that
registered in the wrong place) are dead letters; replayed before the fix, they fail again and are dead
letters again at their new offsets; once the same schema is registered under `user_auth_logs-value` (its
id is the same: same content), a replay turns them into rows, each event once even when replayed twice,
with key, value and headers sent byte for byte. The late schema differs from the contract only by its
`doc`, so the subject's latest version still reads as the contract (Avro's canonical form drops docs).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import struct
import subprocess
import sys
import uuid

import fastavro
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from config.settings import PROJECT_ROOT
from database import dead_letters
from kafka.contract import AUTH
from kafka.kafka_producer import producer_config
from kafka.offsets import topic_end_offsets
from ops.wire import OffsetRange, read_records
from tests.e2e.helpers import as_cassandra, rows_for, unique_events, wait_for

CLI_TIMEOUT_S = 120


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "dead-letters", *args],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def produce_wire(settings, schema_id: int, schema: dict, events, headers) -> tuple[dict, list]:
    """Each event in the Confluent wire format with `schema_id`: event id -> (partition, offset, timestamp),
    and the (key, value, headers) sent."""
    parsed = fastavro.parse_schema(schema)
    producer = Producer(producer_config(settings, settings.kafka_bootstrap_servers))
    landed: dict[str, tuple[int, int, int]] = {}
    sent = []
    for event in events:
        body = io.BytesIO()
        fastavro.schemaless_writer(body, parsed, event.value)
        value = b"\x00" + struct.pack(">I", schema_id) + body.getvalue()

        def delivered(err, msg, event_id=event.value["event_id"]) -> None:
            assert err is None, err
            landed[event_id] = (msg.partition(), msg.offset(), msg.timestamp()[1])

        producer.produce(AUTH.topic, key=event.key.encode(), value=value, headers=headers, on_delivery=delivered)
        sent.append((event.key.encode(), value, headers))
    assert producer.flush(30) == 0
    assert len(landed) == len(events)
    return landed, sent


def dead_letters_with(cassandra, reason: str) -> dict[tuple[int, int], object]:
    """(partition, offset) -> row of today's and yesterday's auth dead letters with this reason."""
    today = dt.datetime.now(dt.UTC).date()
    hours = [(day, hour) for day in (today - dt.timedelta(days=1), today) for hour in dead_letters.HOURS]
    rows = dead_letters.read_hours(cassandra.session, AUTH.topic, hours)
    return {(r.kafka_partition, r.kafka_offset): r for r in rows if r.reason == reason}


def test_a_late_schema_turns_dead_letters_into_rows_by_replay(pipeline, cassandra) -> None:
    settings = pipeline.settings
    run = uuid.uuid4().hex[:10]
    registry = SchemaRegistryClient({"url": settings.schema_registry_url})
    late = {**AUTH.schema, "doc": f"auth log, registered late by test run {run}"}
    late_id = registry.register_schema(f"late-{run}-value", Schema(json.dumps(late), "AVRO"))
    events = [e for e in unique_events(12) if e.stream is AUTH][:8]
    headers = [("trace-id", run.encode()), ("trace-id", b"\x00\xff"), ("origin", b"test")]
    first, originals = produce_wire(settings, late_id, late, events, headers)
    reason = f"schema id {late_id} is not a registered version of {AUTH.subject}"
    wait_for(lambda: len(dead_letters_with(cassandra, reason)) >= len(events), 180, "the records as dead letters")
    assert set(dead_letters_with(cassandra, reason)) == {(p, o) for p, o, _ in first.values()}

    listed = cli("list", "--topic", "auth", "--days", "2", "--reason", reason)
    assert listed.returncode == 0, listed.stderr
    assert f"{len(events):>7,}  {reason}" in listed.stdout

    event_id, (p, o, _) = next(iter(first.items()))
    shown = cli("show", f"{AUTH.topic}:{p}:{o}")
    assert shown.returncode == 0, shown.stderr
    assert f"reason:      {reason}" in shown.stdout and f"schema id:   {late_id}" in shown.stdout
    assert f"trace-id='{run}'" in shown.stdout and "trace-id=0x00ff" in shown.stdout
    assert event_id in shown.stdout.split("decoded now:")[1]  # the registry knows the id: it decodes now

    dry = cli("replay", "--topic", "auth", "--days", "2", "--reason", reason, "--dry-run")
    assert dry.returncode == 0 and f"{len(events)} dead letters selected" in dry.stdout, dry.stdout + dry.stderr
    unconfirmed = cli("replay", "--topic", "auth", "--days", "2", "--reason", reason)
    assert unconfirmed.returncode == 1 and "add --yes" in unconfirmed.stderr
    assert set(dead_letters_with(cassandra, reason)) == {(p, o) for p, o, _ in first.values()}, "nothing replayed"

    # Before the fix: the replayed records fail again, and are dead letters at their new offsets.
    again = cli("replay", "--topic", "auth", "--days", "2", "--reason", reason, "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"replayed {len(events)} records: {len(events)} acknowledged by Kafka, 0 failed" in again.stdout
    old = {(p, o) for p, o, _ in first.values()}
    wait_for(
        lambda: len(set(dead_letters_with(cassandra, reason)) - old) >= len(events), 180, "the replays to fail again"
    )
    assert not set(dead_letters_with(cassandra, reason)) & old, "a replayed dead letter was not removed"

    # The fix, then two replays (the first keeps its dead letters): each event lands once.
    assert registry.register_schema(AUTH.subject, Schema(json.dumps(late), "AVRO")) == late_id
    ends_before = topic_end_offsets(settings.kafka_client("admin"), [AUTH.topic])[AUTH.topic]
    kept = cli("replay", "--topic", "auth", "--days", "2", "--reason", reason, "--yes", "--keep")
    assert kept.returncode == 0 and "(--keep: none removed)" in kept.stdout, kept.stdout + kept.stderr
    replayed = cli("replay", "--topic", "auth", "--days", "2", "--reason", reason, "--yes")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"{len(events)} dead letters removed" in replayed.stdout
    wait_for(lambda: len(rows_for(cassandra, AUTH, events)) >= len(events), 180, "the replayed events as rows")
    rows = rows_for(cassandra, AUTH, events)
    assert sorted(str(r["event_id"]) for r in rows) == sorted(e.value["event_id"] for e in events), "once each"
    by_id = {str(r["event_id"]): r for r in rows}
    for event in events:
        row = by_id[event.value["event_id"]]
        assert {k: row[k] for k in as_cassandra(AUTH, event.value)} == as_cassandra(AUTH, event.value)
    assert not dead_letters_with(cassandra, reason), "dead letters left after the replay"

    # Byte for byte: the records the two replays sent are the originals, twice.
    ends_after = topic_end_offsets(settings.kafka_client("admin"), [AUTH.topic])[AUTH.topic]
    sent = [
        (m.key(), m.value(), m.headers())
        for m in read_records(settings, OffsetRange(AUTH.topic, ends_before, ends_after))
    ]
    assert sorted(sent) == sorted(originals * 2)


def test_dead_letter_commands_refuse_bad_input_with_one_line(pipeline) -> None:
    for args, message in [
        (("show", "user_auth_logs:0"), "is not a record id"),
        (("show", "clicks:0:1"), "unknown topic 'clicks'"),
        (("show", "user_auth_logs:0:999999999"), "no dead letter user_auth_logs:0:999999999"),
        (("list", "--day", "2001-01-01"), "no dead letters in"),
        (("list", "--day", "yesterday"), "give a UTC day"),
        (("replay", "--reason", "no such reason anywhere", "--days", "1"), "no dead letters in"),
    ]:
        done = cli(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert done.stderr.startswith("error: ") and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_replay_kafka_does_not_acknowledge_keeps_every_dead_letter(pipeline, cassandra) -> None:
    settings = pipeline.settings
    run = uuid.uuid4().hex[:10]
    producer = Producer(producer_config(settings, settings.kafka_bootstrap_servers))
    landed = []
    for i in range(3):
        producer.produce(
            AUTH.topic, key=f"{run}-{i}".encode(), value=f"\x09{run} not wire format".encode(),
            on_delivery=lambda err, msg: landed.append((msg.partition(), msg.offset())),
        )  # fmt: skip
    assert producer.flush(30) == 0 and len(landed) == 3
    reason = "bad magic byte 0x09: not Confluent wire format"
    wait_for(lambda: set(landed) <= set(dead_letters_with(cassandra, reason)), 180, "the dead letters")
    ids = [arg for p, o in landed for arg in ("--id", f"{AUTH.topic}:{p}:{o}")]
    unreachable = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "PRODUCER_MESSAGE_TIMEOUT_MS": "3000"}
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "dead-letters", "replay", *ids, "--yes"],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env={**os.environ, **unreachable},
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "replayed 3 records: 0 acknowledged by Kafka, 3 failed; 0 dead letters removed" in done.stdout
    assert set(landed) <= set(dead_letters_with(cassandra, reason)), "a dead letter went without an acknowledgement"
