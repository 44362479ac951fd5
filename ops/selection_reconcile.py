"""Chaos's reconciliation: the selected records of an exact offset range against the rows in Cassandra, event
id by event id, keeping each record's position (`main.py reconcile`, ops/reconcile.py, is the operator's tool).

Nothing here trusts the job: the records are read with our own consumer and decoded from the Confluent wire
format with the writer schema their id names (fetched from the registry), and the rows are read back from
the tables by partition. An event is missing if no row has its id, doubled if more than one row has it, and
a row is extra if its id is in none of the records read.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from cassandra.concurrent import execute_concurrent_with_args

from config.settings import Settings
from database.cassandra_connection import CassandraConnection
from database.schema import KEYSPACE
from kafka.contract import STREAMS, LogStream
from ops.wire import WireDecoder, read_range

Offsets = dict[str, dict[int, int]]  # topic -> partition -> offset


@dataclass
class TopicReport:
    topic: str
    table: str
    records: int = 0  # records in the range that the selection kept
    undecodable: int = 0
    rows: int = 0  # events found in the table
    missing: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.doubled or self.extra)


@dataclass
class Reconciliation:
    topics: list[TopicReport]
    positions: dict[tuple[str, int, int], str]  # (topic, partition, offset) -> event id, selected records

    @property
    def clean(self) -> bool:
        return all(t.clean for t in self.topics)


def _as_key(value, cql_type: str):
    return uuid.UUID(str(value)) if cql_type in ("uuid", "timeuuid") else value


def reconcile(
    settings: Settings,
    start: Offsets,
    end: Offsets,
    select: Callable[[dict], bool] = lambda _value: True,
    streams: tuple[LogStream, ...] = STREAMS,
) -> Reconciliation:
    """Compare the selected records of each topic's [start, end) with the rows of its table."""
    decode = WireDecoder(settings.registry_client("admin"))
    reports, positions = [], {}
    with CassandraConnection.open(settings) as cassandra:
        for stream in streams:
            table = cassandra.cluster.metadata.keyspaces[KEYSPACE].tables[stream.table]
            (key_column,) = table.partition_key  # each table has a one-column partition key
            report = TopicReport(stream.topic, stream.table)
            produced: set[str] = set()
            partitions: set = set()
            for partition, offset, raw in read_range(
                settings, stream.topic, start.get(stream.topic, {}), end[stream.topic]
            ):
                value = decode(raw)
                if value is None:
                    report.undecodable += 1
                    continue
                if not select(value):
                    continue
                event_id = str(value["event_id"])
                report.records += 1
                produced.add(event_id)
                positions[(stream.topic, partition, offset)] = event_id
                partitions.add(_as_key(value[key_column.name], key_column.cql_type))
            query = cassandra.prepare(f"SELECT event_id FROM {KEYSPACE}.{stream.table} WHERE {key_column.name} = ?")
            found: Counter = Counter()
            results = execute_concurrent_with_args(
                cassandra.session, query, [(k,) for k in partitions], concurrency=64, raise_on_first_error=True
            )
            for _ok, rows in results:
                found.update(str(row.event_id) for row in rows)
            report.rows = len(produced & found.keys())
            report.missing = sorted(produced - found.keys())
            report.extra = sorted(found.keys() - produced)
            report.doubled = sorted(e for e, n in found.items() if n > 1)
            reports.append(report)
    return Reconciliation(reports, positions)


def format_reconciliation(result: Reconciliation) -> str:
    lines = [f"{'TOPIC':<20} {'RECORDS':>9} {'UNDECODABLE':>11} {'ROWS':>9} {'MISSING':>8} {'DOUBLED':>8} {'EXTRA':>6}"]
    for t in result.topics:
        lines.append(
            f"{t.topic:<20} {t.records:>9,} {t.undecodable:>11,} {t.rows:>9,} {len(t.missing):>8,} "
            f"{len(t.doubled):>8,} {len(t.extra):>6,}"
        )
        for what in ("missing", "doubled", "extra"):
            ids = getattr(t, what)
            if ids:
                lines.append(f"  {t.topic} {what}: {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}")
    return "\n".join(lines)
