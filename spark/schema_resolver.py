"""Writer and reader schemas for the streaming job, from the registry, on the driver.

Before each micro-batch of a topic the job asks which versions its subject has (one small request). Every
version's schema is fetched once by id and cached (ids are immutable), and the latest version is the reader
schema, so a new optional field registered mid-stream reaches the table without a restart. No record of the
batch can carry an id registered after that request, since producers register before they produce.

If the registry goes away, the cached versions keep decoding; a record whose id is not among them is
dead-lettered with that reason (its raw bytes kept for a replay) rather than skipped.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka.schema_registry import SchemaRegistryClient

from kafka.contract import LogStream
from kafka.schema_registry import RegistryUnavailable, with_retry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubjectSchemas:
    """What a batch of one topic decodes with."""

    reader: str
    reader_fields: list[dict]
    writers: dict[int, str]  # schema id -> writer schema text, for ids the reader can read
    rejected: dict[int, str] = field(default_factory=dict)  # schema id -> why its records are dead letters

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.reader_fields]


class SchemaResolver:
    def __init__(
        self,
        registry_url: str,
        retry_s: float,
        why_incompatible: Callable[[str, str], str | None],
        client: SchemaRegistryClient | None = None,
    ) -> None:
        """`why_incompatible(reader, writer)` says why a reader cannot read a writer (None if it can)."""
        self.url = registry_url
        self.retry_s = retry_s
        self.client = client or SchemaRegistryClient({"url": registry_url})
        self.why_incompatible = why_incompatible
        self._versions: dict[tuple[str, int], tuple[int, str]] = {}  # (subject, version) -> (id, schema)
        self._latest: dict[str, SubjectSchemas] = {}
        self._lock = threading.Lock()  # one query per topic: batches call in from several threads

    def for_batch(self, stream: LogStream) -> SubjectSchemas:
        with self._lock:
            try:
                versions = with_retry(
                    lambda: self.client.get_versions(stream.subject), f"list {stream.subject}", self.url, self.retry_s
                )
            except RegistryUnavailable:
                if stream.subject not in self._latest:
                    raise
                log.warning("registry unreachable: %s decodes with its cached versions", stream.subject)
                return self._latest[stream.subject]
            known = [self._version(stream.subject, v) for v in sorted(versions)]
            schemas = self._resolve(stream, known)
            previous = self._latest.get(stream.subject)
            if previous and previous.reader != schemas.reader:
                log.info("%s: reader schema is now version %d", stream.subject, max(versions))
            self._latest[stream.subject] = schemas
            return schemas

    def _version(self, subject: str, version: int) -> tuple[int, str]:
        if (subject, version) not in self._versions:
            registered = with_retry(
                lambda: self.client.get_version(subject, version), f"read {subject} v{version}", self.url, self.retry_s
            )
            self._versions[(subject, version)] = (registered.schema_id, registered.schema.schema_str)
        return self._versions[(subject, version)]

    def _resolve(self, stream: LogStream, known: list[tuple[int, str]]) -> SubjectSchemas:
        reader = known[-1][1]
        writers, rejected = {}, {}
        for schema_id, writer in known:
            parsed = json.loads(writer)
            name = f"{parsed.get('namespace', '')}.{parsed.get('name', '')}"
            if name != stream.record_name:
                rejected[schema_id] = f"schema id {schema_id} is {name}, not {stream.record_name}"
            elif why := self.why_incompatible(reader, writer):
                rejected[schema_id] = f"schema id {schema_id} cannot be read as the latest {stream.subject}: {why}"
            else:
                writers[schema_id] = writer
        return SubjectSchemas(
            reader=reader, reader_fields=json.loads(reader)["fields"], writers=writers, rejected=rejected
        )
