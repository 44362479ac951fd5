"""Dead letters of the first (topic, day) layout move into the hourly one on the real Cassandra, in a keyspace
of the test's own: every row kept with its hour and remaining TTL, and a run cut short finishes next time."""

from __future__ import annotations

import datetime as dt

import pytest

from database import dead_letters
from database.bootstrap import dead_letters_statement
from database.cassandra_connection import build_cluster

DAILY_LAYOUT = """CREATE TABLE {ks}.dead_letters (
  topic text, day date, kafka_partition int, kafka_offset bigint, reason text, schema_id int,
  raw_key blob, raw_value blob, produced_at timestamp, failed_at timestamp,
  PRIMARY KEY ((topic, day), kafka_partition, kafka_offset))"""
DAY = dt.date(2026, 5, 6)


@pytest.fixture
def keyspace(settings, unique_name: str):
    cluster = build_cluster(settings)
    session = cluster.connect()
    session.execute(
        f"CREATE KEYSPACE {unique_name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
    )
    yield session, unique_name
    session.execute(f"DROP KEYSPACE {unique_name}", timeout=60)
    cluster.shutdown()


def fill_daily_table(session, ks: str, rows: int) -> None:
    session.execute(DAILY_LAYOUT.format(ks=ks), timeout=60)
    insert = session.prepare(
        f"INSERT INTO {ks}.dead_letters (topic, day, kafka_partition, kafka_offset, reason, schema_id, raw_key, "
        "raw_value, produced_at, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?"
    )
    for offset in range(rows):
        produced = dt.datetime.combine(DAY, dt.time(offset % 24, 30))
        ttl = 0 if offset == 0 else 86_400  # the first row never expires
        values = ("t", DAY, offset % 2, offset, f"reason {offset}", 7, b"k", bytes([offset % 256]), produced, produced)
        session.execute(insert, (*values, ttl))


def test_daily_dead_letters_move_to_hourly_partitions(settings, keyspace) -> None:
    session, ks = keyspace
    fill_daily_table(session, ks, rows=1200)
    statement = dead_letters_statement(settings).replace("user_logs.", f"{ks}.")

    assert dead_letters.move_to_hourly(session, statement, ks) == 1200
    assert dead_letters.layout(session, dead_letters.TABLE, ks) == "hourly"
    assert dead_letters.layout(session, dead_letters.STAGING, ks) is None
    rows = dead_letters.read_day(session, "t", DAY, "kafka_offset, hour, reason, TTL(reason) AS ttl", ks)
    assert sorted(r.kafka_offset for r in rows) == list(range(1200))
    assert all(r.hour == r.kafka_offset % 24 and r.reason == f"reason {r.kafka_offset}" for r in rows)
    ttls = {r.kafka_offset: r.ttl for r in rows}
    assert ttls[0] is None and all(80_000 < ttls[o] <= 86_400 for o in range(1, 1200))
    assert dead_letters.move_to_hourly(session, statement, ks) is None, "a second run has nothing to move"


def test_a_move_cut_short_after_the_drop_finishes_on_the_next_run(settings, keyspace) -> None:
    session, ks = keyspace
    fill_daily_table(session, ks, rows=50)
    statement = dead_letters_statement(settings).replace("user_logs.", f"{ks}.")
    staging = statement.replace(f"{ks}.dead_letters (", f"{ks}.dead_letters_moving (")
    # The state a crash between "drop the old table" and "create the new one" leaves: rows only in staging.
    session.execute(staging, timeout=60)
    dead_letters._copy(session, dead_letters.TABLE, dead_letters.STAGING, ks)
    session.execute(f"DROP TABLE {ks}.dead_letters", timeout=60)

    assert dead_letters.move_to_hourly(session, statement, ks) == 50
    assert len(dead_letters.read_day(session, "t", DAY, "kafka_offset", ks)) == 50
    assert dead_letters.layout(session, dead_letters.STAGING, ks) is None
