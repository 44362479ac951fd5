"""The pipeline's contract, defined once: each log stream's topic, Avro schema, subject and table.

The `.avsc` files under `kafka/schemas/` are the single source; the producer, the Spark job and the CQL
tables follow from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def _nullable(avro_type) -> bool:
    return isinstance(avro_type, list) and "null" in avro_type


def _logical(avro_type) -> str | None:
    if isinstance(avro_type, list):
        return next((_logical(t) for t in avro_type if t != "null"), None)
    return avro_type.get("logicalType") if isinstance(avro_type, dict) else None


@dataclass(frozen=True)
class LogStream:
    name: str
    contract_topic: str
    schema_file: str
    table: str
    event_time_field: str
    topic_prefix: str = ""  # a namespace's (the bench's) copy of the topic

    @property
    def topic(self) -> str:
        return f"{self.topic_prefix}{self.contract_topic}"

    @property
    def subject(self) -> str:
        """Confluent's TopicNameStrategy: `<topic>-value` (a namespace's topics have subjects of their own)."""
        return f"{self.topic}-value"

    @cached_property
    def schema(self) -> dict:
        return json.loads((SCHEMA_DIR / self.schema_file).read_text())

    @cached_property
    def schema_str(self) -> str:
        """One canonical text for registration and lookup alike: some registries (Apicurio's Confluent API)
        match a lookup by exact text, not by parsed schema, so whitespace must never differ."""
        return json.dumps(self.schema, separators=(",", ":"))

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.schema["fields"]]

    @property
    def record_name(self) -> str:
        return f"{self.schema['namespace']}.{self.schema['name']}"

    @property
    def required_fields(self) -> list[str]:
        """Fields the contract never allows to be null."""
        return [f["name"] for f in self.schema["fields"] if not _nullable(f["type"])]

    @property
    def uuid_fields(self) -> list[str]:
        return [f["name"] for f in self.schema["fields"] if _logical(f["type"]) == "uuid"]

    @property
    def timestamp_fields(self) -> list[str]:
        return [f["name"] for f in self.schema["fields"] if _logical(f["type"]) == "timestamp-millis"]


SESSION = LogStream("session", "user_session_logs", "session_log.avsc", "session_logs", "login_time")
AUTH = LogStream("auth", "user_auth_logs", "auth_log.avsc", "auth_logs", "timestamp")
ACTIVITY = LogStream("activity", "user_activity_logs", "activity_log.avsc", "activity_logs", "timestamp")
STREAMS: tuple[LogStream, ...] = (SESSION, AUTH, ACTIVITY)
BY_NAME = {s.name: s for s in STREAMS}


def streams(topic_prefix: str = "") -> tuple[LogStream, ...]:
    """The three streams, their topics prefixed (settings.topic_prefix: empty but for the bench's namespace)."""
    return tuple(replace(s, topic_prefix=topic_prefix) for s in STREAMS) if topic_prefix else STREAMS


BY_TOPIC = {s.topic: s for s in STREAMS}
