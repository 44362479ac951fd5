"""A local SparkSession for the pure transforms (no cluster, no Kafka, no Cassandra)."""

from __future__ import annotations

import os

import pytest
from pyspark.sql import SparkSession

from config.versions import load_versions
from local import resolve
from local.java import find_java17
from local.platform import Platform


@pytest.fixture(scope="session")
def spark() -> SparkSession:
    """local[1] with Spark's Avro connector on the classpath (resolved into .local/ by Maven, once)."""
    platform = Platform.load()
    java = find_java17()
    platform.paths.make()
    jars = resolve.resolve_classpath(platform.paths, java, load_versions(), "spark-connectors")
    avro_jar = next(j for j in jars if j.name.startswith("spark-avro_"))
    os.environ["JAVA_HOME"] = str(java.home)
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    session = (
        SparkSession.builder.master("local[1]")
        .appName("unit-transforms")
        .config("spark.jars", str(avro_jar))
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    # The transforms' plans are wide (one CASE branch per schema id); codegen fallbacks are not failures.
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
