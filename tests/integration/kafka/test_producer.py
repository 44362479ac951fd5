"""The producer against local mode's real Kafka and registry, checked by an independent consumer."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kafka import schema_registry
from kafka.contract import AUTH, SESSION, STREAMS, LogStream
from kafka.kafka_producer import LogProducer
from kafka.logs_generators import LogGenerator
from kafka.topics import create_topics, topics_as_configured
from kafka.wire_encoder import WireEncoder
from local.kafka_tools import bin_dir

ROOT = Path(__file__).resolve().parents[3]
START_MS = 1_767_225_600_000


@pytest.fixture(scope="module")
def topics(settings) -> None:
    """The three pipeline topics, created by kafka/create_topics.sh (idempotent, so shared by all tests)."""
    create_topics(settings, tools=bin_dir())


def end_offsets(settings, topic: str) -> dict[int, int]:
    consumer = Consumer({**settings.kafka_client("admin"), "group.id": "offsets-probe"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    finally:
        consumer.close()


def read_range(settings, stream: LogStream, start: dict[int, int], end: dict[int, int]) -> list[tuple[str, dict]]:
    """Every record of `stream` between two offset snapshots, decoded by an independent AvroDeserializer."""
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": settings.schema_registry_url}))
    consumer = Consumer(
        {
            **settings.kafka_client("admin"),
            "group.id": f"verify-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    wanted = sum(end[p] - start.get(p, 0) for p in end)
    consumer.assign([TopicPartition(stream.topic, p, start.get(p, 0)) for p in end])
    ctx = SerializationContext(stream.topic, MessageField.VALUE)
    out = []
    try:
        misses = 0
        while len(out) < wanted and misses < 30:
            msg = consumer.poll(1.0)
            if msg is None:
                misses += 1
                continue
            assert msg.error() is None, msg.error()
            if msg.offset() >= end[msg.partition()]:
                continue
            out.append((msg.key().decode(), deserializer(msg.value(), ctx)))
    finally:
        consumer.close()
    return out


def normalize(value: dict) -> dict:
    """Decoded Avro logical types back to what the generator produced (uuid -> str, datetime -> epoch ms)."""
    out = {}
    for key, item in value.items():
        if isinstance(item, uuid.UUID):
            item = str(item)
        elif isinstance(item, datetime):
            item = int(item.timestamp() * 1000)
        out[key] = item
    return out


def seeded_events(seed: int, sessions: int):
    generator = LogGenerator(seed=seed)
    for i in range(sessions):
        yield from generator.session(START_MS + i * 1000)


def test_produced_events_arrive_exactly_field_by_field(settings, topics) -> None:
    before = {s.topic: end_offsets(settings, s.topic) for s in STREAMS}
    with LogProducer(settings) as producer:  # closed at the end: nothing left connected
        tally = producer.run(seeded_events(seed=2024, sessions=300), rate=0, progress=False)
    assert tally.all_delivered and tally.total_failed == 0

    expected: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for event in seeded_events(seed=2024, sessions=300):
        expected[event.stream.topic].append((event.key, event.value))
    for stream in STREAMS:
        after = end_offsets(settings, stream.topic)
        assert sum(after.values()) - sum(before[stream.topic].values()) == len(expected[stream.topic])
        got = [(key, normalize(value)) for key, value in read_range(settings, stream, before[stream.topic], after)]
        by_id = {value["event_id"]: (key, value) for key, value in got}
        assert len(by_id) == len(got), "no duplicates"
        assert by_id == {value["event_id"]: (key, value) for key, value in expected[stream.topic]}
        assert tally.acked[stream.topic] == len(expected[stream.topic])


def test_each_users_events_stay_in_order_on_one_partition(settings, topics) -> None:
    """Grouped by the user_id inside each record (not by the Kafka key, which maps to one partition by
    construction): a user's auth events sit on one partition, in the order they were produced."""
    before = end_offsets(settings, AUTH.topic)
    events = [e for e in seeded_events(seed=5, sessions=100) if e.stream is AUTH]
    LogProducer(settings).run(events, rate=0, progress=False)
    after = end_offsets(settings, AUTH.topic)
    produced_order: dict[str, list[str]] = defaultdict(list)
    for event in events:
        produced_order[event.value["user_id"]].append(event.value["event_id"])
    placed: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for partition, offset, value in read_positions(settings, AUTH, before, after):
        placed[value["user_id"]].append((partition, offset, str(value["event_id"])))
    assert placed.keys() == produced_order.keys()
    for user, records in placed.items():
        assert len({partition for partition, _, _ in records}) == 1, f"{user} spread over partitions"
        assert [event_id for _, _, event_id in sorted(records)] == produced_order[user], f"{user} out of order"


def read_positions(settings, stream: LogStream, start: dict[int, int], end: dict[int, int]):
    """(partition, offset, decoded value) of every record of `stream` between two offset snapshots."""
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": settings.schema_registry_url}))
    consumer = Consumer({**settings.kafka_client("admin"), "group.id": f"p-{uuid.uuid4()}"})
    consumer.assign([TopicPartition(stream.topic, p, start.get(p, 0)) for p in end])
    ctx = SerializationContext(stream.topic, MessageField.VALUE)
    remaining = sum(end[p] - start.get(p, 0) for p in end)
    try:
        while remaining > 0:
            msg = consumer.poll(5.0)
            assert msg is not None, "records missing"
            if msg.offset() < end[msg.partition()]:
                yield msg.partition(), msg.offset(), deserializer(msg.value(), ctx)
                remaining -= 1
    finally:
        consumer.close()


def test_create_topics_twice_gives_the_configured_topics(settings, topics) -> None:
    create_topics(settings, tools=bin_dir())  # the second run (the fixture ran the first)
    admin = AdminClient(settings.kafka_client("admin"))
    metadata = admin.list_topics(timeout=10)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, s.topic) for s in STREAMS]
    for resource, future in admin.describe_configs(resources).items():
        configs = future.result(timeout=10)
        topic = metadata.topics[resource.name]
        assert len(topic.partitions) == settings.topic_partitions
        assert all(len(p.replicas) == settings.topic_replication_factor for p in topic.partitions.values())
        assert configs["retention.ms"].value == str(settings.topic_retention_ms)
        assert configs["min.insync.replicas"].value == str(settings.topic_min_insync_replicas)
        assert configs["cleanup.policy"].value == "delete"


def test_create_topics_repairs_a_drifted_config(settings, topics) -> None:
    """The fast path (nothing to change) must not hide a topic whose settings were changed by hand."""
    admin = AdminClient(settings.kafka_client("admin"))
    topic = AUTH.topic
    drifted = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic,
        incremental_configs=[ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET)],
    )
    for future in admin.incremental_alter_configs([drifted]).values():
        future.result(timeout=10)
    assert not topics_as_configured(settings)

    create_topics(settings, tools=bin_dir())

    assert topics_as_configured(settings)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["retention.ms"].value == str(settings.topic_retention_ms)


def test_registration_is_idempotent_and_backward_transitive(settings, topics) -> None:
    client = SchemaRegistryClient({"url": settings.schema_registry_url})
    first = schema_registry.register_all(client, settings.schema_registry_url, retry_s=10)
    again = schema_registry.register_all(
        SchemaRegistryClient({"url": settings.schema_registry_url}), settings.schema_registry_url, 10
    )
    assert first == again
    for stream in STREAMS:
        assert client.get_compatibility(stream.subject) == "BACKWARD_TRANSITIVE"


def test_an_incompatible_change_is_refused_naming_the_field(settings, unique_name: str) -> None:
    stream = LogStream("probe", unique_name, SESSION.schema_file, "unused", "login_time")
    client = SchemaRegistryClient({"url": settings.schema_registry_url})
    schema_registry.register(client, stream, settings.schema_registry_url, 10)
    changed = json.loads(stream.schema_str)
    changed["fields"].append({"name": "tenant_id", "type": "string"})  # no default: old data unreadable
    with pytest.raises(schema_registry.IncompatibleSchema, match="field 'tenant_id' was added without a default"):
        schema_registry.register(client, stream, settings.schema_registry_url, 10, schema_str=json.dumps(changed))


def test_a_version_that_only_the_previous_one_allows_is_refused(settings, unique_name: str) -> None:
    """Transitive: v3 must read v1's records too. v2 adds `tenant` with a default and v3 drops the default;
    plain BACKWARD accepts v3 (v2's records all carry a tenant), but v1's records have none."""
    stream = LogStream("probe", unique_name, SESSION.schema_file, "unused", "login_time")
    client = SchemaRegistryClient({"url": settings.schema_registry_url})
    schema_registry.register(client, stream, settings.schema_registry_url, 10)
    v2 = json.loads(stream.schema_str)
    v2["fields"].append({"name": "tenant", "type": "string", "default": "none"})
    schema_registry.register(client, stream, settings.schema_registry_url, 10, schema_str=json.dumps(v2))
    v3 = copy.deepcopy(v2)
    del v3["fields"][-1]["default"]
    with pytest.raises(schema_registry.IncompatibleSchema, match="with version 1: field 'tenant' was added without"):
        schema_registry.register(client, stream, settings.schema_registry_url, 10, schema_str=json.dumps(v3))


def run_cli(*args: str, env: dict | None = None, timeout_s: float = 120) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "produce", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_cli_produces_a_count_and_reports_totals(settings, topics) -> None:
    before = sum(end_offsets(settings, SESSION.topic).values())
    done = run_cli("--count", "500", "--rate", "2000", "--topics", "session", "--seed", "3", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "user_session_logs" in done.stdout and "500" in done.stdout
    assert sum(end_offsets(settings, SESSION.topic).values()) - before == 500


def test_cli_fails_fast_and_clearly_without_a_broker(settings) -> None:
    done = run_cli("--count", "10", "--bootstrap-servers", "127.0.0.1:1", timeout_s=60)
    assert done.returncode == 1
    assert "error: cannot reach Kafka at 127.0.0.1:1" in done.stderr and "Traceback" not in done.stderr


def test_cli_fails_clearly_without_a_registry(settings, topics) -> None:
    done = run_cli("--count", "10", "--schema-registry-url", "http://127.0.0.1:1", env={"SCHEMA_REGISTRY_RETRY_S": "3"})
    assert done.returncode == 1
    assert "error: schema registry at http://127.0.0.1:1 unreachable" in done.stderr and "Traceback" not in done.stderr


def test_the_wire_encoder_writes_the_bytes_avro_serializer_writes(settings, topics) -> None:
    """The producer's fastavro path against confluent-kafka's AvroSerializer, record by record, with the ids
    the registry returns for the contract's schemas."""
    client = SchemaRegistryClient({"url": settings.schema_registry_url})
    ids = schema_registry.register_all(client, settings.schema_registry_url, 10)
    for stream in STREAMS:
        subject = stream.subject
        conf = {"auto.register.schemas": False, "subject.name.strategy": lambda _ctx, _name, s=subject: s}
        serializer = AvroSerializer(client, stream.schema_str, conf=conf)
        context = SerializationContext(stream.topic, MessageField.VALUE)
        encoder = WireEncoder(stream, ids[subject])
        values = [e.value for e in seeded_events(seed=77, sessions=200) if e.stream is stream]
        assert values
        assert [encoder(v) for v in values] == [serializer(v, context) for v in values], stream.topic


def test_two_producer_processes_give_one_report_and_every_event_once(settings, topics) -> None:
    before = {s.topic: end_offsets(settings, s.topic) for s in STREAMS}
    done = run_cli("--count", "3001", "--rate", "0", "--processes", "2", "--seed", "41")
    assert done.returncode == 0, done.stdout + done.stderr
    total = next(line for line in done.stdout.splitlines() if line.startswith("total"))
    assert total.split()[1:5] == ["3001", "3001", "0", "0"], total
    grown = sum(sum(end_offsets(settings, s.topic).values()) - sum(before[s.topic].values()) for s in STREAMS)
    assert grown == 3001
    refused = run_cli("--count", "1", "--processes", "2", "--ack-log", "/dev/null")
    assert refused.returncode == 2 and "--ack-log needs --processes 1" in refused.stderr
