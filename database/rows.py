"""An event's Avro value as its table row: the CQL values cassandra-driver binds and returns (uuids, naive
UTC datetimes, the event's UTC day). The same mapping the streaming job makes in Spark."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from kafka.contract import LogStream


def _datetime(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC).replace(tzinfo=None)


def table_row(stream: LogStream, value: dict) -> dict:
    """The contract's fields, typed for CQL, plus `event_day` (lineage columns are the caller's)."""
    row = {}
    for field in stream.schema["fields"]:
        name, item = field["name"], value[field["name"]]
        if item is not None and name in stream.uuid_fields:
            item = uuid.UUID(item)
        elif item is not None and name in stream.timestamp_fields:
            item = _datetime(item)
        row[name] = item
    row["event_day"] = _datetime(value[stream.event_time_field]).date()
    return row
