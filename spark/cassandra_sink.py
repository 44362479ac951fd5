"""Writing micro-batches to Cassandra through the spark-cassandra-connector (from the executors, in
parallel; upserts keyed by the tables' primary keys, so a replayed batch rewrites the same rows)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pyspark.sql import DataFrame

from config.settings import Settings
from database.cassandra_connection import CassandraConnection
from database.schema import KEYSPACE, add_missing_columns
from spark.errors import first_line

log = logging.getLogger(__name__)

# A write can fail on the connector's shared driver session rather than on Cassandra: a node leaving the
# cluster takes the session's control connection with it when that connection was on it, and a schema
# refresh started before it reconnects elsewhere fails ("Control channel not available"; in java-driver
# 4.18 it also wedges that session, see spark/session_guard.py); other writes then meet the session closed
# under them (the messages vary: closed cluster, terminated event loop, DriverExecutionException). A fresh
# session cures all of them, so the write is done again within its batch (upserts: the same rows) instead
# of failing the batch. Cassandra itself refusing (a quorum not available, timeouts, nobody answering) is
# not retried here: the batch fails and its query restarts from the checkpoint with backoff.
CASSANDRA_REFUSED = (
    "Not enough replicas",
    "Unavailable",
    "NoHostAvailable",
    "AllNodesFailed",
    "WriteTimeout",
    "Cassandra is not answering",
    "Failed to open native connection",
)
WEDGED_SESSION = "Control channel not available"
WRITE_ATTEMPTS = 4


def connector_conf(settings: Settings, role: str = "job") -> dict[str, str]:
    """The spark-cassandra-connector's settings, shared by the job and the bench's connector ceiling; logged in
    as `role` when security is on (Spark's UI shows the password as *********(redacted))."""
    conf = {
        "spark.cassandra.connection.host": settings.cassandra_host,
        "spark.cassandra.connection.port": str(settings.cassandra_port),
        "spark.cassandra.connection.localDC": settings.cassandra_local_dc,
        "spark.cassandra.output.consistency.level": settings.cassandra_write_consistency,
        # Measured on the 2-core box: the connector's defaults (5 writes in flight, small unlogged batches)
        # wrote 1.7k rows/s; 64 single-row writes in flight, 10.6k rows/s. Rows rarely share a partition.
        "spark.cassandra.output.concurrent.writes": str(settings.cassandra_output_concurrent_writes),
        "spark.cassandra.output.batch.size.rows": str(settings.cassandra_output_batch_size_rows),
        # A null bound in a write is a tombstone: optional fields left empty become unset instead. An event id
        # is written with the same values every time (a replay rewrites the same event), so no write ever
        # needs to clear a value a previous one set.
        "spark.cassandra.output.ignoreNulls": "true",
        # Reconnect within seconds once Cassandra is back (the default backoff grows to a minute).
        "spark.cassandra.connection.reconnectionDelayMS.max": "5000",
    }
    if settings.security.enabled:
        credential = settings.security.cassandra(role)
        conf["spark.cassandra.auth.username"] = credential.username
        conf["spark.cassandra.auth.password"] = credential.password
    return conf


class CassandraUnreachableError(RuntimeError):
    """Cassandra did not answer the pre-write check: the batch fails fast and is retried from its checkpoint."""


class CassandraSink:
    def __init__(
        self,
        connection: CassandraConnection,
        keyspace: str = KEYSPACE,
        check_timeout_s: float = 5,
        replace_session: Callable[[str], None] | None = None,
    ) -> None:
        self.connection = connection
        self.keyspace = keyspace
        self.check_timeout_s = check_timeout_s
        self.replace_session = replace_session
        self._known_columns: set[tuple[str, str]] = set()

    def check_available(self) -> None:
        """A cheap query before each write. With Cassandra down, the connector can block forever refreshing
        its schema on a session whose control connection is gone; failing here first never gets it there."""
        try:
            self.connection.session.execute("SELECT release_version FROM system.local", timeout=self.check_timeout_s)
        except Exception as exc:  # NoHostAvailable, OperationTimedOut, ...: all mean "not now"
            raise CassandraUnreachableError(f"Cassandra is not answering ({type(exc).__name__}): {exc}"[:300]) from exc

    def ensure_columns(self, table: str, fields: list[dict]) -> None:
        """A reader schema with a field the table lacks gets its column once (DDL only when a schema changes)."""
        key = (table, ",".join(f["name"] for f in fields))
        if key not in self._known_columns:
            add_missing_columns(self.connection.session, table, fields, self.keyspace)
            self._known_columns.add(key)

    def write(self, rows: DataFrame, table: str) -> None:
        """Append (upsert) the rows; done again, up to WRITE_ATTEMPTS times, when the connector's session failed
        rather than Cassandra. Cassandra's own refusals, and the last attempt's error, fail the batch."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self._save(rows, table)
                return
            except Exception as exc:  # Py4JJavaError, or pyspark's conversion of it
                text = str(exc)
                if attempt == WRITE_ATTEMPTS or any(marker in text for marker in CASSANDRA_REFUSED):
                    raise
                reason = first_line(exc)
                log.warning("%s: write failed (%s); writing it again with a new session (%d of %d)",
                            table, reason, attempt + 1, WRITE_ATTEMPTS)  # fmt: skip
                if WEDGED_SESSION in text and self.replace_session is not None:
                    self.replace_session(f"a write failed: {WEDGED_SESSION}")
                time.sleep(attempt)

    def _save(self, rows: DataFrame, table: str) -> None:
        (
            rows.write.format("org.apache.spark.sql.cassandra")
            .options(keyspace=self.keyspace, table=table)
            .mode("append")
            .save()
        )
