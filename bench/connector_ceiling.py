"""The Cassandra write ceiling through the job's own client: the same rows, already in memory, written by the
spark-cassandra-connector with the job's settings, the three tables at once (no Kafka, no decoding, no
streaming).

Runs in a local Spark (local[N], N = the job's cores) inside the bench process, with the connector jars
`up` put in spark-defaults.conf, while the streaming job sits idle. A small write first warms the JVM.
"""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from bench.cassandra_ceiling import rows_by_table
from config.settings import Settings
from kafka.contract import STREAMS
from spark.cassandra_sink import connector_conf

WARMUP_ROWS = 2_000


def _session(settings: Settings):
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode binds to loopback only

    builder = (
        SparkSession.builder.master(f"local[{settings.spark_job_cores_max}]")
        .appName("bench-connector-ceiling")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.memory", settings.spark_executor_memory)
    )
    for key, value in connector_conf(settings).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _spark_value(value):
    return str(value) if isinstance(value, uuid.UUID) else value


def _frames(spark, settings: Settings, count: int, seed: int) -> dict:
    """One cached DataFrame per table, in the table's own column types, split like the job's 3 partitions."""
    frames = {}
    keyspace = settings.cassandra_keyspace
    for table, rows in rows_by_table(count, seed).items():
        schema = spark.read.format("org.apache.spark.sql.cassandra").options(keyspace=keyspace, table=table).load()
        names = schema.columns
        # The connector reads uuid columns as strings.
        data = [tuple(_spark_value(row.get(name)) for name in names) for row in rows]
        frame = spark.createDataFrame(data, schema.schema).repartition(settings.topic_partitions).cache()
        frame.count()
        frames[table] = frame
    return frames


def _write(keyspace: str, table: str, frame) -> None:
    frame.write.format("org.apache.spark.sql.cassandra").options(keyspace=keyspace, table=table).mode("append").save()


def _write_all(keyspace: str, frames: dict) -> float:
    """The three tables side by side, as the job's three queries write them."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(frames)) as pool:
        for future in [pool.submit(_write, keyspace, table, frame) for table, frame in frames.items()]:
            future.result()
    return time.perf_counter() - started


def measure(settings: Settings, rows: int, runs: int = 2) -> dict:
    """The best of `runs` writes of `rows` rows (a fresh JVM keeps compiling through the first)."""
    spark = _session(settings)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        _write_all(settings.cassandra_keyspace, _frames(spark, settings, WARMUP_ROWS, seed=7))
        measured = []
        for run in range(runs):
            frames = _frames(spark, settings, rows, seed=8 + run)
            total = sum(frame.count() for frame in frames.values())
            measured.append((total, _write_all(settings.cassandra_keyspace, frames)))
            for frame in frames.values():
                frame.unpersist()
    finally:
        spark.stop()
    total, elapsed = max(measured, key=lambda run: run[0] / run[1])
    return {
        "rows": total,
        "tables": [s.table for s in STREAMS],
        "cores": settings.spark_job_cores_max,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(total / elapsed, 1),
        "runs_rows_per_s": [round(n / t, 1) for n, t in measured],
    }


def format_results(results: dict) -> str:
    return (
        f"Cassandra write ceiling (spark-cassandra-connector, job's settings, {results['cores']} cores): "
        f"{results['rows_per_s']:,.0f} rows/s ({results['rows']:,} rows in {results['seconds']} s)"
    )
