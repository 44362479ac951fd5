"""Writer and reader schemas for the streaming job, from the registry, on the driver.

Before each micro-batch of a topic the job asks which versions its subject has (one small request). Every
version's schema is fetched once by id and cached (ids are immutable), and the latest version is the reader
schema, so a new optional field registered mid-stream reaches the table without a restart. No record of the
batch can carry an id registered after that request, since producers register before they produce.

If the registry goes away, the cached versions keep decoding. A record is a dead letter for its schema id
only on the registry's word: before such records are written, `confirm_unknown` asks the registry about each
id, and a registry that does not answer (or whose versions could not be listed for this batch) fails the
batch, which is retried from its checkpoint: a registry outage never turns good records into dead letters.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

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
    listed: bool = True  # False: the registry did not answer for this batch, these are the cached versions

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.reader_fields]


class SchemaNotConfirmed(RuntimeError):
    """A schema id the batch cannot decode exists in the registry, but this batch's list of the subject's
    versions is stale: the batch fails and is retried rather than dead-lettering good records."""


# Listing a subject's versions when cached versions exist: a short bound, so a registry outage costs each
# batch seconds, not SCHEMA_REGISTRY_RETRY_S.
CACHED_LIST_RETRY_S = 2.0


class SchemaResolver:
    def __init__(
        self,
        registry: dict[str, str],
        retry_s: float,
        why_incompatible: Callable[[str, str], str | None],
        client: SchemaRegistryClient | None = None,
    ) -> None:
        """`why_incompatible(reader, writer)` says why a reader cannot read a writer (None if it can)."""
        self.url = registry["url"]
        self.retry_s = retry_s
        self.client = client or SchemaRegistryClient(registry)
        self.why_incompatible = why_incompatible
        self._versions: dict[tuple[str, int], tuple[int, str]] = {}  # (subject, version) -> (id, schema)
        self._latest: dict[str, SubjectSchemas] = {}
        self._lock = threading.Lock()  # one query per topic: batches call in from several threads

    def for_batch(self, stream: LogStream) -> SubjectSchemas:
        with self._lock:
            cached = self._latest.get(stream.subject)
            retry_s = min(self.retry_s, CACHED_LIST_RETRY_S) if cached else self.retry_s
            try:
                versions = with_retry(
                    lambda: self.client.get_versions(stream.subject), f"list {stream.subject}", self.url, retry_s
                )
            except RegistryUnavailable:
                if cached is None:
                    raise
                log.warning("registry unreachable: %s decodes with its cached versions", stream.subject)
                return dataclasses.replace(cached, listed=False)
            known = [self._version(stream.subject, v) for v in sorted(versions)]
            schemas = self._resolve(stream, known)
            previous = self._latest.get(stream.subject)
            if previous and previous.reader != schemas.reader:
                log.info("%s: reader schema is now version %d", stream.subject, max(versions))
            self._latest[stream.subject] = schemas
            return schemas

    def confirm_unknown(self, stream: LogStream, schema_ids: Iterable[int], schemas: SubjectSchemas) -> None:
        """Return only if the registry says, now, that none of these ids is a version of the subject (then
        their records are dead letters); raise RegistryUnavailable or SchemaNotConfirmed otherwise."""
        for schema_id in sorted(schema_ids):
            try:
                with_retry(
                    lambda sid=schema_id: self.client.get_schema(sid), f"look up schema id {schema_id}", self.url,
                    self.retry_s,
                )  # fmt: skip
            except SchemaRegistryError as exc:
                if exc.http_status_code == 404:
                    continue  # the registry's word: no such schema
                raise
            if not schemas.listed:
                raise SchemaNotConfirmed(
                    f"schema id {schema_id} exists in the registry but {stream.subject}'s versions could not be "
                    "listed for this batch; retrying it from the checkpoint"
                )

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
