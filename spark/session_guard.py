"""Keeps the Cassandra connector's shared driver session able to refresh its schema.

Why: before every write the spark-cassandra-connector reads the table's definition through
`Session.refreshSchema()`, which waits with no timeout and cannot be interrupted. In java-driver 4.18.1
(the connector's), a schema refresh that starts while the control connection is reconnecting (Cassandra
restarting) fails with "Control channel not available, aborting schema refresh" and never frees the
session's one refresh slot: every later refresh on that session queues behind it forever. The connector
shares that session between the three queries and keeps it while any batch holds it, so after a Cassandra
restart all three queries could wait in `refreshSchema` with nothing logged: the silent stall of issue 12,
seen in thread dumps of the driver.

The guard refreshes the same session every few seconds with a bound. A session whose refresh fails or does
not finish in time is force-closed, which fails every refresh queued on it (those batches fail and are
retried from their checkpoints), and the connector opens a new session for the next batch.
"""

from __future__ import annotations

import logging
import threading

from py4j.protocol import Py4JError
from pyspark.sql import SparkSession

from spark.errors import first_line

log = logging.getLogger(__name__)


class ConnectorSessionGuard:
    def __init__(self, spark: SparkSession, every_s: float, timeout_s: float = 15) -> None:
        jvm = spark._jvm
        self._connector_object = jvm.com.datastax.spark.connector.cql.CassandraConnector
        # The same connection settings as the job's writes, so the same cached session.
        self._connector = self._connector_object.apply(spark.sparkContext._jsc.sc().getConf())
        self._millis = jvm.java.util.concurrent.TimeUnit.MILLISECONDS
        self.every_s = every_s
        self.timeout_ms = int(timeout_s * 1000)
        self.replaced = 0
        self.last_reason: str | None = None  # why the session was last replaced, or could not be opened
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="cassandra-session-guard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.wait(self.every_s):
            try:
                self.probe()
            except Py4JError as exc:  # the JVM going away at shutdown
                if self._stopping.is_set():
                    return
                log.warning("session guard: %s", first_line(exc))

    def probe(self) -> str | None:
        """None if the connector's session refreshed its schema in time; otherwise why not, after the
        session was replaced."""
        with self._lock:
            try:
                session = self._connector.openSession()
            except Py4JError as exc:  # no session could be opened (Cassandra down): nothing is stuck on one
                self.last_reason = first_line(exc)
                return self.last_reason
            try:
                session.refreshSchemaAsync().toCompletableFuture().get(self.timeout_ms, self._millis)
            except Py4JError as exc:
                problem = first_line(exc)
                if problem == "TimeoutException":
                    problem = f"schema refresh did not finish within {self.timeout_ms / 1000:.0f} s"
                self._replace(session, problem)
                return problem
            # A healthy session stays cached (the connector closes it after its keep-alive without use).
            session.close()
            return None

    def replace_session(self, why: str) -> None:
        """Force-close the connector's session whatever its state (the stall watchdog's first step)."""
        with self._lock:
            try:
                session = self._connector.openSession()
            except Py4JError:
                return
            self._replace(session, why)

    def _replace(self, session, why: str) -> None:
        """Close the session for every user, then drop it from the connector's cache (with our reference),
        so the next batch opens a new one."""
        self.replaced += 1
        self.last_reason = why
        log.warning("Cassandra connector session replaced (%s): batches waiting on it fail and are retried", why)
        session.forceCloseAsync()
        session.close()
        self._connector_object.evictCache()
