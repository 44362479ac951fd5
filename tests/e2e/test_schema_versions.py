"""Schema versions on subjects of the tests' own (never the pipeline's): the job's own batch writer, run by
spark-submit on the real cluster (tests/e2e/spark_jobs/batch_writer.py), reads a test topic with the newest
registered version and writes into a keyspace of the test's own.

- v1 records, then v2 (an optional field) and v3 (a field with a default) registered mid-run: every record of
  all three versions decodes with the newest reader and lands, old rows get the defaults, the new columns are
  added, nothing is a dead letter, and the writer was never restarted.
- A version that relaxes a required field lets a producer send a record without it: that record is a dead
  letter with its reason, the others land.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import queue
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from database import dead_letters
from database.schema import KEYSPACE, render_setup, table_columns
from kafka import schema_registry
from kafka.contract import ACTIVITY, SESSION, LogStream
from tests.e2e.helpers import rows_for, unique_events
from tests.integration.helpers import create_topic, spark_submit_command, spark_submit_env

BATCH_WRITER = Path(__file__).parent / "spark_jobs" / "batch_writer.py"


class BatchWriterJob:
    """The spark-submit of batch_writer.py, driven one batch at a time; every wait is bounded."""

    def __init__(self, settings, stream: LogStream, keyspace: str, control: Path) -> None:
        self.control = control
        args = (stream.name, stream.topic, keyspace, str(control))
        self.process = subprocess.Popen(
            spark_submit_command(settings, BATCH_WRITER, *args, cores=1),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=spark_submit_env(),
        )  # fmt: skip
        self.batches = 0
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self._expect("READY", 240)

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line.strip())
        self.lines.put("EOF")

    def _expect(self, prefix: str, timeout_s: float) -> str:
        try:
            while True:
                line = self.lines.get(timeout=timeout_s)
                if line.startswith(prefix):
                    return line
                if line == "EOF":
                    break
        except queue.Empty:
            pass
        tail = "".join(self.output[-40:])
        raise AssertionError(f"batch_writer.py gave no {prefix!r} within {timeout_s:.0f} s; its output:\n{tail}")

    def batch(self) -> tuple[int, int]:
        """Rows written and dead letters of one more batch over the whole topic."""
        (self.control / f"batch-{self.batches}").touch()
        _, batch_id, written, dead = self._expect("BATCH", 180).split()
        assert int(batch_id) == self.batches
        self.batches += 1
        return int(written), int(dead)

    def close(self) -> None:
        (self.control / "quit").touch()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def keyspace(pipeline, cassandra):
    """The pipeline's tables in a keyspace of the test's own."""
    name = f"versions_{uuid.uuid4().hex[:10]}"
    for statement in render_setup(pipeline.settings):
        cassandra.session.execute(statement.replace(KEYSPACE, name), timeout=60)
    yield name
    cassandra.session.execute(f"DROP KEYSPACE {name}", timeout=120)


def own_stream(settings, stream: LogStream) -> LogStream:
    topic = f"versions_{stream.name}_{uuid.uuid4().hex[:10]}"
    create_topic(settings, topic, partitions=2)
    return dataclasses.replace(stream, contract_topic=topic)


def with_fields(stream: LogStream, *fields: dict) -> str:
    schema = copy.deepcopy(stream.schema)
    schema["fields"] += list(fields)
    return json.dumps(schema, separators=(",", ":"))


def produce(settings, registry, stream: LogStream, schema_str: str, values: list[dict]) -> None:
    serialize = AvroSerializer(registry, schema_str, conf={"auto.register.schemas": False})
    ctx = SerializationContext(stream.topic, MessageField.VALUE)
    producer = Producer({**settings.kafka_client("admin"), "acks": "all"})
    failed: list = []
    for value in values:
        producer.produce(
            stream.topic, key=value["user_id"], value=serialize(value, ctx),
            on_delivery=lambda err, _msg: err and failed.append(err),
        )  # fmt: skip
    assert producer.flush(30) == 0 and not failed, failed


def dead_letters_of(cassandra, stream: LogStream, keyspace: str) -> list:
    today = dt.datetime.now(dt.UTC).date()
    days = (today - dt.timedelta(days=1), today)
    return [r for day in days for r in dead_letters.read_day(cassandra.session, stream.topic, day, "*", keyspace)]


def test_records_of_three_versions_all_decode_with_the_newest(pipeline, cassandra, keyspace, tmp_path) -> None:
    settings = pipeline.settings
    stream = own_stream(settings, ACTIVITY)
    registry = SchemaRegistryClient({"url": settings.schema_registry_url})
    url = settings.schema_registry_url
    v1 = stream.schema_str
    v2 = with_fields(stream, {"name": "referrer", "type": ["null", "string"], "default": None})
    v3 = with_fields(
        stream,
        {"name": "referrer", "type": ["null", "string"], "default": None},
        {"name": "campaign", "type": "string", "default": "organic"},
    )
    events = [e for e in unique_events(sessions=30) if e.stream is ACTIVITY]
    first, second, third = events[0::3], events[1::3], events[2::3]

    schema_registry.register(registry, stream, url, 10, schema_str=v1)
    job = BatchWriterJob(settings, stream, keyspace, tmp_path)
    try:
        produce(settings, registry, stream, v1, [e.value for e in first])
        assert job.batch() == (len(first), 0)

        schema_registry.register(registry, stream, url, 10, schema_str=v2)
        produce(settings, registry, stream, v2, [{**e.value, "referrer": f"ref-{i}"} for i, e in enumerate(second)])
        assert job.batch() == (len(first) + len(second), 0)

        schema_registry.register(registry, stream, url, 10, schema_str=v3)
        produce(settings, registry, stream, v3, [{**e.value, "referrer": "r3", "campaign": "spring"} for e in third])
        assert job.batch() == (len(events), 0), "every record of v1, v2 and v3 decodes with v3 as the reader"
        assert job.process.poll() is None, "one writer throughout, as in the running job"
    finally:
        job.close()

    assert registry.get_compatibility(stream.subject) == schema_registry.COMPATIBILITY
    assert {"referrer", "campaign"} <= set(table_columns(cassandra.session, stream.table, keyspace))
    rows = {str(r["event_id"]): r for r in rows_for(cassandra, stream, events, keyspace)}
    assert set(rows) == {e.value["event_id"] for e in events}
    for version, group, referrer, campaign in (
        (1, first, lambda i: None, "organic"),
        (2, second, lambda i: f"ref-{i}", "organic"),
        (3, third, lambda i: "r3", "spring"),
    ):
        got = [(rows[e.value["event_id"]]["referrer"], rows[e.value["event_id"]]["campaign"]) for e in group]
        assert got == [(referrer(i), campaign) for i in range(len(group))], f"v{version} rows"
    assert dead_letters_of(cassandra, stream, keyspace) == []


def test_a_record_without_a_required_value_is_a_dead_letter(pipeline, cassandra, keyspace, tmp_path) -> None:
    settings = pipeline.settings
    stream = own_stream(settings, SESSION)
    registry = SchemaRegistryClient({"url": settings.schema_registry_url})
    relaxed = copy.deepcopy(stream.schema)
    for field in relaxed["fields"]:
        if field["name"] == "os":  # the contract requires it; this later version lets a producer leave it out
            field["type"], field["default"] = ["null", "string"], None
    relaxed_str = json.dumps(relaxed, separators=(",", ":"))
    sessions = [e for e in unique_events(sessions=6) if e.stream is SESSION]
    good, without_os = sessions[:-1], sessions[-1]

    schema_registry.register(registry, stream, settings.schema_registry_url, 10)
    schema_registry.register(registry, stream, settings.schema_registry_url, 10, schema_str=relaxed_str)
    produce(settings, registry, stream, relaxed_str, [e.value for e in good] + [{**without_os.value, "os": None}])
    job = BatchWriterJob(settings, stream, keyspace, tmp_path)
    try:
        assert job.batch() == (len(good), 1)
    finally:
        job.close()

    landed = {str(r["event_id"]) for r in rows_for(cassandra, stream, sessions, keyspace)}
    assert landed == {e.value["event_id"] for e in good}
    dead = dead_letters_of(cassandra, stream, keyspace)
    assert [(r.reason, bytes(r.raw_key)) for r in dead] == [
        ("required value missing: os", without_os.value["user_id"].encode())
    ]
