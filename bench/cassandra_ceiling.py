"""The Cassandra write ceiling on this box: the job's rows (same tables, same columns, lineage included)
written straight through cassandra-driver with prepared statements, many in flight, no Kafka and no Spark.

The Python driver is CPU-bound in one process, so the search covers processes x requests in flight and
keeps the best. Each process builds its rows before the clock starts; all start together.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from datetime import UTC, datetime
from itertools import islice

from cassandra.concurrent import execute_concurrent

from config.settings import Settings
from database.cassandra_connection import CassandraConnection
from database.rows import table_row
from kafka.contract import STREAMS
from kafka.kafka_producer import wall_clock_events
from kafka.logs_generators import LogGenerator

LINEAGE = ("kafka_partition", "kafka_offset", "produced_at")


def insert_statements(keyspace: str, stream) -> str:
    columns = [*stream.field_names, "event_day", *LINEAGE]
    return f"INSERT INTO {keyspace}.{stream.table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def job_rows(count: int, seed: int) -> list[tuple[str, dict]]:
    """(stream name, column -> value) for `count` fresh events, as the job writes them (lineage included)."""
    generator = LogGenerator(seed=seed, users=2000, user_prefix=f"ceiling_{uuid.uuid4().hex[:8]}")
    produced_at = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for offset, event in enumerate(islice(wall_clock_events(generator, STREAMS), count)):
        lineage = {"kafka_partition": offset % 3, "kafka_offset": offset, "produced_at": produced_at}
        rows.append((event.stream.name, {**table_row(event.stream, event.value), **lineage}))
    return rows


def rows_by_table(count: int, seed: int) -> dict[str, list[dict]]:
    tables = {s.name: s.table for s in STREAMS}
    grouped: dict[str, list[dict]] = {s.table: [] for s in STREAMS}
    for name, row in job_rows(count, seed):
        grouped[tables[name]].append(row)
    return grouped


def _rows(count: int, seed: int) -> list[tuple[str, tuple]]:
    """(stream name, bound values in insert_statements' column order)."""
    return [(name, tuple(row.values())) for name, row in job_rows(count, seed)]


def _worker(settings: Settings, rows: int, seed: int, in_flight: int, start, results) -> None:
    work = _rows(rows, seed)
    with CassandraConnection.open(settings, retry_s=30) as cassandra:
        prepared = {s.name: cassandra.prepare(insert_statements(settings.cassandra_keyspace, s)) for s in STREAMS}
        statements = [(prepared[name], values) for name, values in work]
        start.wait(timeout=120)
        began = time.perf_counter()
        outcome = execute_concurrent(cassandra.session, statements, concurrency=in_flight, raise_on_first_error=False)
        elapsed = time.perf_counter() - began
    failed = sum(1 for ok, _ in outcome if not ok)
    results.put((len(work) - failed, failed, elapsed))


def measure(settings: Settings, processes: int, in_flight: int, rows_per_process: int) -> dict:
    """Rows/s with `processes` writers, each keeping `in_flight` requests outstanding."""
    context = multiprocessing.get_context("spawn")  # no driver threads inherited through fork
    start, results = context.Barrier(processes + 1), context.Queue()
    workers = [
        context.Process(target=_worker, args=(settings, rows_per_process, 100 + i, in_flight, start, results))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        start.wait(timeout=180)
        began = time.perf_counter()
        outcomes = [results.get(timeout=600) for _ in workers]
        wall = time.perf_counter() - began
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    written = sum(o[0] for o in outcomes)
    return {
        "processes": processes,
        "in_flight": in_flight,
        "rows": written,
        "failed": sum(o[1] for o in outcomes),
        "rows_per_s": round(written / wall, 1),
    }


def search(settings: Settings, grid: list[tuple[int, int]], rows_per_process: int) -> dict:
    """Every (processes, in flight) pair of the grid; the best is the ceiling."""
    trials = [measure(settings, p, c, rows_per_process) for p, c in grid]
    best = max(trials, key=lambda t: t["rows_per_s"])
    return {"rows_per_s": best["rows_per_s"], "best": best, "trials": trials}


def format_results(results: dict) -> str:
    lines = [
        f"  {t['processes']} process(es) x {t['in_flight']:>4} in flight: {t['rows_per_s']:>10,.0f} rows/s"
        + (f"  ({t['failed']} failed)" if t["failed"] else "")
        for t in results["trials"]
    ]
    return "\n".join([f"Cassandra write ceiling (cassandra-driver): {results['rows_per_s']:,.0f} rows/s", *lines])
