"""Avro values in the Confluent wire format, encoded with fastavro directly: magic byte 0, the 4-byte schema
id the registry returned for the contract's schema, then the schemaless Avro body.

The same bytes AvroSerializer writes (an integration test compares them), without its per-record Python
path (subject lookup, rule and transform hooks, a buffer per record): the producer's hottest loop.
"""

from __future__ import annotations

import io
import struct

import fastavro

from kafka.contract import LogStream

MAGIC = 0


class WireEncoder:
    """One stream's encoder, bound to the id its schema is registered under."""

    def __init__(self, stream: LogStream, schema_id: int) -> None:
        self.stream = stream
        self.schema_id = schema_id
        self.header = struct.pack(">bI", MAGIC, schema_id)
        self.schema = fastavro.parse_schema(stream.schema)
        self.buffer = io.BytesIO()

    def __call__(self, value: dict) -> bytes:
        buffer = self.buffer
        buffer.seek(0)
        buffer.truncate()
        buffer.write(self.header)
        fastavro.schemaless_writer(buffer, self.schema, value)
        return buffer.getvalue()
