"""The job's pure transforms on a local SparkSession, with payloads encoded by fastavro."""

from __future__ import annotations

import copy
import io
import json
import struct
from datetime import UTC, datetime

import fastavro
import pytest
from pyspark.sql import Row
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)
from pyspark.testing import assertDataFrameEqual

from kafka.contract import ACTIVITY, SESSION
from kafka.logs_generators import LogGenerator
from spark import transforms
from spark.observed import Observer
from spark.spark_streaming import batch_metrics, unlisted_ids

KAFKA_SCHEMA = StructType(
    [
        StructField("key", BinaryType()),
        StructField("value", BinaryType()),
        StructField("topic", StringType()),
        StructField("partition", IntegerType()),
        StructField("offset", LongType()),
        StructField("timestamp", TimestampType()),
        StructField(
            "headers", ArrayType(StructType([StructField("key", StringType()), StructField("value", BinaryType())]))
        ),
    ]
)
PRODUCED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
END_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def avro(schema: dict, record: dict) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def wire(schema_id: int, payload: bytes, magic: bytes = b"\x00") -> bytes:
    return magic + struct.pack(">I", schema_id) + payload


def kafka_rows(spark, values: list[bytes | None], topic: str = SESSION.topic, headers=None):
    produced = PRODUCED.replace(tzinfo=None)
    rows = [(b"k", v, topic, 0, offset, produced, headers) for offset, v in enumerate(values)]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


def session_events(n: int) -> list[dict]:
    generator = LogGenerator(seed=11)
    out: list[dict] = []
    i = 0
    while len(out) < n:
        out += [e.value for e in generator.session(END_MS + i) if e.stream is SESSION]
        i += 1
    return out[:n]


def nullable_os_schema() -> dict:
    """A BACKWARD-compatible later version in which `os` became optional."""
    schema = copy.deepcopy(SESSION.schema)
    for field in schema["fields"]:
        if field["name"] == "os":
            field["type"], field["default"] = ["null", "string"], None
    return schema


def test_frame_splits_the_wire_format_and_flags_what_is_not(spark) -> None:
    payload = avro(SESSION.schema, session_events(1)[0])
    framed = transforms.frame(kafka_rows(spark, [wire(7, payload), wire(7, payload, magic=b"\x01"), b"\x00\x00", None]))
    rows = framed.orderBy("kafka_offset").collect()
    assert (rows[0].schema_id, bytes(rows[0].payload), rows[0].error) == (7, payload, None)
    assert rows[1].error == "bad magic byte 0x01: not Confluent wire format" and rows[1].schema_id is None
    assert rows[2].error.startswith("record of 2 bytes")
    assert rows[3].error.startswith("null value")
    assert rows[0].kafka_offset == 0 and rows[0].produced_at == PRODUCED.replace(tzinfo=None)


def checked(spark, values, writers, reader, rejected=None, stream=SESSION):
    decoded = transforms.decode(transforms.frame(kafka_rows(spark, values, stream.topic)), writers, json.dumps(reader))
    return transforms.check_decoded(decoded, stream, writers, rejected or {})


def test_good_records_flatten_to_the_table_columns_with_lineage(spark) -> None:
    events = session_events(3)
    schema_text = json.dumps(SESSION.schema)
    result = checked(spark, [wire(1, avro(SESSION.schema, e)) for e in events], {1: schema_text}, SESSION.schema)
    rows = transforms.table_rows(result, SESSION, SESSION.field_names)
    assert rows.columns == [*SESSION.field_names, "event_day", "kafka_partition", "kafka_offset", "produced_at"]
    expected = [
        Row(
            **{
                **e,
                "login_time": datetime.fromtimestamp(e["login_time"] / 1000, UTC).replace(tzinfo=None),
                "logout_time": datetime.fromtimestamp(e["logout_time"] / 1000, UTC).replace(tzinfo=None),
            },
            event_day=datetime.fromtimestamp(e["login_time"] / 1000, UTC).date(),
            kafka_partition=0,
            kafka_offset=i,
            produced_at=PRODUCED.replace(tzinfo=None),
        )
        for i, e in enumerate(events)
    ]
    assertDataFrameEqual(rows, expected)
    assert transforms.dead_letter_rows(result).count() == 0


def test_each_bad_record_gets_its_reason(spark) -> None:
    event = session_events(1)[0]
    good = avro(SESSION.schema, event)
    v2 = nullable_os_schema()
    bad_uuid = {**event, "event_id": "not-a-uuid"}
    values = [
        wire(1, good),
        wire(99, good),  # an id this subject does not have
        wire(3, good),  # an id rejected before decoding
        wire(1, good[: len(good) // 2]),  # truncated
        wire(2, avro(v2, {**event, "os": None})),  # a later version let a required value be null
        wire(1, avro(SESSION.schema, bad_uuid)),
        b"plain text, not avro",
    ]
    writers = {1: json.dumps(SESSION.schema), 2: json.dumps(v2)}
    result = checked(spark, values, writers, v2, rejected={3: "schema id 3 is x.Other, not the session record"})
    reasons = {r.kafka_offset: r.reason for r in transforms.dead_letter_rows(result).collect()}
    assert reasons.keys() == {1, 2, 3, 4, 5, 6}
    assert reasons[1] == f"schema id 99 is not a registered version of {SESSION.subject}"
    assert reasons[2] == "schema id 3 is x.Other, not the session record"
    assert reasons[3] == "corrupt Avro payload: does not decode with writer schema id 1"
    assert reasons[4] == "required value missing: os"
    assert reasons[5] == "not a uuid: event_id"
    assert reasons[6].startswith("bad magic byte 0x70")
    assert [r.kafka_offset for r in transforms.table_rows(result, SESSION, SESSION.field_names).collect()] == [0]


def test_dead_letters_keep_raw_bytes_and_a_replay_stable_key(spark) -> None:
    value = b"\x07garbage"
    headers = [("trace", b"\x01\x02"), ("trace", b"\x03"), ("empty", None)]
    dead = transforms.dead_letter_rows(transforms.frame(kafka_rows(spark, [value], headers=headers))).collect()[0]
    key = (dead.topic, dead.day, dead.hour, dead.kafka_partition, dead.kafka_offset)
    assert key == (SESSION.topic, PRODUCED.date(), PRODUCED.hour, 0, 0)
    assert bytes(dead.raw_value) == value and bytes(dead.raw_key) == b"k" and dead.failed_at is not None
    # In order, repeated keys kept; a header without a value keeps its key with an empty value.
    assert dead.header_keys == ["trace", "trace", "empty"]
    assert [bytes(v) for v in dead.header_values] == [b"\x01\x02", b"\x03", b""]


def test_an_optional_field_added_later_is_null_for_old_records_and_set_for_new(spark) -> None:
    v2 = copy.deepcopy(ACTIVITY.schema)
    v2["fields"].append({"name": "referrer", "type": ["null", "string"], "default": None})
    generator = LogGenerator(seed=5)
    activities = [e.value for e in generator.session(END_MS) + generator.session(END_MS + 1) if e.stream is ACTIVITY][
        :2
    ]
    values = [
        wire(1, avro(ACTIVITY.schema, activities[0])),
        wire(2, avro(v2, {**activities[1], "referrer": "news.example"})),
    ]
    writers = {1: json.dumps(ACTIVITY.schema), 2: json.dumps(v2)}
    result = checked(spark, values, writers, v2, stream=ACTIVITY)
    names = [f["name"] for f in v2["fields"]]
    rows = transforms.table_rows(result, ACTIVITY, names).orderBy("kafka_offset").collect()
    assert [r.referrer for r in rows] == [None, "news.example"]
    assert [r.event_id for r in rows] == [a["event_id"] for a in activities]


@pytest.mark.parametrize("n", [0, 1])
def test_a_batch_without_decodable_ids_still_has_the_reader_shape(spark, n) -> None:
    values = [wire(5, b"\x00")] * n
    result = checked(spark, values, {}, SESSION.schema)
    assert transforms.table_rows(result, SESSION, SESSION.field_names).count() == 0
    assert transforms.dead_letter_rows(result).count() == n


def test_the_batch_metrics_the_job_observes_reach_python_as_values(spark) -> None:
    """What the writer reads after a write: row and dead-letter counts, the newest timestamp written, and the
    schema ids outside the subject's listed versions (which it asks the registry about)."""
    good = avro(SESSION.schema, session_events(1)[0])
    values = [wire(1, good), wire(99, good), wire(77, good), wire(99, good), b"not avro"]
    writers = {1: json.dumps(SESSION.schema)}
    result = checked(spark, values, writers, SESSION.schema)
    observed, outcome = Observer(spark).observe(result, "metrics", batch_metrics((1,)))
    observed.count()
    metrics = outcome.values()
    assert (metrics["rows"], metrics["bad"]) == (5, 4)
    assert metrics["newest_ms"] == int(PRODUCED.timestamp() * 1000)
    assert unlisted_ids(metrics) == [77, 99]
