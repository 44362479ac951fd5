"""The keyspace's DDL: cassandra/cassandra_setup.cql applied with settings, and the Avro -> CQL mapping
that keeps tables in step with the contract when a schema gains a field."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from cassandra.cluster import Session

from config.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

KEYSPACE = "user_logs"
SETUP_CQL = PROJECT_ROOT / "cassandra" / "cassandra_setup.cql"

_AVRO_TO_CQL = {
    "string": "text",
    "int": "int",
    "long": "bigint",
    "double": "double",
    "float": "float",
    "boolean": "boolean",
    "bytes": "blob",
}
_LOGICAL_TO_CQL = {"uuid": "uuid", "timestamp-millis": "timestamp", "timestamp-micros": "timestamp", "date": "date"}


def cql_type(avro_type) -> str:
    """The CQL column type for an Avro field type (nullable unions map to their non-null branch)."""
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        if len(branches) != 1:
            raise ValueError(f"unions other than [null, T] have no CQL column type: {avro_type}")
        return cql_type(branches[0])
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") in _LOGICAL_TO_CQL:
            return _LOGICAL_TO_CQL[avro_type["logicalType"]]
        if avro_type["type"] == "enum":
            return "text"
        return cql_type(avro_type["type"])
    if avro_type in _AVRO_TO_CQL:
        return _AVRO_TO_CQL[avro_type]
    raise ValueError(f"no CQL column type for Avro type {avro_type!r}")


def render_setup(settings: Settings, path: Path = SETUP_CQL, keyspace: str = KEYSPACE) -> list[str]:
    """The setup file's statements, with replication and default TTL from settings, for `keyspace` (the
    pipeline's, or a copy's of the same tables)."""
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))
    text = re.sub(rf"\b{KEYSPACE}\b", keyspace, text)
    dc, factor = settings.cassandra_local_dc, settings.cassandra_replication_factor
    replication = f"{{'class': 'NetworkTopologyStrategy', '{dc}': {factor}}}"
    text = re.sub(r"replication = \{[^}]*\}", f"replication = {replication}", text)
    text = re.sub(r"default_time_to_live = \d+", f"default_time_to_live = {settings.cassandra_default_ttl_s}", text)
    return [" ".join(stmt.split()) for stmt in text.split(";") if stmt.strip()]


def apply_setup(session: Session, settings: Settings, keyspace: str = KEYSPACE) -> int:
    statements = render_setup(settings, keyspace=keyspace)
    for statement in statements:
        session.execute(statement, timeout=60)
    return len(statements)


def table_columns(session: Session, table: str, keyspace: str = KEYSPACE) -> dict[str, str]:
    rows = session.execute(
        "SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, table),
    )
    return {row.column_name: row.type for row in rows}


def add_missing_columns(session: Session, table: str, fields: list[dict], keyspace: str = KEYSPACE) -> list[str]:
    """Add a column for each Avro field the table lacks (a schema version added an optional field)."""
    existing = table_columns(session, table, keyspace)
    added = []
    for field in fields:
        if field["name"] not in existing:
            session.execute(
                f'ALTER TABLE {keyspace}.{table} ADD IF NOT EXISTS "{field["name"]}" {cql_type(field["type"])}'
            )
            log.info("added column %s.%s (%s) for a new schema field", table, field["name"], cql_type(field["type"]))
            added.append(field["name"])
    return added
