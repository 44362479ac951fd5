"""Letting Cassandra finish the compactions an earlier step left behind, so each measurement starts from the
same quiet state instead of paying for the previous one's writes (the connector ceiling alone writes some
200k rows). Read from Cassandra's own virtual table of thread pools."""

from __future__ import annotations

import time

from config.settings import Settings
from database.cassandra_connection import CassandraConnection

QUERY = "SELECT active_tasks, pending_tasks FROM system_views.thread_pools WHERE name = 'CompactionExecutor'"
POLL_S = 1.0


def compactions_running(cassandra: CassandraConnection) -> int:
    row = cassandra.session.execute(QUERY).one()
    return (row.active_tasks + row.pending_tasks) if row else 0


def wait_for_compactions(settings: Settings, timeout_s: float) -> float:
    """Seconds waited until no compaction runs or is pending (at most `timeout_s`: the bench goes on)."""
    started = time.monotonic()
    with CassandraConnection.open(settings) as cassandra:
        while compactions_running(cassandra) and time.monotonic() - started < timeout_s:
            time.sleep(POLL_S)
    return round(time.monotonic() - started, 1)
