"""What writing optional fields as nulls costs, against leaving them unset (the job's setting since
`spark.cassandra.output.ignoreNulls=true`):

    python3 main.py bench nulls [--events 100000]

The same generated auth rows (most have no `failure_reason`, failed logins no `session_id`) go into two
copies of `auth_logs` in a keyspace of the bench's own, created and dropped here: once with every null bound
(each a cell tombstone, as the connector wrote them before), once with nulls unset. Measured: write rows/s
(prepared inserts, 128 in flight), the tombstone cells and the latency of whole-partition reads (one user
each, every user three times, 32 in flight), and one traced read's own count of tombstone cells.
"""

from __future__ import annotations

import statistics
import time
import uuid
from itertools import islice

from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import UNSET_VALUE, SimpleStatement

from config.settings import Settings
from database.cassandra_connection import CassandraConnection
from database.rows import table_row
from database.schema import KEYSPACE, render_setup
from kafka.contract import AUTH
from kafka.kafka_producer import wall_clock_events
from kafka.logs_generators import LogGenerator

WRITES_IN_FLIGHT = 128
READS_IN_FLIGHT = 32
READ_PASSES = 3
USERS = 2000


def _auth_table_ddl(settings: Settings, keyspace: str, table: str) -> list[str]:
    statements = render_setup(settings)
    keyspace_ddl = next(s for s in statements if s.startswith("CREATE KEYSPACE"))
    table_ddl = next(s for s in statements if f"{KEYSPACE}.{AUTH.table} (" in s)
    return [
        keyspace_ddl.replace(f"EXISTS {KEYSPACE}", f"EXISTS {keyspace}"),
        table_ddl.replace(f"{KEYSPACE}.{AUTH.table} (", f"{keyspace}.{table} ("),
    ]


def _rows(count: int) -> list[dict]:
    events = wall_clock_events(LogGenerator(seed=17, users=USERS, user_prefix="nulls"), [AUTH])
    return [table_row(AUTH, e.value) for e in islice(events, count)]


def _write(cassandra: CassandraConnection, keyspace: str, table: str, rows: list[dict], unset: bool) -> float:
    columns = list(rows[0])
    insert = cassandra.session.prepare(
        f"INSERT INTO {keyspace}.{table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    values = [tuple(UNSET_VALUE if unset and row[c] is None else row[c] for c in columns) for row in rows]
    started = time.perf_counter()
    for ok, result in execute_concurrent_with_args(cassandra.session, insert, values, concurrency=WRITES_IN_FLIGHT):
        if not ok:
            raise result
    return len(rows) / (time.perf_counter() - started)


def _read(cassandra: CassandraConnection, keyspace: str, table: str, users: list[str]) -> dict:
    query = cassandra.session.prepare(f"SELECT * FROM {keyspace}.{table} WHERE user_id = ?")
    latencies: list[float] = []
    session = cassandra.session
    for _ in range(READ_PASSES):
        for start in range(0, len(users), READS_IN_FLIGHT):
            futures = [
                (time.perf_counter(), session.execute_async(query, (u,)))
                for u in users[start : start + READS_IN_FLIGHT]
            ]
            for began, future in futures:
                future.result()
                latencies.append(time.perf_counter() - began)
    latencies.sort()
    traced = session.execute(
        SimpleStatement(f"SELECT * FROM {keyspace}.{table} WHERE user_id = %s"), (users[0],), trace=True
    ).get_query_trace(max_wait_sec=10)
    tombstones = [e.description for e in traced.events if "tombstone cells" in e.description]
    server = {}
    for view in ("local_read_latency", "local_write_latency", "tombstones_per_read"):
        row = session.execute(
            f"SELECT * FROM system_views.{view} WHERE keyspace_name = %s AND table_name = %s ALLOW FILTERING",
            (keyspace, table),
        ).one()
        if row is not None:  # Cassandra's own histograms: no client or network time in them
            server[view] = {k: v for k, v in row._asdict().items() if k not in ("keyspace_name", "table_name")}
    return {
        "server": server,
        "read_p50_ms": statistics.median(latencies) * 1000,
        "read_p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "reads": len(latencies),
        "trace": tombstones[0] if tombstones else "no tombstone line",
    }


def run(settings: Settings, events: int = 100_000) -> dict:
    keyspace = f"bench_nulls_{uuid.uuid4().hex[:8]}"
    rows = _rows(events)
    users = sorted({r["user_id"] for r in rows})
    nulls = sum(v is None for row in rows for v in row.values())
    results = {"rows": len(rows), "users": len(users), "null_fields": nulls}
    with CassandraConnection.open(settings) as cassandra:
        try:
            statements = _auth_table_ddl(settings, keyspace, "with_nulls")
            statements += _auth_table_ddl(settings, keyspace, "nulls_unset")[1:]
            for statement in statements:
                cassandra.session.execute(statement, timeout=60)
            for table, unset in (("with_nulls", False), ("nulls_unset", True)):
                results[f"{table}_write_rows_per_s"] = _write(cassandra, keyspace, table, rows, unset)
            for table in ("with_nulls", "nulls_unset"):
                results[table] = _read(cassandra, keyspace, table, users)
        finally:
            cassandra.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
    return results


def format_results(results: dict) -> str:
    lines = [
        f"{results['rows']:,} auth rows of {results['users']:,} users, {results['null_fields']:,} null fields "
        f"({results['null_fields'] / results['rows']:.1f} a row)",
        f"{'':<28} {'write rows/s':>12} {'read p50':>9} {'read p99':>9}  traced read of one partition",
    ]
    labels = (("with_nulls", "nulls written (before)"), ("nulls_unset", "nulls unset (now)"))
    for table, label in labels:
        read = results[table]
        lines.append(
            f"{label:<28} {results[f'{table}_write_rows_per_s']:>12,.0f} {read['read_p50_ms']:>7.2f}ms "
            f"{read['read_p99_ms']:>7.2f}ms  {read['trace']}"
        )
    lines.append("Cassandra's own histograms (system_views), p50 / p99:")
    for table, label in labels:
        server = results[table]["server"]
        parts = []
        for view, unit in (("local_write_latency", "ms"), ("local_read_latency", "ms"), ("tombstones_per_read", "")):
            if view in server:
                p50, p99 = (server[view].get(k) for k in (("p50th_ms", "p99th_ms") if unit else ("p50th", "p99th")))
                parts.append(f"{view.replace('_', ' ')} {p50} / {p99}{unit}")
        lines.append(f"  {label:<26} {'; '.join(parts)}")
    return "\n".join(lines)
