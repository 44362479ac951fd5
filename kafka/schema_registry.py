"""Registering the contract's schemas: BACKWARD_TRANSITIVE compatibility per subject, idempotent, clear refusals.

Transitive, because the job reads every record with the subject's latest version: a new version must read
data of *every* earlier version, not only of the one before it (plain BACKWARD lets v3 drop a default
that v1's records need, and those records would then fail to decode).

Works against any registry serving Confluent's REST API (Confluent's own in Compose, Apicurio's
`/apis/ccompat/v7` in local mode); only `SCHEMA_REGISTRY_URL` differs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from kafka.contract import STREAMS, LogStream

try:  # the HTTP client confluent-kafka's registry client uses (httpx2 on Python 3.10+)
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

log = logging.getLogger(__name__)

COMPATIBILITY = "BACKWARD_TRANSITIVE"
T = TypeVar("T")


class RegistryUnavailable(RuntimeError):
    """The registry did not answer within the retry bound."""


class RegistryLoginRefused(RegistryUnavailable):
    """The registry asks for a login (Compose's) and refused the one sent."""


class IncompatibleSchema(RuntimeError):
    """The registry refused a schema as incompatible; the message names the fields."""


def with_retry(call: Callable[[], T], what: str, url: str, retry_s: float) -> T:
    """Retry connection failures with backoff for up to `retry_s`; registry errors (4xx) are not retried."""
    deadline = time.monotonic() + retry_s
    delay = 0.5
    while True:
        try:
            return call()
        except SchemaRegistryError as exc:
            if exc.http_status_code == 401:
                raise RegistryLoginRefused(
                    f"schema registry at {url} refused the login while trying to {what}: its users are the Kafka "
                    "users, check SCHEMA_REGISTRY_AUTH and the KAFKA_<ROLE>_PASSWORD of the client (docs/security.md)"
                ) from None
            if exc.http_status_code is not None and exc.http_status_code < 500:
                raise
            failure: Exception = exc
        except (httpx.TransportError, OSError) as exc:  # refused, reset, timed out
            failure = exc
        if time.monotonic() + delay > deadline:
            raise RegistryUnavailable(
                f"schema registry at {url} unreachable for {retry_s:.0f} s while trying to {what} "
                f"({type(failure).__name__}): is it running? (`python3 main.py status`)"
            ) from failure
        log.warning("registry at %s not answering (%s); retrying in %.1f s", url, type(failure).__name__, delay)
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def _fields(schema: dict) -> dict[str, dict]:
    return {f["name"]: f for f in schema.get("fields", [])}


def explain_incompatibility(old: dict, new: dict) -> list[str]:
    """Why a reader with `new` cannot read data written with `old` (backward), field by field."""
    problems = []
    old_fields, new_fields = _fields(old), _fields(new)
    for name, field in new_fields.items():
        if name not in old_fields and "default" not in field:
            problems.append(f"field '{name}' was added without a default")
        elif name in old_fields and json.dumps(old_fields[name]["type"], sort_keys=True) != json.dumps(
            field["type"], sort_keys=True
        ):
            problems.append(f"field '{name}' changed type")
    return problems


def register(
    client: SchemaRegistryClient, stream: LogStream, url: str, retry_s: float, schema_str: str | None = None
) -> int:
    """Register (or find) the stream's schema under `<topic>-value` with COMPATIBILITY; returns its id."""
    schema_str = schema_str or stream.schema_str
    subject = stream.subject
    with_retry(
        lambda: client.set_compatibility(subject, COMPATIBILITY), f"set compatibility of {subject}", url, retry_s
    )
    try:
        return with_retry(
            lambda: client.register_schema(subject, Schema(schema_str, "AVRO")), f"register {subject}", url, retry_s
        )
    except SchemaRegistryError as exc:
        if exc.http_status_code != 409:
            raise
        version, reasons = first_incompatible_version(client, subject, schema_str, url, retry_s)
        detail = "; ".join(reasons) or exc.error_message
        raise IncompatibleSchema(
            f"{subject}: the new schema is not {COMPATIBILITY} compatible with version {version}: {detail}"
        ) from None


def first_incompatible_version(
    client: SchemaRegistryClient, subject: str, schema_str: str, url: str, retry_s: float
) -> tuple[int, list[str]]:
    """The oldest registered version whose data the new schema cannot read, and why (the latest if none is
    found field by field: the registry's own message then says why)."""
    versions = sorted(with_retry(lambda: client.get_versions(subject), f"list {subject}", url, retry_s))
    for version in versions:
        registered = with_retry(lambda v=version: client.get_version(subject, v), f"read {subject}", url, retry_s)
        reasons = explain_incompatibility(json.loads(registered.schema.schema_str), json.loads(schema_str))
        if reasons:
            return version, reasons
    return versions[-1], []


def register_all(
    client: SchemaRegistryClient, url: str, retry_s: float, streams: Iterable[LogStream] = STREAMS
) -> dict[str, int]:
    """Subject -> schema id for every stream."""
    return {s.subject: register(client, s, url, retry_s) for s in streams}


def main() -> int:
    """`python -m kafka.schema_registry`: register the three schemas (what Compose's init container runs)."""
    import sys

    from config.settings import load_settings

    settings = load_settings()
    client = SchemaRegistryClient(settings.registry_client("admin"))
    try:
        for subject, schema_id in register_all(client, settings.schema_registry_url, settings.registry_retry_s).items():
            print(f"schema {subject}: id {schema_id} ({COMPATIBILITY})")
    except (RegistryUnavailable, IncompatibleSchema) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
