"""The peer: the plain Python consumer a team might write instead of the Spark job, run on the same box.

confluent-kafka's `Consumer` (its own group, offsets committed after each written batch: at least once, as
the job is), the Confluent wire format decoded with fastavro by the writer schema the id names (fetched from
the registry once), the job's rows (the contract's fields, `event_day`, the Kafka lineage) written with
cassandra-driver's prepared statements, many in flight. Into a keyspace of its own, created like the
pipeline's. Each peer process is one consumer of the group; the bench searches processes x requests in
flight, as it does for the driver's write ceiling.

    python -m bench.peer --keyspace K --group G --in-flight 256 --ready FILE   (started by bench/peer_bench.py)
"""

from __future__ import annotations

import argparse
import io
import json
import signal
import struct
import sys
from datetime import UTC, datetime
from pathlib import Path

import fastavro
from cassandra.concurrent import execute_concurrent
from confluent_kafka import Consumer, KafkaError
from confluent_kafka.schema_registry import SchemaRegistryClient

from config.settings import Settings, load_settings
from database.cassandra_connection import CassandraConnection
from kafka.contract import LogStream, streams

WIRE_HEADER = struct.Struct(">bI")
LINEAGE = ("kafka_partition", "kafka_offset", "produced_at")
POLL_BATCH = 5000
POLL_TIMEOUT_S = 0.2


def insert_statement(keyspace: str, stream: LogStream) -> str:
    columns = [*stream.field_names, "event_day", *LINEAGE]
    return f"INSERT INTO {keyspace}.{stream.table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


class Decoder:
    """Wire format -> the bound values of the stream's insert, writer schemas cached by id."""

    def __init__(self, registry_url: str) -> None:
        self.registry = SchemaRegistryClient({"url": registry_url})
        self.schemas: dict[int, dict] = {}

    def values(self, stream: LogStream, value: bytes, partition: int, offset: int, timestamp_ms: int) -> tuple:
        _magic, schema_id = WIRE_HEADER.unpack_from(value)
        schema = self.schemas.get(schema_id)
        if schema is None:
            text = self.registry.get_schema(schema_id).schema_str
            schema = self.schemas[schema_id] = fastavro.parse_schema(json.loads(text))
        # fastavro gives uuids as UUID and timestamp-millis as UTC datetimes, as cassandra-driver binds them.
        record = fastavro.schemaless_reader(io.BytesIO(value[WIRE_HEADER.size :]), schema)
        event_day = record[stream.event_time_field].date()
        produced_at = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
        return (*(record.get(name) for name in stream.field_names), event_day, partition, offset, produced_at)


def run(settings: Settings, keyspace: str, group: str, in_flight: int, ready: Path) -> int:
    by_topic = {s.topic: s for s in streams(settings.topic_prefix)}
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    consumer = Consumer(
        {
            **settings.kafka_client("admin"),
            "group.id": group,  # its start offsets committed by the bench: nothing before this run is read
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.max.bytes": 16 * 2**20,
            "max.partition.fetch.bytes": 4 * 2**20,
        }
    )
    consumer.subscribe(list(by_topic), on_assign=lambda _c, _parts: ready.touch())
    decoder = Decoder(settings.schema_registry_url)
    with CassandraConnection.open(settings) as cassandra:
        prepared = {topic: cassandra.prepare(insert_statement(keyspace, s)) for topic, s in by_topic.items()}
        while not stopping:
            messages = consumer.consume(num_messages=POLL_BATCH, timeout=POLL_TIMEOUT_S)
            statements = []
            for msg in messages:
                if msg.error() is not None:
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        print(f"peer: {msg.error()}", file=sys.stderr)
                    continue
                stream = by_topic[msg.topic()]
                bound = decoder.values(stream, msg.value(), msg.partition(), msg.offset(), msg.timestamp()[1])
                statements.append((prepared[msg.topic()], bound))
            if not statements:
                continue
            for ok, result in execute_concurrent(cassandra.session, statements, concurrency=in_flight):
                if not ok:
                    raise result
            consumer.commit(asynchronous=False)  # after the rows are written: at least once
    consumer.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keyspace", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--ready", type=Path, required=True, help="touched once partitions are assigned")
    args = parser.parse_args()
    return run(load_settings(), args.keyspace, args.group, args.in_flight, args.ready)


if __name__ == "__main__":
    sys.exit(main())
