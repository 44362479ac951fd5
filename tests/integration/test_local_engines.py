"""Each local-mode engine does real work through its own client."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import requests
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from database.cassandra_connection import build_cluster
from tests.integration.helpers import consume_all, create_topic, produce, spark_submit

JOBS = Path(__file__).parent / "spark_jobs"


def test_kafka_produces_and_consumes_on_a_new_topic(settings, unique_name: str) -> None:
    create_topic(settings, unique_name, partitions=3)
    records = [(f"user-{i}", f"value-{i}") for i in range(20)]
    produce(settings, unique_name, records)
    assert sorted(consume_all(settings, unique_name, expected=20)) == sorted(records)


def _avro_schema(name: str) -> str:
    return json.dumps(
        {
            "type": "record",
            "name": name,
            "namespace": "tests.platform",
            "fields": [{"name": "user_id", "type": "string"}, {"name": "n", "type": "int"}],
        }
    )


def test_registry_serves_the_confluent_api_and_wire_ids_match(settings, unique_name: str) -> None:
    client = SchemaRegistryClient({"url": settings.schema_registry_url})
    subject = f"{unique_name}-value"
    schema = _avro_schema(unique_name)
    schema_id = client.register_schema(subject, Schema(schema, "AVRO"))
    assert client.register_schema(subject, Schema(schema, "AVRO")) == schema_id, "registration is idempotent"

    by_id = requests.get(f"{settings.schema_registry_url}/schemas/ids/{schema_id}", timeout=10)
    assert by_id.status_code == 200
    assert json.loads(by_id.json()["schema"]) == json.loads(schema)
    assert client.get_latest_version(subject).schema_id == schema_id

    ctx = SerializationContext(unique_name, MessageField.VALUE)
    serializer = AvroSerializer(client, schema, conf={"auto.register.schemas": False})
    payload = serializer({"user_id": "u1", "n": 7}, ctx)
    assert payload[0] == 0 and struct.unpack(">I", payload[1:5])[0] == schema_id
    assert AvroDeserializer(SchemaRegistryClient({"url": settings.schema_registry_url}))(payload, ctx) == {
        "user_id": "u1",
        "n": 7,
    }


def test_cassandra_creates_inserts_and_selects(settings, unique_name: str) -> None:
    cluster = build_cluster(settings)
    try:
        session = cluster.connect()
        session.execute(
            f"CREATE KEYSPACE {unique_name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
        )
        session.execute(f"CREATE TABLE {unique_name}.events (id int PRIMARY KEY, body text)")
        insert = session.prepare(f"INSERT INTO {unique_name}.events (id, body) VALUES (?, ?)")
        for i in range(10):
            session.execute(insert, (i, f"body-{i}"))
        rows = {r.id: r.body for r in session.execute(f"SELECT id, body FROM {unique_name}.events")}
        assert rows == {i: f"body-{i}" for i in range(10)}
        session.execute(f"DROP KEYSPACE {unique_name}")
    finally:
        cluster.shutdown()


def test_spark_standalone_reads_kafka_through_the_connector(settings, unique_name: str) -> None:
    create_topic(settings, unique_name)
    records = [(f"k{i}", f"v{i}") for i in range(5)]
    produce(settings, unique_name, records)
    done = spark_submit(settings, JOBS / "read_kafka_topic.py", settings.kafka_bootstrap_servers, unique_name)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = sorted(line.removeprefix("RECORD ") for line in done.stdout.splitlines() if line.startswith("RECORD "))
    assert seen == sorted(f"{k}={v}" for k, v in records)
    # It ran on the standalone cluster, not in local[*] mode.
    assert "spark://" in done.stderr and "StandaloneSchedulerBackend" in done.stderr
