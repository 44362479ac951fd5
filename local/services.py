"""The services of local mode: how each one starts, where it listens, how readiness is probed.

Commands are plain argv lists; JVM options and classpaths go into `@argfiles` under `.local/conf/` so
process listings stay readable and supervisord's config stays short.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import FAULTS_DIR_ENV, PROJECT_ROOT, Settings
from local import configs, probes
from local.java import JavaRuntime
from local.paths import LocalPaths
from local.resolve import Resolved

QUERY_NAME = "log-pipeline"  # the Spark app and query name of spark/spark_streaming.py


@dataclass(frozen=True)
class Service:
    name: str
    address: str
    command: list[str]
    ports: tuple[int, ...]
    probe: Callable[[Settings], str | None]
    ready_timeout_s: int
    after: tuple[str, ...] = ()  # started only once these are ready
    env: dict[str, str] = field(default_factory=dict)
    stop_wait_s: int = 30
    autorestart: bool = False  # the pipeline's own processes come back after a crash; engines do not
    jvm_args: tuple[Path, list[str]] | None = None  # an @argfile the command names, written by `write_argfile`

    def write_argfile(self) -> None:
        if self.jvm_args:
            path, args = self.jvm_args
            path.write_text("\n".join(f'"{a}"' if " " in a else a for a in args) + "\n")


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _argfile(paths: LocalPaths, name: str) -> Path:
    return paths.conf / f"{name}.jvm-args"


def _jvm_env(settings: Settings) -> dict[str, str]:
    # glibc gives each thread that mallocs its own arena (up to 8 per core); JVMs with hundreds of threads
    # then hold hundreds of MB of mostly free arena memory. Two arenas cost nothing measurable here.
    return {"MALLOC_ARENA_MAX": settings.jvm_malloc_arena_max}


def kafka(settings: Settings, paths: LocalPaths, java: JavaRuntime, resolved: Resolved) -> Service:
    jvm = [
        f"-Xms{settings.kafka_heap}",
        f"-Xmx{settings.kafka_heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={paths.conf / 'kafka-log4j2.properties'}",
        f"-Dkafka.logs.dir={paths.logs}",
        "-cp",
        resolved.classpath("kafka"),
    ]
    return Service(
        name="kafka",
        address=settings.kafka_bootstrap_servers,
        command=[
            str(java.java),
            f"@{_argfile(paths, 'kafka')}",
            "kafka.Kafka",
            str(paths.conf / "kafka-server.properties"),
        ],
        ports=(settings.kafka_port, settings.kafka_controller_port),
        probe=probes.kafka_ready,
        ready_timeout_s=90,
        jvm_args=(_argfile(paths, "kafka"), jvm),
        env=_jvm_env(settings),
    )


def kafka_tool_command(
    paths: LocalPaths, java: JavaRuntime, resolved: Resolved, main_class: str, *args: str
) -> list[str]:
    """A Kafka CLI tool (what the distribution's bin/*.sh scripts run) on the broker's classpath."""
    jvm = [
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={paths.conf / 'kafka-log4j2.properties'}",
        "-cp",
        resolved.classpath("kafka"),
    ]
    return [str(java.java), *jvm, main_class, *args]


def registry(settings: Settings, paths: LocalPaths, java: JavaRuntime, resolved: Resolved) -> Service:
    # Schema lookups are rare (clients cache them), so the registry runs like the Spark daemons: small
    # serial heap, C1 only.
    jvm = [
        f"-Xmx{settings.registry_heap}",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Xms32m",
        "-jar",
        str(resolved.registry_runner),
    ]
    return Service(
        name="registry",
        address=settings.schema_registry_url,
        command=[str(java.java), f"@{_argfile(paths, 'registry')}"],
        ports=(settings.registry_port, settings.registry_management_port),
        probe=probes.registry_ready,
        ready_timeout_s=120,
        after=("kafka",),
        jvm_args=(_argfile(paths, "registry"), jvm),
        env={
            **_jvm_env(settings),
            "QUARKUS_HTTP_HOST": "127.0.0.1",
            "QUARKUS_HTTP_PORT": str(settings.registry_port),
            "QUARKUS_MANAGEMENT_HOST": "127.0.0.1",
            "QUARKUS_MANAGEMENT_PORT": str(settings.registry_management_port),
            # Schemas and their ids live in a Kafka topic, so they survive restarts.
            "APICURIO_STORAGE_KIND": "kafkasql",
            "APICURIO_KAFKASQL_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        },
    )


def cassandra(settings: Settings, paths: LocalPaths, java: JavaRuntime, resolved: Resolved) -> Service:
    jars = resolved.classpaths["cassandra"]
    jamm = next((j for j in jars if j.name.startswith("jamm-")), None)
    jvm = [
        f"-Xms{settings.cassandra_heap}",
        f"-Xmx{settings.cassandra_heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=300",
        "-XX:+ExitOnOutOfMemoryError",
        "-Xss256k",
        "-XX:+PerfDisableSharedMem",
        "-Djava.net.preferIPv4Stack=true",
        # One node, its own seed: there is no ring to hear from. The default (30 s) only makes a fresh
        # node's first start wait before it joins.
        "-Dcassandra.ring_delay_ms=1000",
        *configs.CASSANDRA_JAVA17_FLAGS,
        *([f"-javaagent:{jamm}"] if jamm else []),
        f"-Dcassandra.config=file://{paths.conf / 'cassandra.yaml'}",
        f"-Dcassandra.storagedir={paths.data / 'cassandra'}",
        f"-Dcassandra.logdir={paths.logs}",
        "-Dcassandra-foreground=yes",
        f"-Dcassandra.jmx.local.port={settings.cassandra_jmx_port}",
        f"-Dlogback.configurationFile={paths.conf / 'cassandra-logback.xml'}",
        "-cp",
        resolved.classpath("cassandra"),
    ]
    return Service(
        name="cassandra",
        address=f"{settings.cassandra_host}:{settings.cassandra_port}",
        command=[str(java.java), f"@{_argfile(paths, 'cassandra')}", "org.apache.cassandra.service.CassandraDaemon"],
        ports=(settings.cassandra_port, settings.cassandra_storage_port, settings.cassandra_jmx_port),
        probe=probes.cassandra_ready,
        ready_timeout_s=240,
        stop_wait_s=60,
        jvm_args=(_argfile(paths, "cassandra"), jvm),
        env=_jvm_env(settings),
    )


def _spark_env(settings: Settings, java: JavaRuntime) -> dict[str, str]:
    return {
        "SPARK_HOME": str(spark_home()),
        "JAVA_HOME": str(java.home),
        # The web UIs bind to SPARK_LOCAL_IP (0.0.0.0 otherwise).
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": settings.spark_daemon_heap,
        "SPARK_DAEMON_JAVA_OPTS": settings.spark_daemon_java_opts,
        **_jvm_env(settings),
        # Executors run Python from the project's own environment.
        "PYSPARK_PYTHON": sys.executable,
    }


def spark_master(settings: Settings, paths: LocalPaths, java: JavaRuntime) -> Service:
    cmd = [
        str(spark_home() / "bin" / "spark-class"),
        "org.apache.spark.deploy.master.Master",
        "--host", "127.0.0.1",
        "--port", str(settings.spark_master_port),
        "--webui-port", str(settings.spark_master_webui_port),
    ]  # fmt: skip
    return Service(
        name="spark-master",
        address=f"{settings.spark_master_url} (UI {settings.spark_master_ui_url})",
        command=cmd,
        ports=(settings.spark_master_port, settings.spark_master_webui_port),
        probe=probes.spark_master_ready,
        ready_timeout_s=60,
        env=_spark_env(settings, java),
    )


def spark_worker(settings: Settings, paths: LocalPaths, java: JavaRuntime) -> Service:
    cmd = [
        str(spark_home() / "bin" / "spark-class"),
        "org.apache.spark.deploy.worker.Worker",
        "--host", "127.0.0.1",
        "--cores", str(settings.spark_worker_cores),
        "--memory", settings.spark_worker_memory,
        "--webui-port", str(settings.spark_worker_webui_port),
        "--work-dir", str(paths.data / "spark" / "work"),
        settings.spark_master_url,
    ]  # fmt: skip
    return Service(
        name="spark-worker",
        address=f"127.0.0.1 (UI http://127.0.0.1:{settings.spark_worker_webui_port})",
        command=cmd,
        ports=(settings.spark_worker_webui_port,),
        probe=probes.spark_worker_ready,
        ready_timeout_s=60,
        after=("spark-master",),
        env=_spark_env(settings, java),
    )


def _watchdog_env(settings: Settings) -> dict[str, str]:
    """The job's stall bounds, passed explicitly so that a change restarts the supervised job with it;
    and the tests' fault-injection folder when one is set (see spark/faults.py)."""
    env = {
        "SPARK_STALL_TIMEOUT_S": str(settings.spark_stall_timeout_s),
        "SPARK_STALL_EXIT_S": str(settings.spark_stall_exit_s),
        "CASSANDRA_SESSION_PROBE_S": str(settings.cassandra_session_probe_s),
    }
    if os.environ.get(FAULTS_DIR_ENV):
        env[FAULTS_DIR_ENV] = os.environ[FAULTS_DIR_ENV]
    return env


def stream_job(settings: Settings, paths: LocalPaths, java: JavaRuntime) -> Service:
    """The streaming job, submitted to the standalone master exactly as a user would."""
    cmd = [
        str(spark_home() / "bin" / "spark-submit"),
        "--master", settings.spark_master_url,
        "--driver-memory", settings.spark_driver_memory,
        "--driver-java-options", settings.spark_driver_java_options,
        "--conf", f"spark.executor.memory={settings.spark_executor_memory}",
        "--conf", f"spark.executor.extraJavaOptions={settings.spark_executor_java_options}",
        # Leave the worker a free slot, so an ad-hoc spark-submit (or a test) is not queued behind the job.
        "--conf", f"spark.cores.max={settings.spark_job_cores_max}",
        str(PROJECT_ROOT / "spark" / "spark_streaming.py"),
    ]  # fmt: skip
    return Service(
        name="stream",
        address=f"spark app {QUERY_NAME} on {settings.spark_master_url}",
        command=cmd,
        ports=(),
        probe=probes.stream_job_ready,
        ready_timeout_s=180,
        after=("kafka", "registry", "cassandra", "spark-worker"),
        env={**_spark_env(settings, java), "PYSPARK_DRIVER_PYTHON": sys.executable, **_watchdog_env(settings)},
        stop_wait_s=60,
        autorestart=True,
    )


def producer(settings: Settings, paths: LocalPaths, java: JavaRuntime) -> Service:
    """A steady generator at PRODUCER_RATE events/s, so a fresh `up` shows data flowing."""
    cmd = [
        sys.executable,
        str(PROJECT_ROOT / "main.py"),
        "produce",
        "--rate",
        str(settings.producer_rate),
        "--no-progress",
    ]
    return Service(
        name="producer",
        address=f"{settings.producer_rate} events/s -> {settings.kafka_bootstrap_servers}",
        command=cmd,
        ports=(),
        probe=lambda _settings: None,
        ready_timeout_s=30,
        after=("kafka", "registry"),
        stop_wait_s=150,  # flushing may take up to message.timeout.ms
        autorestart=True,
    )


def all_services(settings: Settings, paths: LocalPaths, java: JavaRuntime, resolved: Resolved) -> list[Service]:
    """In start order; `after` says which must be ready before a service starts."""
    return [
        kafka(settings, paths, java, resolved),
        cassandra(settings, paths, java, resolved),
        spark_master(settings, paths, java),
        registry(settings, paths, java, resolved),
        spark_worker(settings, paths, java),
        stream_job(settings, paths, java),
        producer(settings, paths, java),
    ]


INFRA_NAMES = ("kafka", "cassandra", "spark-master", "registry", "spark-worker")
PIPELINE_NAMES = ("stream", "producer")
SERVICE_NAMES = INFRA_NAMES + PIPELINE_NAMES
