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

    def array(kind, *items):
        made = gateway.new_array(kind, len(items))
        for i, item in enumerate(items):
            made[i] = item
        return made

    server = jvm.java.lang.management.ManagementFactory.getPlatformMBeanServer()
    command = jvm.javax.management.ObjectName("com.sun.management:type=DiagnosticCommand")
    Class = jvm.java.lang.Class  # noqa: N806
    # Called through the public interface by reflection: py4j cannot reach the method on the platform
    # server's own class, which lives in a package the JDK does not export.
    invoke = Class.forName("javax.management.MBeanServerConnection").getMethod(
        "invoke",
        array(
            Class,
            Class.forName("javax.management.ObjectName"),
            Class.forName("java.lang.String"),
            Class.forName("[Ljava.lang.Object;"),
            Class.forName("[Ljava.lang.String;"),
        ),
    )
    params = array(jvm.java.lang.Object, gateway.new_array(jvm.java.lang.String, 0))
    signature = array(jvm.java.lang.String, "[Ljava.lang.String;")
    return str(invoke.invoke(server, array(jvm.java.lang.Object, command, "threadPrint", params, signature)))


def python_thread_dump() -> str:
    names = {t.ident: t.name for t in threading.enumerate()}
    parts = []
    for ident, frame in sys._current_frames().items():
        parts.append(f'Python thread "{names.get(ident, ident)}":\n' + "".join(traceback.format_stack(frame)))
    return "\n".join(parts)
