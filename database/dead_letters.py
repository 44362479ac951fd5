"""The dead-letter table: reading a day of it, and moving rows of its first layout into the hourly one.

Rows live in (topic, day, hour) partitions (cassandra/cassandra_setup.cql). The first layout had (topic, day)
partitions, which a day-long registry incident could grow without bound. Cassandra can neither change a
primary key nor rename a table, so `move_to_hourly` goes through a staging table: old -> staging, drop old,
create new, staging -> new, drop staging. Every copy is an upsert of the same keys with the row's remaining
TTL, so a run cut short at any step is finished by the next `main.py setup`.
"""

from __future__ import annotations

import datetime as dt
import logging

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from database.schema import KEYSPACE, table_columns

log = logging.getLogger(__name__)

TABLE = "dead_letters"
STAGING = "dead_letters_moving"
HOURS = range(24)
VALUE_COLUMNS = ("reason", "schema_id", "raw_key", "raw_value", "produced_at", "failed_at")
HEADER_COLUMNS = ("header_keys", "header_values")  # added later: copied when the source table has them
KEY_COLUMNS = ("topic", "day", "hour", "kafka_partition", "kafka_offset")
PAGE_ROWS = 500


def read_day(session: Session, topic: str, day: dt.date, columns: str = "*", keyspace: str = KEYSPACE) -> list:
    """A topic's dead letters of one UTC day: its 24 hourly partitions in turn, each a single-partition read."""
    query = session.prepare(f"SELECT {columns} FROM {keyspace}.{TABLE} WHERE topic = ? AND day = ? AND hour = ?")
    return [row for hour in HOURS for row in session.execute(query, (topic, day, hour))]


def read_hours(
    session: Session, topic: str, hours: list[tuple[dt.date, int]], columns: str = "*", keyspace: str = KEYSPACE
) -> list:
    """A topic's dead letters in the given (UTC day, hour) partitions, read concurrently."""
    query = session.prepare(f"SELECT {columns} FROM {keyspace}.{TABLE} WHERE topic = ? AND day = ? AND hour = ?")
    arguments = [(topic, day, hour) for day, hour in hours]
    rows = []
    for ok, result in execute_concurrent_with_args(session, query, arguments, concurrency=32):
        if not ok:
            raise result
        rows += list(result)
    return rows


def layout(session: Session, table: str, keyspace: str = KEYSPACE) -> str | None:
    """'hourly', 'daily' (the first layout), or None when the table does not exist."""
    columns = table_columns(session, table, keyspace)
    if not columns:
        return None
    return "hourly" if "hour" in columns else "daily"


def _copy(session: Session, source: str, target: str, keyspace: str) -> int:
    """Upsert every row of `source` into `target` (hourly layout), keeping each row's remaining TTL."""
    has_hour = layout(session, source, keyspace) == "hourly"
    present = table_columns(session, source, keyspace)
    value_columns = (*VALUE_COLUMNS, *(c for c in HEADER_COLUMNS if c in present))
    selected = ", ".join(("topic", "day", "kafka_partition", "kafka_offset", *value_columns))
    select = f"SELECT {selected}, {'hour, ' if has_hour else ''}TTL(reason) AS ttl FROM {keyspace}.{source}"
    insert = session.prepare(
        f"INSERT INTO {keyspace}.{target} ({', '.join(KEY_COLUMNS + value_columns)}) "
        f"VALUES ({', '.join('?' * (len(KEY_COLUMNS) + len(value_columns)))}) USING TTL ?"
    )
    copied = 0
    batch: list[tuple] = []

    def flush() -> None:
        for ok, result in execute_concurrent_with_args(session, insert, batch, concurrency=32):
            if not ok:
                raise result
        batch.clear()

    for row in session.execute(select, timeout=60):
        hour = row.hour if has_hour else (row.produced_at.hour if row.produced_at else 0)
        values = tuple(getattr(row, c) for c in value_columns)
        # TTL 0 means "never expires": rows written without a TTL keep that.
        batch.append((row.topic, row.day, hour, row.kafka_partition, row.kafka_offset, *values, row.ttl or 0))
        copied += 1
        if len(batch) >= PAGE_ROWS:
            flush()
    flush()
    return copied


def move_to_hourly(session: Session, create_statement: str, keyspace: str = KEYSPACE) -> int | None:
    """Bring `dead_letters` to the hourly layout; returns the rows moved, or None when nothing had to move.
    `create_statement` is the table's CREATE TABLE IF NOT EXISTS from the setup file."""
    staging_statement = create_statement.replace(f"{keyspace}.{TABLE} (", f"{keyspace}.{STAGING} (")
    if staging_statement == create_statement:
        raise ValueError(f"not the CREATE statement of {keyspace}.{TABLE}: {create_statement[:80]}")
    current, staged = layout(session, TABLE, keyspace), layout(session, STAGING, keyspace)
    if current != "daily" and staged is None:
        return None
    if current == "daily":
        session.execute(staging_statement, timeout=60)
        moved = _copy(session, TABLE, STAGING, keyspace)
        log.info("dead_letters: %d rows copied to %s; replacing the table", moved, STAGING)
        session.execute(f"DROP TABLE {keyspace}.{TABLE}", timeout=60)
    session.execute(create_statement, timeout=60)
    moved = _copy(session, STAGING, TABLE, keyspace)
    session.execute(f"DROP TABLE {keyspace}.{STAGING}", timeout=60)
    return moved
