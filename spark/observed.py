"""Metrics observed while a micro-batch is written (Spark's Observation), with a fixed few py4j calls.

pyspark's `Observation` finds its JVM class by package path on every use, and reads the result by iterating
a Java map through py4j, whose end is a Java exception that pyspark then classifies. Together that is about
twenty JVM class lookups a batch, each a scan of the class path: 50-100 ms of every batch of every query on
the 2-core box (measured with a py4j call counter in the job). Same JVM API, looked up once, read by key.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, SparkSession


class Observed:
    """One observation: its values once the action on the observed DataFrame has finished."""

    def __init__(self, java_observation, names: Sequence[str]) -> None:
        self._java = java_observation
        self._names = tuple(names)

    def values(self) -> dict:
        """Blocks until the metrics are in (as Observation.get does)."""
        metrics = self._java.getAsJava()
        return {name: metrics[name] for name in self._names}


class Observer:
    def __init__(self, spark: SparkSession) -> None:
        jvm = spark.sparkContext._jvm
        self._new_observation = jvm.org.apache.spark.sql.Observation
        self._to_seq = jvm.PythonUtils.toSeq

    def observe(self, rows: DataFrame, name: str, metrics: Sequence[tuple[str, Column]]) -> tuple[DataFrame, Observed]:
        """`rows` with `metrics` (name, aggregate column aliased to that name) computed while an action runs."""
        java = self._new_observation(name)
        (_, first), rest = metrics[0], [column._jc for _, column in metrics[1:]]
        observed = DataFrame(java.on(rows._jdf, first._jc, self._to_seq(rest)), rows.sparkSession)
        return observed, Observed(java, [name for name, _ in metrics])
