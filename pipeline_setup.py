"""`python3 main.py setup`: everything the pipeline needs before data flows, idempotently —
the three topics (through kafka/create_topics.sh) and the Avro schemas with BACKWARD compatibility."""

from __future__ import annotations

import sys

from confluent_kafka.schema_registry import SchemaRegistryClient

from config.settings import load_settings
from kafka import schema_registry
from kafka.topics import TopicSetupError, create_topics


def setup() -> int:
    settings = load_settings()
    try:
        print(create_topics(settings), end="")
        client = SchemaRegistryClient({"url": settings.schema_registry_url})
        for subject, schema_id in schema_registry.register_all(
            client, settings.schema_registry_url, settings.registry_retry_s
        ).items():
            print(f"schema {subject}: id {schema_id} ({schema_registry.COMPATIBILITY})")
    except (TopicSetupError, schema_registry.RegistryUnavailable, schema_registry.IncompatibleSchema) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
