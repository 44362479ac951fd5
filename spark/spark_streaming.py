"""The streaming job: three Kafka topics of Confluent-framed Avro -> from_avro -> foreachBatch -> Cassandra.

    spark-submit --master spark://127.0.0.1:7077 spark/spark_streaming.py      # or: python3 main.py stream

Connector jars come from spark-defaults.conf (local mode) or the image (Compose), never from this file.
Settings (bootstrap servers, registry, Cassandra, checkpoint, offsets) come from `.env`/the environment.

One query per topic (measured faster than one query over all three split inside the batch: each batch is a
single Spark job, and the three run side by side). Each micro-batch: split the wire format; decode every
record with the writer schema its id names (fetched from the registry by id, cached), resolved to the topic's
latest (reader) schema; write good rows to the topic's table and everything undecodable to `dead_letters`
with the reason. A batch that fails (Cassandra down, say) is not committed: its query restarts from its
checkpoint after a backoff, and idempotent writes make the replay harmless.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from functools import lru_cache
from pathlib import Path

# The driver imports the project's modules (settings, contract); executors need none (all JVM expressions).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from py4j.java_gateway import java_import  # noqa: E402
from py4j.protocol import Py4JError  # noqa: E402
from pyspark.sql import Column, DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from config.settings import Settings, SettingsError, load_settings  # noqa: E402
from database.cassandra_connection import CassandraConnection  # noqa: E402
from database.schema import table_columns  # noqa: E402
from kafka.contract import AUTH, LogStream, streams  # noqa: E402
from kafka.offsets import lag, processed_offsets, topic_end_offsets  # noqa: E402
from spark import auth_alerts, diagnostics, faults, shutdown, transforms  # noqa: E402
from spark.cassandra_sink import CassandraSink, connector_conf  # noqa: E402
from spark.checkpoint_lock import CheckpointLock, CheckpointLocked  # noqa: E402
from spark.checkpoints import committed_progress  # noqa: E402
from spark.errors import first_line  # noqa: E402
from spark.observed import Observer  # noqa: E402
from spark.schema_resolver import SchemaResolver  # noqa: E402
from spark.session_guard import ConnectorSessionGuard  # noqa: E402

log = logging.getLogger("spark_streaming")

# The job's exit status when a stalled query could not be brought back: its supervisor starts it afresh.
EXIT_STALLED = 70
DEAD_LETTERS_TABLE = "dead_letters"
DEAD_LETTER_INPUT = (
    "topic",
    "kafka_partition",
    "kafka_offset",
    "produced_at",
    "raw_key",
    "raw_value",
    "schema_id",
    "error",
)


JVM_NAMES_PER_BATCH = (
    "org.apache.spark.sql.functions",
    "org.apache.spark.api.python.PythonUtils",
    "org.apache.spark.sql.SparkSession$",
)


# Typesafe Config (the Java driver's configuration) reads a list from properties indexed 0, 1, ...
REFRESHED_KEYSPACES = "datastax-java-driver.advanced.metadata.schema.refreshed-keyspaces.0"


def build_session(settings: Settings) -> SparkSession:
    builder = (
        SparkSession.builder.appName(settings.job_name)
        # Batches are small and the box has 2 cores: few shuffle partitions keep per-batch overhead low.
        .config("spark.sql.shuffle.partitions", "2")
        # Days and hours (event_day, the dead letters' partition) are UTC whatever the host's zone.
        .config("spark.sql.session.timeZone", "UTC")
        # Hadoop's FileContext rename on the local file system forks `readlink` for every checkpoint file
        # (several per batch, from an 800 MB JVM): a third of the stream threads' time in a profile here.
        # FileSystem.rename is a plain POSIX rename, atomic on the local disks checkpoints live on.
        .config(
            "spark.sql.streaming.checkpointFileManagerClass",
            "org.apache.spark.sql.execution.streaming.FileSystemBasedCheckpointFileManager",
        )
        # One executor: never hold a task back waiting for a "better" location.
        .config("spark.locality.wait", "0s")
        # Stopping a query interrupts its thread and waits; a thread blocked where interrupts do not reach
        # must not hold the stall watchdog (or a shutdown) forever.
        .config("spark.sql.streaming.stopTimeout", "30s")
        # A job that runs for weeks: the UI keeps the recent past only (the defaults keep 1,000 jobs and
        # stages, which grow the driver's heap and listener work on a small box).
        .config("spark.ui.retainedJobs", "100")
        .config("spark.ui.retainedStages", "100")
        .config("spark.ui.retainedTasks", "10000")
        .config("spark.sql.ui.retainedExecutions", "50")
        .config("spark.sql.streaming.ui.retainedProgressUpdates", "100")
    )
    for key, value in connector_conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    # pyspark names these classes by simple name on every batch of every query; py4j then tries each wildcard
    # import in turn, and each miss scans the class path (milliseconds each). Imported by full name, they are
    # found at the first try.
    for name in JVM_NAMES_PER_BATCH:
        java_import(spark.sparkContext._jvm, name)
    # The connector refreshes its driver session's schema metadata before every write (to read the table's
    # definition): all keyspaces by default, 0.2 s of each batch on this box. The job writes one keyspace.
    # The Java driver reads this from system properties when the connector opens its session (after this).
    spark.sparkContext._jvm.java.lang.System.setProperty(REFRESHED_KEYSPACES, settings.cassandra_keyspace)
    return spark


def avro_compatibility(spark: SparkSession):
    """Avro's own reader/writer check (org.apache.avro.SchemaCompatibility, shipped with Spark)."""
    avro = spark.sparkContext._jvm.org.apache.avro

    @lru_cache(maxsize=256)  # asked every batch; schema texts never change under an id
    def why_incompatible(reader: str, writer: str) -> str | None:
        result = avro.SchemaCompatibility.checkReaderWriterCompatibility(
            avro.Schema.Parser().parse(reader), avro.Schema.Parser().parse(writer)
        )
        if result.getType().toString() == "COMPATIBLE":
            return None
        return " ".join(str(result.getDescription()).split())[:300]

    return why_incompatible


@lru_cache(maxsize=64)
def batch_metrics(listed_ids: tuple[int, ...]) -> tuple[tuple[str, Column], ...]:
    """Counted while the batch is written: rows, bad rows, the newest Kafka timestamp written, and the schema
    ids that are not among the subject's listed versions (built once per id set: every
    pyspark.sql.functions call is a round trip to the JVM)."""
    schema_id = F.col("schema_id")
    unlisted = schema_id.isNotNull() & ~schema_id.isin(list(listed_ids)) if listed_ids else schema_id.isNotNull()
    metrics = {
        "rows": F.count(F.lit(1)),
        "bad": F.count(F.col("error")),
        "newest_ms": F.max(F.when(F.col("error").isNull(), F.unix_millis("produced_at"))),
        # As text: observed metrics reach Python as JVM objects unless they are plain values.
        "unlisted_ids": F.array_join(F.array_sort(F.collect_set(F.when(unlisted, schema_id))), ","),
    }
    return tuple((name, column.alias(name)) for name, column in metrics.items())


def unlisted_ids(metrics: dict) -> list[int]:
    """The schema ids a batch's observed metrics found outside the subject's listed versions."""
    return [int(i) for i in (metrics["unlisted_ids"] or "").split(",") if i]


class TopicBatchWriter:
    """The foreachBatch function of one topic's query: decode a micro-batch and write it, or raise (and
    nothing is committed). One Spark job per batch writes the table; observed metrics count the rows that
    must go to dead letters, and only then does a second job write them."""

    def __init__(self, stream: LogStream, resolver: SchemaResolver, sink: CassandraSink, observer: Observer) -> None:
        self.stream = stream
        self.resolver = resolver
        self.sink = sink
        self.observer = observer
        self.rows_written: Counter = Counter()
        self.newest_written_ms: int | None = None  # Kafka timestamp of the newest record written
        self.batch_started: float | None = None  # monotonic time the batch in progress started
        self.last_batch_done: float | None = None  # monotonic time the last batch was committed to Cassandra
        self.last_batch_wall: float | None = None
        self.released = threading.Event()  # set by the stall watchdog when it restarts the query

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        self.batch_started = time.monotonic()
        try:
            faults.block_if_asked(self.stream.topic, self.released)
            self._write(batch, batch_id)
        finally:
            self.batch_started = None
        self.last_batch_done, self.last_batch_wall = time.monotonic(), time.time()

    def _write(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        stream = self.stream
        schemas = self.resolver.for_batch(stream)
        resolved = time.monotonic()
        decoded = transforms.decode(transforms.frame(batch), schemas.writers, schemas.reader)
        checked = transforms.check_decoded(decoded, stream, schemas.writers, schemas.rejected)
        listed = tuple(sorted([*schemas.writers, *schemas.rejected]))
        observed, outcome = self.observer.observe(checked, f"{stream.table}-{batch_id}", batch_metrics(listed))
        self.sink.check_available()
        self.sink.ensure_columns(stream.table, schemas.reader_fields)
        planned = time.monotonic()
        self.sink.write(transforms.table_rows(observed, stream, schemas.field_names), stream.table)
        metrics = outcome.values()
        written, bad = metrics["rows"] - metrics["bad"], metrics["bad"]
        wrote = time.monotonic()
        if unknown := unlisted_ids(metrics):  # dead letters for an unknown schema id only on the registry's word
            self.resolver.confirm_unknown(stream, unknown, schemas)
        if bad:  # rare: the batch is read and decoded a second time for its dead letters
            self.sink.write(transforms.dead_letter_rows(checked), DEAD_LETTERS_TABLE)
            log.warning("%s batch %d: %d records -> %s", stream.topic, batch_id, bad, DEAD_LETTERS_TABLE)
        self.rows_written[stream.table] += written
        self.rows_written[DEAD_LETTERS_TABLE] += bad
        if metrics["newest_ms"] is not None:
            self.newest_written_ms = max(self.newest_written_ms or 0, metrics["newest_ms"])
        log.info(
            "%s batch %d: %d rows written in %.2f s (registry %.2f, plan %.2f, write %.2f)",
            stream.topic, batch_id, written, time.monotonic() - started,
            resolved - started, planned - resolved, wrote - planned,
        )  # fmt: skip
        # Tests only: hold a written batch before Spark commits it (a kill now makes its replay certain).
        faults.block_if_asked(stream.topic, self.released, point="block-after-write")


def kafka_source_options(settings: Settings, role: str = "job") -> dict[str, str]:
    """Spark's Kafka source as one Kafka user: the brokers and, with security on, its SASL login (Kafka's
    client logs the JAAS line as [hidden])."""
    return {f"kafka.{key}": value for key, value in settings.kafka_java_client(role).items()}


def read_topic(
    spark: SparkSession, settings: Settings, stream: LogStream, starting_offsets: str | None = None
) -> DataFrame:
    return (
        spark.readStream.format("kafka")
        .options(**kafka_source_options(settings))
        .option("subscribe", stream.topic)
        .option("startingOffsets", starting_offsets or settings.spark_starting_offsets)
        .option("maxOffsetsPerTrigger", settings.spark_max_offsets_per_trigger)
        # Headers travel with a dead letter, so `main.py dead-letters replay` can re-send a record exactly.
        .option("includeHeaders", "true")
        .load()
    )


class JobStalled(RuntimeError):
    """A stalled query that its restart did not bring back: the job exits for its supervisor to start afresh."""


class TopicQuery:
    """One topic's streaming query: restarted from its checkpoint after a failure, with backoff; watched for
    stalls (lag and no batch finished or failed for `spark_stall_timeout_s`), which it answers by dumping
    threads, replacing the Cassandra session and restarting the query, and if the query is still stalled
    `spark_stall_exit_s` later, by raising JobStalled."""

    def __init__(
        self, spark: SparkSession, settings: Settings, writer: TopicBatchWriter, guard: ConnectorSessionGuard
    ) -> None:
        self.spark = spark
        self.settings = settings
        self.writer = writer
        self.guard = guard
        self.stream = writer.stream
        self.query = None
        self.restarts = 0
        self.backoff = 1.0
        self.retry_at = 0.0
        self.last_error: str | None = None
        self.last_failure: float | None = None  # monotonic time of the last failed batch
        # Kept across restarts: the offsets processed so far (at start, what the checkpoint has committed).
        self.last_progress = committed_progress(self.checkpoint, self.stream.topic)
        self.started_at = time.monotonic()
        self.stalled_lag: int | None = None  # set while the query is stalled: its lag then
        self.waiting_since: float | None = None  # quiet past the bound with records waiting: since when
        self.stall_restarts = 0
        self.stall_restarted_at: float | None = None
        self._stopper: threading.Thread | None = None
        self._stop_error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.settings.job_name}-{self.stream.name}"

    @property
    def checkpoint(self) -> Path:
        return self.settings.spark_checkpoint_dir / self.stream.topic

    def streaming_frame(self) -> tuple[DataFrame, str]:
        """What the query writes with foreachBatch, and its output mode: the topic's records as they come."""
        return read_topic(self.spark, self.settings, self.stream), "append"

    def start(self) -> None:
        self.writer.released.clear()
        frame, output_mode = self.streaming_frame()
        self.query = (
            frame.writeStream.queryName(self.name)
            .outputMode(output_mode)
            .foreachBatch(self.writer)
            .option("checkpointLocation", str(self.checkpoint))
            .trigger(processingTime=self.settings.spark_trigger_interval)
            .start()
        )
        self.started_at = time.monotonic()
        log.info("query %s started (checkpoint %s)", self.name, self.checkpoint)

    def absorbs(self, error: str) -> bool:
        """Whether a failure is one the query answers by restarting at once (none, for a topic's query)."""
        return False

    def last_activity(self) -> float:
        """When the query last did something observable: started, finished a batch, or failed one."""
        return max(t for t in (self.started_at, self.writer.last_batch_done, self.last_failure) if t is not None)

    def tend(self) -> None:
        """Restart a failed query once its backoff has passed; reset the backoff after progress; watch for stalls."""
        if self._stopper is not None:
            self._tend_stall_restart()
            return
        if self.query is not None and self.query.isActive:
            progress = self.query.lastProgress
            if progress:
                self.last_progress = progress
            if progress and progress.get("numInputRows", 0) > 0:
                self.backoff = 1.0
            self._watch_for_stall()
            return
        if self.query is not None:
            error = self.query.exception()
            self.query = None
            if error is None:
                return
            if self.absorbs(str(error)):
                self.start()
                return
            self.restarts += 1
            self.last_failure = time.monotonic()
            self.last_error = first_line(error)
            # Sessions nobody holds any more are closed now, so the next batch starts with a fresh one.
            self.spark.sparkContext._jvm.com.datastax.spark.connector.cql.CassandraConnector.evictCache()
            self.retry_at = time.monotonic() + self.backoff
            log.error(
                "%s: batch failed, nothing committed: %s; restarting from the checkpoint in %.0f s",
                self.name, self.last_error, self.backoff,
            )  # fmt: skip
            self.backoff = min(self.backoff * 2, self.settings.spark_restart_backoff_max_s)
        elif time.monotonic() >= self.retry_at:
            self.start()

    def current_lag(self) -> int | None:
        """Records in the topic past the query's last committed batch; None when Kafka does not answer."""
        ends = topic_end_offsets(self.settings.kafka_client("job"), [self.stream.topic])
        if ends is None or self.stream.topic not in ends:
            return None
        return lag(ends[self.stream.topic], processed_offsets(self.last_progress, self.stream.topic))

    def _watch_for_stall(self) -> None:
        """Stalled: a batch running for longer than the bound, or records waiting that long with no batch
        started (the query thread stuck outside foreachBatch). A query that was idle for a while and just
        got data is neither."""
        now = time.monotonic()
        restarted_in_vain = self.stall_restarted_at is not None and self.stall_restarted_at >= self.last_done()
        bound = self.settings.spark_stall_exit_s if restarted_in_vain else self.settings.spark_stall_timeout_s
        running = self.writer.batch_started
        if running is not None:
            self.waiting_since = None
            stuck_s = now - max(running, self.started_at)
        elif now - self.last_activity() < bound:
            self.waiting_since = None
            stuck_s = 0.0
        else:  # quiet for the bound: is anything waiting to be read?
            behind = self.current_lag()  # one Kafka request, only while the query is quiet
            self.waiting_since = (self.waiting_since or now) if behind else None
            stuck_s = now - self.waiting_since if behind else 0.0
        if stuck_s < bound:
            self.stalled_lag = None
            return
        behind = self.current_lag()
        if not behind:  # nothing to do (or Kafka away, and then the source fails by itself)
            self.stalled_lag = None
            return
        self.stalled_lag = behind
        if restarted_in_vain:
            raise JobStalled(f"{self.name} is still stalled {stuck_s:.0f} s after its restart ({behind:,} behind)")
        self._restart_stalled(stuck_s, behind)

    def last_done(self) -> float:
        """When a batch last finished, committed or failed (0 if none has)."""
        return max(t for t in (self.writer.last_batch_done, self.last_failure, 0.0) if t is not None)

    def _restart_stalled(self, idle: float, behind: int) -> None:
        running = self.writer.batch_started
        log.error(
            "%s: STALLED for %.0f s, %s records behind (%s); thread dumps follow, then the query is restarted "
            "from its checkpoint",
            self.name, idle, f"{behind:,}",
            f"a batch running for {time.monotonic() - running:.0f} s" if running else "no batch started",
        )  # fmt: skip
        log_thread_dumps(self.spark)
        self.stall_restarts += 1
        self.stall_restarted_at = time.monotonic()
        # A batch waiting on the connector's session fails once that session is closed; an injected block
        # (tests) once released; Spark interrupts the rest. stop() is bounded by spark.sql.streaming.stopTimeout.
        self.guard.replace_session(f"{self.name} stalled")
        self.writer.released.set()
        query = self.query
        self._stop_error = None
        self._stopper = threading.Thread(
            target=self._stop_stalled, args=(query,), name=f"stop-{self.name}", daemon=True
        )
        self._stopper.start()

    def _stop_stalled(self, query) -> None:
        try:
            query.stop()
        except Exception as exc:  # a py4j error or Spark's TimeoutException: both mean "did not stop"
            self._stop_error = first_line(exc)

    def _tend_stall_restart(self) -> None:
        if self._stopper.is_alive():
            waited = time.monotonic() - self.stall_restarted_at
            if waited > self.settings.spark_stall_exit_s:
                raise JobStalled(f"{self.name} did not stop within {waited:.0f} s of its stall restart")
            return
        self._stopper = None
        if self._stop_error is not None:
            raise JobStalled(f"{self.name} could not be stopped after its stall: {self._stop_error}")
        self.query = None
        self.retry_at = 0.0
        self.start()
        self.started_at = self.stall_restarted_at  # the exit bound counts from the stall restart

    def health(self) -> tuple[str, str | None]:
        """("healthy", None), or ("unhealthy", why): failing (its last batch failed and none succeeded since),
        stalled, or not running."""
        if self.stalled_lag:
            idle = time.monotonic() - self.last_activity()
            return "unhealthy", f"stalled for {idle:.0f} s, {self.stalled_lag:,} records behind"
        if self._stopper is not None:
            return "unhealthy", "restarting after a stall"
        if self.last_failure is not None and self.last_failure >= (self.writer.last_batch_done or 0.0):
            return "unhealthy", f"failing: {self.last_error}"
        if self.query is None or not self.query.isActive:
            return "unhealthy", "not running"
        return "healthy", None

    def status(self) -> dict:
        query = self.query
        health, problem = self.health()
        running = self.writer.batch_started
        now = time.monotonic()
        if self.stalled_lag:
            state = "stalled"
        elif query is not None and query.isActive:
            state = "running"
        else:
            state = "restarting"
        return {
            "state": state,
            "health": health,
            "problem": problem,
            "restarts": self.restarts,
            "stall_restarts": self.stall_restarts,
            "last_error": self.last_error,
            "idle_s": round(now - self.last_activity(), 1),
            "batch_running_s": round(now - running, 1) if running else None,
            "last_batch_at": self.writer.last_batch_wall,
            "rows_written": dict(self.writer.rows_written),
            "newest_written_ms": self.writer.newest_written_ms,
            "last_progress": self.last_progress,
        }

    def stop(self) -> None:
        if self.query is not None and self.query.isActive:
            self.query.stop()


class AlertQuery(TopicQuery):
    """The failed-login windows over the auth topic (spark/auth_alerts.py): its own checkpoint, update mode,
    a plan rebuilt when a record's schema id is new to it, and late drops and state size in its status."""

    def __init__(self, spark, settings, writer: auth_alerts.AlertWriter, guard, plan: auth_alerts.AlertPlan) -> None:
        self.plan = plan
        self.late = auth_alerts.LateCounter()
        self.replans = 0
        super().__init__(spark, settings, writer, guard)

    @property
    def name(self) -> str:
        return f"{self.settings.job_name}-auth-alerts"

    @property
    def checkpoint(self) -> Path:
        return self.settings.spark_checkpoint_dir / f"{self.stream.topic}.alerts"

    def streaming_frame(self) -> tuple[DataFrame, str]:
        source = read_topic(self.spark, self.settings, self.stream, self.plan.rules.starting_offsets)
        return self.plan.build(source), self.plan.output_mode

    def start(self) -> None:
        try:
            super().start()
        except Exception as exc:  # the registry away at planning, or Spark refusing the plan: retried with backoff
            self.query = None
            self.restarts += 1
            self.last_failure = time.monotonic()
            self.last_error = first_line(exc)
            self.retry_at = time.monotonic() + self.backoff
            log.error("%s: could not start: %s; retrying in %.0f s", self.name, self.last_error, self.backoff)
            self.backoff = min(self.backoff * 2, self.settings.spark_restart_backoff_max_s)

    def absorbs(self, error: str) -> bool:
        try:
            absorbed = self.plan.absorb(error)
        except Exception as exc:  # RegistryUnavailable and the like: an ordinary failure then
            log.warning("%s: could not place an unplanned schema id: %s", self.name, first_line(exc))
            return False
        self.replans += absorbed
        return absorbed

    def tend(self) -> None:
        super().tend()
        if self.query is not None:
            self.late.add(self.query.recentProgress)

    def status(self) -> dict:
        return {
            **super().status(),
            **auth_alerts.state_size(self.last_progress),
            "late_dropped": self.late.total,
            "replans": self.replans,
            "rules": dataclasses.asdict(self.plan.rules),
        }


def stop_all(queries: list[TopicQuery]) -> None:
    """Stop the queries side by side, so the whole stop takes one spark.sql.streaming.stopTimeout at most
    (inside Compose's 60 s stop_grace_period and supervisord's stopwaitsecs). A batch cut short is not
    committed: it runs again on the next start, and its writes are idempotent."""
    threads = [threading.Thread(target=q.stop, name=f"stop-{q.stream.topic}") for q in queries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def log_thread_dumps(spark: SparkSession) -> None:
    try:
        log.error("driver JVM threads:\n%s", diagnostics.jvm_thread_dump(spark))
    except Py4JError as exc:  # the dump is evidence, not the remedy: never let it stop the watchdog
        log.error("driver JVM thread dump failed: %s", first_line(exc))
    log.error("driver Python threads:\n%s", diagnostics.python_thread_dump())


def write_status(
    settings: Settings, state: str, queries: list[TopicQuery], guard: ConnectorSessionGuard | None = None
) -> None:
    """The job's state for `main.py status` and the container healthcheck: a small JSON file replaced
    atomically. `health` is "healthy" only while every query runs and none is failing or stalled."""
    path = settings.job_status_file
    path.parent.mkdir(parents=True, exist_ok=True)
    by_topic = {q.stream.topic: q.status() for q in queries if not isinstance(q, AlertQuery)}
    alerts = next((q.status() for q in queries if isinstance(q, AlertQuery)), None)
    problems = [f"{topic}: {q['problem']}" for topic, q in by_topic.items() if q["problem"]]
    if alerts and alerts["problem"]:
        problems.append(f"auth alerts: {alerts['problem']}")
    status = {
        "state": state,
        "health": "healthy" if state == "running" and not problems else "unhealthy",
        "problems": problems if state == "running" else [f"job {state}"],
        "updated_at": time.time(),
        "pid": os.getpid(),
        "cassandra_sessions_replaced": guard.replaced if guard else 0,
        "queries": by_topic,
        "auth_alerts": alerts,  # None when AUTH_ALERTS_ENABLED is off
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, default=str))
    tmp.replace(path)


def run(settings: Settings) -> int:
    spark = build_session(settings)
    spark.sparkContext.setLogLevel("WARN")
    resolver = SchemaResolver(settings.registry_client("job"), settings.registry_retry_s, avro_compatibility(spark))
    connection = CassandraConnection.open(settings, role="job")
    guard = ConnectorSessionGuard(spark, settings.cassandra_session_probe_s)
    sink = CassandraSink(connection, keyspace=settings.cassandra_keyspace, replace_session=guard.replace_session)
    observer = Observer(spark)
    queries = [
        TopicQuery(spark, settings, TopicBatchWriter(stream, resolver, sink, observer), guard)
        for stream in streams(settings.topic_prefix)
    ]
    if settings.auth_alerts.enabled:
        auth = next(s for s in streams(settings.topic_prefix) if s.name == AUTH.name)
        plan = auth_alerts.AlertPlan(auth, resolver, settings.auth_alerts)
        writer = auth_alerts.AlertWriter(auth, settings.auth_alerts, sink, observer)
        queries.append(AlertQuery(spark, settings, writer, guard, plan))
    else:
        log.warning("AUTH_ALERTS_ENABLED is off: no failed-login alerts are computed")
    stopping = False

    def stop(signum: int) -> None:
        nonlocal stopping
        if not stopping:
            log.info("signal %s: stopping the queries", signum)
        stopping = True

    _jvm_handler = shutdown.on_stop_signal(spark, stop)  # referenced while the JVM may call it
    guard.start()
    try:
        while not stopping:
            for query in queries:
                query.tend()
            write_status(settings, "running", queries, guard)
            time.sleep(2)
    except JobStalled as exc:
        # Stopping the queries could block on the very thing that stalled them: leave at once, from the
        # checkpoints, and let the supervisor (local mode) or restart policy (Compose) start the job afresh.
        log.critical("%s; exiting (status %d) so the job is started afresh from its checkpoints", exc, EXIT_STALLED)
        log_thread_dumps(spark)
        write_status(settings, "stalled", queries, guard)
        logging.shutdown()
        os._exit(EXIT_STALLED)
    finally:
        guard.stop()
        stop_all(queries)
        write_status(settings, "stopped", queries, guard)
        connection.close()
        spark.stop()
        log.info("stopped cleanly")
    return 0


def missing_table(settings: Settings) -> str | None:
    """A clear sentence when a table the job writes does not exist (setup not run, or run before the table
    was added); None when all are there."""
    tables = [s.table for s in streams(settings.topic_prefix)] + [DEAD_LETTERS_TABLE]
    if settings.auth_alerts.enabled:
        tables.append(auth_alerts.TABLE)
    connection = CassandraConnection.open(settings, role="job")
    try:
        missing = [t for t in tables if not table_columns(connection.session, t, settings.cassandra_keyspace)]
    finally:
        connection.close()
    if not missing:
        return None
    return (
        f"table(s) {', '.join(missing)} missing in keyspace {settings.cassandra_keyspace}: run "
        "`python3 main.py setup` (or `cqlsh -f cassandra/cassandra_setup.cql`), then start the job again"
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "py4j", "cassandra"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = load_settings()
    except SettingsError as exc:  # spark-submit runs this file directly: one line, not a traceback
        log.error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lock = CheckpointLock(settings.spark_checkpoint_dir)
    try:
        lock.acquire()
    except CheckpointLocked as exc:
        log.error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if problem := missing_table(settings):
            log.error("%s", problem)
            print(f"error: {problem}", file=sys.stderr)
            return 2
        return run(settings)
    finally:
        lock.release()


if __name__ == "__main__":
    sys.exit(main())
