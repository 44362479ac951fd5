"""`main.py reconcile` on the live pipeline: clean after a run (dead letters counted as such), and each kind
of damage found when made on purpose: a row deleted is missing, a second row for an event is doubled, a row
claiming an offset of the range for an event no record has is extra. One-line refusals of bad input."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid

from config.settings import PROJECT_ROOT
from kafka.contract import AUTH
from kafka.kafka_producer import LogProducer
from tests.e2e.helpers import rows_for, unique_events, wait_for, wait_until_landed
from tests.e2e.test_bad_input import RawProducer


def reconcile(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "reconcile", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def audit(done: subprocess.CompletedProcess, topic: str) -> dict:
    return next(t for t in json.loads(done.stdout)["topics"] if t["topic"] == topic)


def test_a_clean_run_then_each_kind_of_damage_on_purpose(pipeline, cassandra) -> None:
    settings = pipeline.settings
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
    events = unique_events(60)
    tally = LogProducer(settings).run(events, progress=False)
    assert tally.all_delivered
    raw = RawProducer(settings.kafka_client("producer"))
    raw.send("garbage", AUTH.topic, b"\x07 not the wire format")
    wait_until_landed(cassandra, events)
    auth_events = [e for e in events if e.stream is AUTH]
    wait_for(lambda: "1 records" in dead_letter_count(cassandra, raw.landed["garbage"]), 120, "the dead letter")

    clean = reconcile("--since", since, "--topic", "auth", "--sample", "50")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "reconciliation: clean" in clean.stdout and "50/50 equal" in clean.stdout
    found = audit(reconcile("--since", since, "--topic", "auth", "--json"), AUTH.topic)
    n = len(auth_events)
    assert {k: found[k] for k in ("records", "decodable", "rows", "dead_letters", "missing", "doubled", "extra")} == {
        "records": n + 1, "decodable": n, "rows": n, "dead_letters": 1, "missing": 0, "doubled": 0, "extra": 0,
    }, found  # fmt: skip

    # Damage: one row gone, one event with a second row (another time), one row no record has.
    rows = sorted(rows_for(cassandra, AUTH, auth_events), key=lambda r: str(r["event_id"]))
    gone, twice = rows[0], rows[1]
    table = "user_logs.auth_logs"
    cassandra.session.execute(
        f"DELETE FROM {table} WHERE user_id = %s AND timestamp = %s AND event_id = %s",
        (gone["user_id"], gone["timestamp"], gone["event_id"]),
    )
    columns = "user_id, timestamp, event_id, kafka_partition, kafka_offset"
    insert = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s)"
    lineage = (twice["kafka_partition"], twice["kafka_offset"])
    later = twice["timestamp"] + dt.timedelta(milliseconds=1)
    cassandra.session.execute(insert, (twice["user_id"], later, twice["event_id"], *lineage))
    stranger = uuid.uuid4()
    cassandra.session.execute(insert, (twice["user_id"], twice["timestamp"], stranger, *lineage))
    damaged = reconcile("--since", since, "--topic", "user_auth_logs")
    assert damaged.returncode == 1, damaged.stdout + damaged.stderr
    found = audit(reconcile("--since", since, "--topic", "user_auth_logs", "--json"), AUTH.topic)
    assert (found["missing"], found["doubled"], found["extra"]) == (1, 1, 1), found
    assert f"user_auth_logs missing: {gone['event_id']}" in damaged.stdout
    assert f"user_auth_logs doubled: {twice['event_id']} (2 rows)" in damaged.stdout
    assert f"user_auth_logs extra: {stranger}" in damaged.stdout
    assert damaged.stdout.rstrip().endswith("reconciliation: NOT clean")


def dead_letter_count(cassandra, landed: tuple) -> str:
    topic, day, hour, partition, offset = landed
    rows = cassandra.session.execute(
        "SELECT reason FROM user_logs.dead_letters WHERE topic = %s AND day = %s AND hour = %s "
        "AND kafka_partition = %s AND kafka_offset = %s",
        (topic, day, hour, partition, offset),
    ).all()
    return f"{len(rows)} records"


def test_reconcile_refuses_bad_input_and_an_empty_range_with_one_line(pipeline) -> None:
    for args, message in [
        (("--since", "yesterday"), "give an age such as 30m"),
        (("--topic", "clicks"), "unknown topic 'clicks'"),
        (("--since", "2099-01-01"), "nothing to reconcile"),
    ]:
        done = reconcile(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert done.stderr.startswith("error: ") and message in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    unreachable = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "reconcile", "--since", "1h"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
    )  # fmt: skip
    assert unreachable.returncode == 1 and "error: Kafka at 127.0.0.1:1 did not answer" in unreachable.stderr
