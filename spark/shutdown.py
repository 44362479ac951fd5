"""A clean stop on SIGTERM or SIGINT, whichever process of the driver receives it.

`spark-submit app.py` is a JVM that runs the Python driver as its child. A container runtime signals the
JVM only (its PID 1 forwards to its one child); supervisord and a terminal signal both. Left alone, the
JVM's default handler exits at once and its shutdown hooks stop the SparkContext under the running
queries, so Python's stop then fails ("Cannot call methods on a stopped SparkContext"). Here the JVM's
handler for both signals is replaced by one that calls back into Python, so every path ends the same way:
the queries stop after their current batch, then the driver stops Spark and exits 0.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

from pyspark.java_gateway import ensure_callback_server_started
from pyspark.sql import SparkSession

log = logging.getLogger("spark_streaming")

SIGNALS = {"TERM": signal.SIGTERM, "INT": signal.SIGINT}


class JvmSignalHandler:
    """A `sun.misc.SignalHandler` implemented in Python (py4j's callback server makes the call)."""

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        self._on_signal = on_signal

    def handle(self, jvm_signal) -> None:
        self._on_signal(jvm_signal.getNumber())

    class Java:
        implements = ["sun.misc.SignalHandler"]


def on_stop_signal(spark: SparkSession, stop: Callable[[int], None]) -> JvmSignalHandler:
    """Route SIGTERM and SIGINT, in this process and in the driver's JVM, to `stop(signum)`. Keep the returned
    handler referenced for as long as the JVM may call it."""
    for signum in SIGNALS.values():
        signal.signal(signum, lambda number, _frame: stop(number))
    gateway = spark.sparkContext._gateway
    ensure_callback_server_started(gateway)
    handler = JvmSignalHandler(stop)
    jvm_signal = spark.sparkContext._jvm.sun.misc.Signal
    for name in SIGNALS:
        jvm_signal.handle(jvm_signal(name), handler)
    return handler
