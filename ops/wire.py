"""Reading the topics as the pipeline's own tools do: our own consumer, and the Confluent wire format
(magic byte 0, 4-byte schema id, Avro body) decoded with the writer schema its id names.

Shared by the reconciliations (chaos's and `main.py reconcile`) and the dead-letter tools.
"""

from __future__ import annotations

import io
import json
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import fastavro
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from config.settings import Settings
from kafka.offsets import QUIET_LOGGER
from kafka.schema_registry import with_retry
from ops.errors import OperatorError

READ_TIMEOUT_S = 300
WIRE_HEADER = struct.Struct(">bI")  # magic byte 0, schema id


class KafkaUnreachable(OperatorError):
    """Kafka did not answer a metadata request; the message names the address."""


def schema_id_of(value: bytes | None) -> int | None:
    """The schema id of a Confluent wire-format value, None if the value is not in that format."""
    if value is None or len(value) < WIRE_HEADER.size or value[0] != 0:
        return None
    return WIRE_HEADER.unpack_from(value)[1]


class WireDecoder:
    """Confluent wire format -> dict, with each writer schema fetched from the registry once. A value that is
    not in the format, names an id the registry does not have, or does not decode, gives None."""

    def __init__(self, registry: dict[str, str], retry_s: float = 10) -> None:
        """`registry`: SchemaRegistryClient settings (Settings.registry_client)."""
        self.url, self.retry_s = registry["url"], retry_s
        self.client = SchemaRegistryClient(registry)
        self.schemas: dict[int, dict | None] = {}

    def schema(self, schema_id: int) -> dict | None:
        if schema_id not in self.schemas:
            try:
                found = with_retry(
                    lambda: self.client.get_schema(schema_id), f"look up schema id {schema_id}", self.url, self.retry_s
                )
                text = found.schema_str
                self.schemas[schema_id] = fastavro.parse_schema(json.loads(text))
            except SchemaRegistryError as exc:
                if exc.http_status_code != 404:
                    raise
                self.schemas[schema_id] = None  # ids are immutable: an unknown id stays unknown for this run
        return self.schemas[schema_id]

    def __call__(self, value: bytes | None) -> dict | None:
        schema_id = schema_id_of(value)
        schema = None if schema_id is None else self.schema(schema_id)
        if schema is None:
            return None
        try:
            return fastavro.schemaless_reader(io.BytesIO(value[WIRE_HEADER.size :]), schema)
        except (ValueError, EOFError, IndexError, UnicodeDecodeError, TypeError):
            return None


def consumer(settings: Settings) -> Consumer:
    """A consumer that only reads assigned ranges: its own throwaway group, no commits."""
    return Consumer(
        {
            **settings.kafka_client("admin"),
            "group.id": f"pipeline-tools-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            # librdkafka prefetches up to 64 MB per consumer by default; 16 MB reads as fast here and keeps
            # a tool's memory flat over millions of records.
            "queued.max.messages.kbytes": 16384,
            "queued.min.messages": 10000,
            "logger": QUIET_LOGGER,
        }
    )


def partitions_of(settings: Settings, topic: str, timeout_s: float = 10) -> list[int]:
    """The topic's partitions; KafkaUnreachable if Kafka does not answer, OperatorError if there is no such topic."""
    client = consumer(settings)
    try:
        metadata = client.list_topics(timeout=timeout_s)
    except KafkaException:
        raise KafkaUnreachable(
            f"Kafka at {settings.kafka_bootstrap_servers} did not answer within {timeout_s:.0f} s: is it running? "
            "(`python3 main.py status`)"
        ) from None
    finally:
        client.close()
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        raise OperatorError(f"topic {topic} does not exist in Kafka at {settings.kafka_bootstrap_servers}")
    return sorted(found.partitions)


@dataclass(frozen=True)
class OffsetRange:
    """Per partition, [start, end): what a tool reads of one topic."""

    topic: str
    start: dict[int, int]
    end: dict[int, int]

    @property
    def records(self) -> int:
        return sum(max(e - self.start.get(p, 0), 0) for p, e in self.end.items())

    def holds(self, partition: int, offset: int) -> bool:
        return self.start.get(partition, 0) <= offset < self.end.get(partition, 0)


def offset_range(settings: Settings, topic: str, since_ms: int | None = None, timeout_s: float = 10) -> OffsetRange:
    """From the first record at or after `since_ms` (the log's start without it) to the end as it is now."""
    parts = partitions_of(settings, topic, timeout_s)
    client = consumer(settings)
    try:
        start, end = {}, {}
        for p in parts:
            low, high = client.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            start[p], end[p] = low, high
        if since_ms is not None:
            wanted = [TopicPartition(topic, p, since_ms) for p in parts]
            for found in client.offsets_for_times(wanted, timeout=timeout_s):
                # -1: no record at or after the time in this partition
                p = found.partition
                start[p] = end[p] if found.offset < 0 else max(found.offset, start[p])
    except KafkaException as exc:
        raise KafkaUnreachable(f"Kafka at {settings.kafka_bootstrap_servers}: {exc}") from None
    finally:
        client.close()
    return OffsetRange(topic, start, end)


def read_records(settings: Settings, span: OffsetRange, timeout_s: float = READ_TIMEOUT_S) -> Iterator:
    """Every record message in the range, partition by partition in offset order within each; bounded in time."""
    todo = {p: e for p, e in span.end.items() if e > span.start.get(p, 0)}
    if not todo:
        return
    client = consumer(settings)
    client.assign([TopicPartition(span.topic, p, span.start.get(p, 0)) for p in todo])
    deadline = time.monotonic() + timeout_s
    try:
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{span.topic}: could not read up to {span.end} within {timeout_s:.0f} s")
            for msg in client.consume(1000, timeout=1.0):
                if msg.error() is not None:
                    raise KafkaUnreachable(f"{span.topic}: {msg.error()}")
                p, offset = msg.partition(), msg.offset()
                if p in todo and offset < todo[p]:
                    yield msg
                if p in todo and offset >= todo[p] - 1:
                    del todo[p]
    finally:
        client.close()


def read_range(settings: Settings, topic: str, start: dict[int, int], end: dict[int, int]) -> Iterator:
    """(partition, offset, value bytes) of every record in [start, end) per partition."""
    for msg in read_records(settings, OffsetRange(topic, start, end)):
        yield msg.partition(), msg.offset(), msg.value()
