"""A new optional field registered mid-stream: old and new events land, the new column filled for the new
ones, and the job was not restarted."""

from __future__ import annotations

import copy
import json

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from database.schema import table_columns
from kafka import schema_registry
from kafka.contract import ACTIVITY
from kafka.kafka_producer import LogProducer
from tests.e2e.helpers import rows_for, unique_events, wait_for, wait_until_landed
from tests.e2e.test_pipeline import assert_exactly


def activity_v2() -> str:
    schema = copy.deepcopy(ACTIVITY.schema)
    schema["fields"].append(
        {"name": "referrer", "type": ["null", "string"], "default": None, "doc": "Where the user came from."}
    )
    return json.dumps(schema, separators=(",", ":"))


def test_an_optional_field_added_mid_stream_lands_without_a_restart(pipeline, cassandra) -> None:
    settings = pipeline.settings
    stream_pid = pipeline.supervisor.info("stream")["pid"]
    before = unique_events(sessions=40)
    assert LogProducer(settings).run(before, rate=0, progress=False).all_delivered
    wait_until_landed(cassandra, before)

    registry = SchemaRegistryClient({"url": settings.schema_registry_url})
    v2 = activity_v2()
    schema_registry.register(registry, ACTIVITY, settings.schema_registry_url, 10, schema_str=v2)
    serializer = AvroSerializer(registry, v2, conf={"auto.register.schemas": False})
    ctx = SerializationContext(ACTIVITY.topic, MessageField.VALUE)
    after = unique_events(sessions=40)
    new_activities = [e for e in after if e.stream is ACTIVITY]
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    for i, event in enumerate(new_activities):
        producer.produce(ACTIVITY.topic, key=event.key, value=serializer({**event.value, "referrer": f"ref-{i}"}, ctx))
    assert producer.flush(30) == 0
    old_style = [e for e in after if e.stream is not ACTIVITY]  # sessions and auth still on v1
    assert LogProducer(settings).run(old_style, rate=0, progress=False).all_delivered

    assert_exactly(after, wait_until_landed(cassandra, after))
    assert "referrer" in table_columns(cassandra.session, ACTIVITY.table)
    referrers = {str(r["event_id"]): r["referrer"] for r in rows_for(cassandra, ACTIVITY, new_activities)}
    assert referrers == {e.value["event_id"]: f"ref-{i}" for i, e in enumerate(new_activities)}
    wait_for(lambda: all(r["referrer"] is None for r in rows_for(cassandra, ACTIVITY, before)), 10, "v1 rows")
    assert pipeline.supervisor.info("stream")["pid"] == stream_pid, "no restart for a new optional field"
