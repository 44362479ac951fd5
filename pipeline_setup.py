"""`python3 main.py setup`: everything the pipeline needs before data flows, idempotently — the three
topics (through kafka/create_topics.sh), the Avro schemas with BACKWARD_TRANSITIVE compatibility, and the keyspace and
tables of cassandra/cassandra_setup.cql (moving dead letters of the first, daily layout into the hourly one)."""

from __future__ import annotations

import sys

from confluent_kafka.schema_registry import SchemaRegistryClient

from config.security import CredentialMissing
from config.settings import Settings, load_settings
from database import bootstrap, roles
from database.cassandra_connection import CassandraUnavailable
from kafka import access, schema_registry
from kafka.topics import TopicSetupError, create_topics
from local.kafka_tools import bin_dir

EXPECTED_FAILURES = (
    TopicSetupError,
    schema_registry.RegistryUnavailable,
    schema_registry.IncompatibleSchema,
    CassandraUnavailable,
    access.KafkaAccessError,
    roles.CassandraAuthError,
    CredentialMissing,
)


def run_setup(settings: Settings) -> None:
    print(create_topics(settings, tools=bin_dir()), end="")
    granted = access.grant_pipeline(settings)
    if granted:
        print(f"kafka: {granted} ACLs (producer writes, job reads the three topics)")
    client = SchemaRegistryClient(settings.registry_client("admin"))
    ids = schema_registry.register_all(client, settings.schema_registry_url, settings.registry_retry_s)
    for subject, schema_id in ids.items():
        print(f"schema {subject}: id {schema_id} ({schema_registry.COMPATIBILITY})")
    print("\n".join(bootstrap.setup_keyspace(settings)))


def setup() -> int:
    try:
        run_setup(load_settings())
    except EXPECTED_FAILURES as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
