"""The streaming job's own batch writer (spark/spark_streaming.py `TopicBatchWriter`: schema resolution,
decode, checks, column additions, Cassandra writes, dead letters) run on a topic, subject and keyspace of a
test's own, so that tests can register schema versions without touching the pipeline's subjects.

    spark-submit --master spark://... batch_writer.py STREAM TOPIC KEYSPACE CONTROL_DIR

STREAM names the contract stream whose record type and table the topic carries (session, auth, activity).
spark-submit does not hand its stdin to the Python driver, so the test steers it with files: for each file
`batch-<n>` that appears in CONTROL_DIR it reads the whole topic as one batch (old records are decoded again
with the newest reader schema) through the one writer and prints `BATCH <n> <rows written> <dead letters>`;
a file `quit` stops it, and so does an hour without either. One writer for the whole run: its schema cache
and known columns carry over from batch to batch, as in the running job.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from pyspark.sql import SparkSession  # noqa: E402

from config.settings import load_settings  # noqa: E402
from database.cassandra_connection import CassandraConnection  # noqa: E402
from kafka.contract import BY_NAME  # noqa: E402
from spark.cassandra_sink import CassandraSink, connector_conf  # noqa: E402
from spark.observed import Observer  # noqa: E402
from spark.schema_resolver import SchemaResolver  # noqa: E402
from spark.spark_streaming import (  # noqa: E402
    DEAD_LETTERS_TABLE,
    TopicBatchWriter,
    avro_compatibility,
    kafka_source_options,
)


def next_command(control: Path, batch_id: int, timeout_s: float = 3600) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (control / f"batch-{batch_id}").exists():
            return "batch"
        if (control / "quit").exists():
            break
        time.sleep(0.2)
    return "quit"


def main(stream_name: str, topic: str, keyspace: str, control_dir: str) -> int:
    settings = load_settings()
    builder = (
        SparkSession.builder.appName(f"test-batch-writer-{topic}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
    )
    for key, value in connector_conf(settings, role="admin").items():  # the test's own keyspace
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    stream = dataclasses.replace(BY_NAME[stream_name], contract_topic=topic)
    resolver = SchemaResolver(settings.registry_client("job"), settings.registry_retry_s, avro_compatibility(spark))
    connection = CassandraConnection.open(settings)
    writer = TopicBatchWriter(stream, resolver, CassandraSink(connection, keyspace=keyspace), Observer(spark))
    print("READY", flush=True)
    batch_id = 0
    while next_command(Path(control_dir), batch_id) == "batch":
        batch = (
            spark.read.format("kafka")
            .options(**kafka_source_options(settings, role="admin"))  # the test's own topic
            .option("subscribe", topic)
            .option("startingOffsets", "earliest")
            .option("endingOffsets", "latest")
            .option("includeHeaders", "true")  # as the job reads (its dead letters keep the headers)
            .load()
        )
        before = dict(writer.rows_written)
        writer(batch, batch_id)
        written = writer.rows_written[stream.table] - before.get(stream.table, 0)
        dead = writer.rows_written[DEAD_LETTERS_TABLE] - before.get(DEAD_LETTERS_TABLE, 0)
        print(f"BATCH {batch_id} {written} {dead}", flush=True)
        batch_id += 1
    connection.close()
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
