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

import json
import logging
import re
import signal
import sys
import time
from collections import Counter
from functools import lru_cache
from pathlib import Path

# The driver imports the project's modules (settings, contract); executors need none (all JVM expressions).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.sql import DataFrame, Observation, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from config.settings import Settings, load_settings  # noqa: E402
from database.cassandra_connection import CassandraConnection  # noqa: E402
from kafka.contract import STREAMS, LogStream  # noqa: E402
from spark import transforms  # noqa: E402
from spark.cassandra_sink import CassandraSink, connector_conf  # noqa: E402
from spark.schema_resolver import SchemaResolver  # noqa: E402

log = logging.getLogger("spark_streaming")

QUERY_NAME = "log-pipeline"
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


def build_session(settings: Settings) -> SparkSession:
    builder = (
        SparkSession.builder.appName(QUERY_NAME)
        # Batches are small and the box has 2 cores: few shuffle partitions keep per-batch overhead low.
        .config("spark.sql.shuffle.partitions", "2")
        # Hadoop's FileContext rename on the local file system forks `readlink` for every checkpoint file
        # (several per batch, from an 800 MB JVM): a third of the stream threads' time in a profile here.
        # FileSystem.rename is a plain POSIX rename, atomic on the local disks checkpoints live on.
        .config(
            "spark.sql.streaming.checkpointFileManagerClass",
            "org.apache.spark.sql.execution.streaming.FileSystemBasedCheckpointFileManager",
        )
        # One executor: never hold a task back waiting for a "better" location.
        .config("spark.locality.wait", "0s")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
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
    return builder.getOrCreate()


def avro_compatibility(spark: SparkSession):
    """Avro's own reader/writer check (org.apache.avro.SchemaCompatibility, shipped with Spark)."""
    avro = spark.sparkContext._jvm.org.apache.avro

    def why_incompatible(reader: str, writer: str) -> str | None:
        result = avro.SchemaCompatibility.checkReaderWriterCompatibility(
            avro.Schema.Parser().parse(reader), avro.Schema.Parser().parse(writer)
        )
        if result.getType().toString() == "COMPATIBLE":
            return None
        return " ".join(str(result.getDescription()).split())[:300]

    return why_incompatible


@lru_cache(maxsize=1)
def batch_metrics() -> tuple:
    """Counted while the batch is written: rows, bad rows, and the newest Kafka timestamp written (built
    once: every pyspark.sql.functions call is a round trip to the JVM)."""
    return (
        F.count(F.lit(1)).alias("rows"),
        F.count(F.col("error")).alias("bad"),
        F.max(F.when(F.col("error").isNull(), F.unix_millis("produced_at"))).alias("newest_ms"),
    )


class TopicBatchWriter:
    """The foreachBatch function of one topic's query: decode a micro-batch and write it, or raise (and
    nothing is committed). One Spark job per batch writes the table; observed metrics count the rows that
    must go to dead letters, and only then does a second job write them."""

    def __init__(self, stream: LogStream, resolver: SchemaResolver, sink: CassandraSink) -> None:
        self.stream = stream
        self.resolver = resolver
        self.sink = sink
        self.rows_written: Counter = Counter()
        self.newest_written_ms: int | None = None  # Kafka timestamp of the newest record written

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        stream = self.stream
        schemas = self.resolver.for_batch(stream)
        resolved = time.monotonic()
        decoded = transforms.decode(transforms.frame(batch), schemas.writers, schemas.reader)
        checked = transforms.check_decoded(decoded, stream, schemas.writers, schemas.rejected)
        outcome = Observation(f"{stream.table}-{batch_id}")
        observed = checked.observe(outcome, *batch_metrics())
        self.sink.check_available()
        self.sink.ensure_columns(stream.table, schemas.reader_fields)
        planned = time.monotonic()
        self.sink.write(transforms.table_rows(observed, stream, schemas.field_names), stream.table)
        metrics = outcome.get
        written, bad = metrics["rows"] - metrics["bad"], metrics["bad"]
        wrote = time.monotonic()
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


def read_topic(spark: SparkSession, settings: Settings, stream: LogStream) -> DataFrame:
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribe", stream.topic)
        .option("startingOffsets", settings.spark_starting_offsets)
        .option("maxOffsetsPerTrigger", settings.spark_max_offsets_per_trigger)
        .load()
    )


class TopicQuery:
    """One topic's streaming query, restarted from its checkpoint after a failure, with backoff."""

    def __init__(self, spark: SparkSession, settings: Settings, writer: TopicBatchWriter) -> None:
        self.spark = spark
        self.settings = settings
        self.writer = writer
        self.stream = writer.stream
        self.query = None
        self.restarts = 0
        self.backoff = 1.0
        self.retry_at = 0.0
        self.last_error: str | None = None
        self.last_progress: dict | None = None  # kept across restarts: the offsets processed so far

    @property
    def name(self) -> str:
        return f"{QUERY_NAME}-{self.stream.name}"

    def start(self) -> None:
        checkpoint = self.settings.spark_checkpoint_dir / self.stream.topic
        self.query = (
            read_topic(self.spark, self.settings, self.stream)
            .writeStream.queryName(self.name)
            .foreachBatch(self.writer)
            .option("checkpointLocation", str(checkpoint))
            .trigger(processingTime=self.settings.spark_trigger_interval)
            .start()
        )
        log.info("query %s started (checkpoint %s)", self.name, checkpoint)

    def tend(self) -> None:
        """Restart a failed query once its backoff has passed; reset the backoff after progress."""
        if self.query is not None and self.query.isActive:
            progress = self.query.lastProgress
            if progress:
                self.last_progress = progress
            if progress and progress.get("numInputRows", 0) > 0:
                self.backoff = 1.0
            return
        if self.query is not None:
            error = self.query.exception()
            self.query = None
            if error is None:
                return
            self.restarts += 1
            self.last_error = first_line(error)
            # The connector caches its Cassandra session; one that lived through an outage can hang. Start afresh.
            self.spark.sparkContext._jvm.com.datastax.spark.connector.cql.CassandraConnector.evictCache()
            self.retry_at = time.monotonic() + self.backoff
            log.error(
                "%s: batch failed, nothing committed: %s; restarting from the checkpoint in %.0f s",
                self.name, self.last_error, self.backoff,
            )  # fmt: skip
            self.backoff = min(self.backoff * 2, self.settings.spark_restart_backoff_max_s)
        elif time.monotonic() >= self.retry_at:
            self.start()

    def status(self) -> dict:
        query = self.query
        return {
            "state": "running" if query is not None and query.isActive else "restarting",
            "restarts": self.restarts,
            "last_error": self.last_error,
            "rows_written": dict(self.writer.rows_written),
            "newest_written_ms": self.writer.newest_written_ms,
            "last_progress": self.last_progress,
        }

    def stop(self) -> None:
        if self.query is not None and self.query.isActive:
            self.query.stop()


def write_status(settings: Settings, state: str, queries: list[TopicQuery]) -> None:
    """The job's state for `main.py status`: a small JSON file replaced atomically."""
    path = settings.local_dir / "run" / "stream-status.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    status = {"state": state, "updated_at": time.time(), "queries": {q.stream.topic: q.status() for q in queries}}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, default=str))
    tmp.replace(path)


_NAMED_CAUSES = ("Cassandra", "registry", "Kafka")
_WRAPPERS = ("Py4J", "StreamingQueryException", "Traceback", "An error occurred while calling", "Python Proxy")
_EXCEPTION_LINE = re.compile(r"([\w.$]+(?:Exception|Error)): (.+)")


def first_line(exc: BaseException) -> str:
    """The root cause of a failed query in one line, past the py4j and streaming wrappers, e.g.
    `IOException: Failed to open native connection to Cassandra at {127.0.0.1:9042}`."""
    text = str(getattr(exc, "desc", None) or exc)
    causes = [
        f"{m.group(1).rsplit('.', 1)[-1]}: {m.group(2).strip()}"[:300]
        for line in text.splitlines()
        if (m := _EXCEPTION_LINE.search(line)) and not any(wrapper in line for wrapper in _WRAPPERS)
    ]
    # A cause that names the service at fault beats the first low-level one (a refused socket, say).
    named = [c for c in causes if any(w in c for w in _NAMED_CAUSES)]
    if named or causes:
        return (named or causes)[0]
    return next((line.strip() for line in text.splitlines() if line.strip()), repr(exc))[:300]


def run(settings: Settings) -> int:
    spark = build_session(settings)
    spark.sparkContext.setLogLevel("WARN")
    resolver = SchemaResolver(settings.schema_registry_url, settings.registry_retry_s, avro_compatibility(spark))
    connection = CassandraConnection.open(settings)
    sink = CassandraSink(connection)
    queries = [TopicQuery(spark, settings, TopicBatchWriter(stream, resolver, sink)) for stream in STREAMS]
    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        log.info("signal %s: stopping after the current batches", signum)
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            for query in queries:
                query.tend()
            write_status(settings, "running", queries)
            time.sleep(2)
    finally:
        for query in queries:
            query.stop()
        write_status(settings, "stopped", queries)
        connection.close()
        spark.stop()
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "py4j", "cassandra"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return run(load_settings())


if __name__ == "__main__":
    sys.exit(main())
