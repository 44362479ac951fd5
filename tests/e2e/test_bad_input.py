"""Bad records interleaved with good ones: every good event lands, every bad one is a dead letter with its
reason, and the job keeps running. (A record without a required value needs a schema version that allows it:
that case runs on a subject of its own, in test_schema_versions.py.)"""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kafka.contract import AUTH, SESSION
from kafka.kafka_producer import LogProducer
from tests.e2e.helpers import unique_events, wait_for, wait_until_landed
from tests.e2e.test_pipeline import assert_exactly


class RawProducer:
    """Sends arbitrary bytes and remembers where each landed."""

    def __init__(self, client: dict[str, str]) -> None:
        """`client`: a Kafka user's settings (`Settings.kafka_client`)."""
        self.producer = Producer({**client, "acks": "all", "enable.idempotence": True})
        self.landed: dict[str, tuple] = {}

    def send(self, label: str, topic: str, value: bytes) -> None:
        def delivered(err, msg) -> None:
            assert err is None, err
            produced = datetime.fromtimestamp(msg.timestamp()[1] / 1000, UTC)
            self.landed[label] = (msg.topic(), produced.date(), produced.hour, msg.partition(), msg.offset())

        self.producer.produce(topic, key=label.encode(), value=value, on_delivery=delivered)
        assert self.producer.flush(30) == 0


def test_bad_records_go_to_dead_letters_and_the_job_keeps_going(pipeline, cassandra) -> None:
    settings = pipeline.settings
    registry = SchemaRegistryClient({"url": settings.schema_registry_url})
    stream_pid = pipeline.supervisor.info("stream")["pid"]
    events = unique_events(sessions=120)
    auth_event = next(e for e in events if e.stream is AUTH)
    ctx = SerializationContext(AUTH.topic, MessageField.VALUE)
    good_auth = AvroSerializer(registry, AUTH.schema_str, conf={"auto.register.schemas": False})(auth_event.value, ctx)

    bad_uuid_serializer = AvroSerializer(registry, AUTH.schema_str, conf={"auto.register.schemas": False})

    unknown_id = b"\x00" + struct.pack(">I", 987_654) + good_auth[5:]
    bad_uuid = bad_uuid_serializer({**auth_event.value, "event_id": "not-a-uuid"}, ctx)
    bad = {
        "not avro": (AUTH.topic, b"this is plain text, not avro", "bad magic byte 0x74"),
        "wrong magic": (AUTH.topic, b"\x01" + good_auth[1:], "bad magic byte 0x01"),
        "unknown id": (AUTH.topic, unknown_id, "schema id 987654 is not a registered version"),
        "truncated": (AUTH.topic, good_auth[: len(good_auth) // 2], "corrupt Avro payload"),
        "empty": (SESSION.topic, b"", "shorter than the 5-byte wire-format header"),
        "bad uuid": (AUTH.topic, bad_uuid, "not a uuid: event_id"),
    }  # fmt: skip
    raw = RawProducer(settings.kafka_client("producer"))
    producer = LogProducer(settings)
    chunk = len(events) // (len(bad) + 1) + 1
    for i, (label, (topic, value, _)) in enumerate(bad.items()):
        producer.tally = type(producer.tally)()
        assert producer.run(events[i * chunk : (i + 1) * chunk], rate=0, progress=False).all_delivered
        raw.send(label, topic, value)
    assert producer.run(events[len(bad) * chunk :], rate=0, progress=False).all_delivered

    assert_exactly(events, wait_until_landed(cassandra, events))
    lookup = cassandra.prepare(
        "SELECT reason, raw_value, raw_key, schema_id FROM user_logs.dead_letters "
        "WHERE topic = ? AND day = ? AND hour = ? AND kafka_partition = ? AND kafka_offset = ?"
    )
    dead = {}
    wait_for(
        lambda: dead.update({label: cassandra.session.execute(lookup, raw.landed[label]).one() for label in bad})
        or all(dead.values()),
        120,
        "every bad record in dead_letters",
    )
    for label, (_, value, reason) in bad.items():
        row = dead[label]
        assert reason in row.reason, (label, row.reason)
        assert bytes(row.raw_value or b"") == value and bytes(row.raw_key) == label.encode()
    assert pipeline.supervisor.info("stream")["pid"] == stream_pid, "the job must not stop for bad records"
    status = json.loads((pipeline.paths.run / "stream-status.json").read_text())
    assert {q["state"] for q in status["queries"].values()} == {"running"}
