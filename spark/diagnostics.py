"""Thread dumps of the job's driver, written to its log when a query stalls: the JVM's threads (what
`jcmd <pid> Thread.print` prints, through the same diagnostic MBean, so it also works in a JRE-only
image) and the Python driver's threads (where a foreachBatch call may be waiting)."""

from __future__ import annotations

import sys
import threading
import traceback

from pyspark.sql import SparkSession


def jvm_thread_dump(spark: SparkSession) -> str:
    jvm, gateway = spark._jvm, spark.sparkContext._gateway
    server = jvm.java.lang.management.ManagementFactory.getPlatformMBeanServer()
    command = jvm.javax.management.ObjectName("com.sun.management:type=DiagnosticCommand")
    params = gateway.new_array(jvm.java.lang.Object, 1)
    params[0] = gateway.new_array(jvm.java.lang.String, 0)
    signature = gateway.new_array(jvm.java.lang.String, 1)
    signature[0] = "[Ljava.lang.String;"
    return str(server.invoke(command, "threadPrint", params, signature))


def python_thread_dump() -> str:
    names = {t.ident: t.name for t in threading.enumerate()}
    parts = []
    for ident, frame in sys._current_frames().items():
        parts.append(f'Python thread "{names.get(ident, ident)}":\n' + "".join(traceback.format_stack(frame)))
    return "\n".join(parts)
