"""Writing micro-batches to Cassandra through the spark-cassandra-connector (from the executors, in
parallel; upserts keyed by the tables' primary keys, so a replayed batch rewrites the same rows)."""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame

from database.cassandra_connection import CassandraConnection
from database.schema import KEYSPACE, add_missing_columns

log = logging.getLogger(__name__)


class CassandraSink:
    def __init__(self, connection: CassandraConnection, keyspace: str = KEYSPACE) -> None:
        self.connection = connection
        self.keyspace = keyspace
        self._known_columns: set[tuple[str, str]] = set()

    def ensure_columns(self, table: str, fields: list[dict]) -> None:
        """A reader schema with a field the table lacks gets its column once (DDL only when a schema changes)."""
        key = (table, ",".join(f["name"] for f in fields))
        if key not in self._known_columns:
            add_missing_columns(self.connection.session, table, fields, self.keyspace)
            self._known_columns.add(key)

    def write(self, rows: DataFrame, table: str) -> None:
        (
            rows.write.format("org.apache.spark.sql.cassandra")
            .options(keyspace=self.keyspace, table=table)
            .mode("append")
            .save()
        )
