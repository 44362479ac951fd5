"""Dead letters for a schema id only on the registry's word; a registry that does not answer fails the batch."""

from __future__ import annotations

import json
import socket
import uuid

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from kafka.contract import AUTH, SESSION
from kafka.schema_registry import RegistryUnavailable
from spark.schema_resolver import SchemaNotConfirmed, SchemaResolver, SubjectSchemas


def always_compatible(_reader: str, _writer: str) -> None:
    return None


@pytest.fixture
def registry() -> SchemaRegistryClient:
    """confluent-kafka's in-memory registry (unit tests only), one per test."""
    return SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex}"})


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def listed(schemas: SubjectSchemas, listed_now: bool) -> SubjectSchemas:
    return SubjectSchemas(schemas.reader, schemas.reader_fields, schemas.writers, schemas.rejected, listed_now)


def test_an_id_the_registry_does_not_know_is_confirmed_unknown(registry) -> None:
    registry.register_schema(SESSION.subject, Schema(SESSION.schema_str, "AVRO"))
    resolver = SchemaResolver({"url": "mock"}, 1, always_compatible, client=registry)
    schemas = resolver.for_batch(SESSION)
    resolver.confirm_unknown(SESSION, [4242], schemas)  # returns: its records are dead letters


def test_an_existing_id_with_a_stale_listing_fails_the_batch(registry) -> None:
    registry.register_schema(SESSION.subject, Schema(SESSION.schema_str, "AVRO"))
    other = registry.register_schema(AUTH.subject, Schema(AUTH.schema_str, "AVRO"))
    resolver = SchemaResolver({"url": "mock"}, 1, always_compatible, client=registry)
    schemas = resolver.for_batch(SESSION)
    resolver.confirm_unknown(SESSION, [other], schemas)  # listed now: another subject's id is a dead letter
    with pytest.raises(SchemaNotConfirmed, match=f"schema id {other} exists"):
        resolver.confirm_unknown(SESSION, [other], listed(schemas, listed_now=False))


def test_an_unreachable_registry_fails_the_batch_instead_of_dead_lettering() -> None:
    url = closed_port_url()
    resolver = SchemaResolver({"url": url}, 1, always_compatible, client=SchemaRegistryClient({"url": url}))
    schemas = SubjectSchemas(SESSION.schema_str, SESSION.schema["fields"], {1: SESSION.schema_str})
    with pytest.raises(RegistryUnavailable, match="look up schema id 7"):
        resolver.confirm_unknown(SESSION, [7], schemas)


def test_cached_versions_are_marked_unlisted_while_the_registry_is_away(registry) -> None:
    registry.register_schema(SESSION.subject, Schema(SESSION.schema_str, "AVRO"))
    resolver = SchemaResolver({"url": "mock"}, 1, always_compatible, client=registry)
    first = resolver.for_batch(SESSION)
    assert first.listed
    url = closed_port_url()
    resolver.client, resolver.url = SchemaRegistryClient({"url": url}), url
    cached = resolver.for_batch(SESSION)
    assert not cached.listed and cached.writers == first.writers
    assert json.loads(cached.reader)["name"] == SESSION.schema["name"]
