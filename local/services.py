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

from config.security import java_kafka_auth
from config.settings import FAULTS_DIR_ENV, PROJECT_ROOT, Settings
from local import configs, probes
from local.errors import LocalModeError
from local.java import JavaRuntime
from local.paths import LocalPaths
from local.resolve import Resolved
from local.topology import CassandraNode, KafkaNode, SparkWorker, Topology, topology

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
    before_start: Callable[[Settings], None] | None = None  # run by `up` just before it starts the service

    def write_argfile(self) -> None:
        """Owner-only: the registry's holds its Kafka login."""
        if self.jvm_args:
            path, args = self.jvm_args
            configs.private_file(path, "\n".join(_argfile_word(a) for a in args) + "\n")


def _argfile_word(arg: str) -> str:
    """One argument as a JVM @argfile reads it: quoted when it has a space, in the quote it does not contain."""
    if " " not in arg:
        return arg
    return f"'{arg}'" if '"' in arg else f'"{arg}"'


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _argfile(paths: LocalPaths, name: str) -> Path:
    return paths.conf / f"{name}.jvm-args"


def _jvm_env(settings: Settings) -> dict[str, str]:
    # glibc gives each thread that mallocs its own arena (up to 8 per core); JVMs with hundreds of threads
    # then hold hundreds of MB of mostly free arena memory. Two arenas cost nothing measurable here.
    return {"MALLOC_ARENA_MAX": settings.jvm_malloc_arena_max}


def kafka(settings: Settings, paths: LocalPaths, java: JavaRuntime, resolved: Resolved, node: KafkaNode) -> Service:
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
        name=node.name,
        address=node.bootstrap,
        command=[
            str(java.java),
            f"@{_argfile(paths, node.name)}",
            "kafka.Kafka",
            str(paths.kafka_properties(node.name)),
        ],
        ports=((node.host, node.port), (node.host, node.controller_port)),
        probe=lambda s: probes.kafka_node_ready(s, node.bootstrap, node.node_id),
        ready_timeout_s=90,
        jvm_args=(_argfile(paths, node.name), jvm),
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


def _registry_kafka_login(settings: Settings) -> list[str]:
    """Apicurio hands `apicurio.kafka.common.*` to its storage's Kafka producer, consumer and admin client."""
    return [f"-Dapicurio.kafka.common.{k}={v}" for k, v in java_kafka_auth(settings.security, "registry").items()]


def _prepare_registry_access(settings: Settings) -> None:
    """The Kafka users and the registry's ACLs exist before the registry logs in (it is the first client)."""
    from kafka import access

    try:
        access.ensure_users(settings, with_admin=not settings.security.enabled)
        access.grant_registry(settings)
    except access.KafkaAccessError as exc:
        raise LocalModeError(f"{exc} (the admin logs in with KAFKA_ADMIN_PASSWORD)") from None


def registry(settings: Settings, paths: LocalPaths, java: JavaRuntime, resolved: Resolved, nodes: Topology) -> Service:
    # Schema lookups are rare (clients cache them), so the registry runs like the Spark daemons: small
    # serial heap, C1 only.
    jvm = [
        f"-Xmx{settings.registry_heap}",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Xms32m",
        *_registry_kafka_login(settings),
        "-jar",
        str(resolved.registry_runner),
    ]
    return Service(
        name="registry",
        address=settings.schema_registry_url,
        command=[str(java.java), f"@{_argfile(paths, 'registry')}"],
        ports=(("127.0.0.1", settings.registry_port), ("127.0.0.1", settings.registry_management_port)),
        probe=probes.registry_ready,
        ready_timeout_s=120,
        after=tuple(n.name for n in nodes.kafka),
        jvm_args=(_argfile(paths, "registry"), jvm),
        before_start=_prepare_registry_access,
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


def cassandra(
    settings: Settings, paths: LocalPaths, java: JavaRuntime, resolved: Resolved, node: CassandraNode, nodes: Topology
) -> Service:
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
        # No node streams data to join (one node; or a cluster created with its tokens set, see
        # local/configs.py): the default 30 s ring delay would only make each start wait.
        "-Dcassandra.ring_delay_ms=1000",
        # The default superuser is created at once (not 10 s later), so `up` can replace it without waiting.
        "-Dcassandra.superuser_setup_delay_ms=0",
        f"-Dcassandra-rackdc.properties=file://{paths.conf / 'cassandra-rackdc.properties'}",
        *configs.CASSANDRA_JAVA17_FLAGS,
        *([f"-javaagent:{jamm}"] if jamm else []),
        f"-Dcassandra.config=file://{paths.cassandra_yaml(node.name)}",
        f"-Dcassandra.storagedir={paths.data / node.name}",
        f"-Dcassandra.logdir={paths.logs}",
        "-Dcassandra-foreground=yes",
        f"-Dcassandra.jmx.local.port={node.jmx_port}",
        f"-Dlogback.configurationFile={paths.conf / 'cassandra-logback.xml'}",
        "-cp",
        resolved.classpath("cassandra"),
    ]
    # The seed first; the other nodes join it (side by side: they do not bootstrap), each ready once it
    # serves CQL and has met the seed.
    seed = node == nodes.cassandra_seed
    after = () if seed else (nodes.cassandra_seed.name,)
    return Service(
        name=node.name,
        address=f"{node.host}:{settings.cassandra_port}",
        command=[str(java.java), f"@{_argfile(paths, node.name)}", "org.apache.cassandra.service.CassandraDaemon"],
        ports=(
            (node.host, settings.cassandra_port),
            (node.host, settings.cassandra_storage_port),
            ("127.0.0.1", node.jmx_port),
        ),
        probe=lambda s: probes.cassandra_node_ready(s, node.host, min_peers=0 if seed else 1),
        ready_timeout_s=240,
        after=after,
        stop_wait_s=60,
        jvm_args=(_argfile(paths, node.name), jvm),
        env=_jvm_env(settings),
    )


def _spark_env(settings: Settings, java: JavaRuntime, host: str = "127.0.0.1") -> dict[str, str]:
    return {
        "SPARK_HOME": str(spark_home()),
        "JAVA_HOME": str(java.home),
        # The web UIs bind to SPARK_LOCAL_IP (0.0.0.0 otherwise).
        "SPARK_LOCAL_IP": host,
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
        ports=(("127.0.0.1", settings.spark_master_port), ("127.0.0.1", settings.spark_master_webui_port)),
        probe=probes.spark_master_ready,
        ready_timeout_s=60,
        env=_spark_env(settings, java),
    )


def spark_worker(settings: Settings, paths: LocalPaths, java: JavaRuntime, worker: SparkWorker) -> Service:
    cmd = [
        str(spark_home() / "bin" / "spark-class"),
        "org.apache.spark.deploy.worker.Worker",
        "--host", worker.host,
        "--cores", str(settings.spark_worker_cores),
        "--memory", settings.spark_worker_memory,
        "--webui-port", str(worker.webui_port),
        "--work-dir", str(paths.data / "spark" / paths.worker_dir_name(worker.name)),
        settings.spark_master_url,
    ]  # fmt: skip
    return Service(
        name=worker.name,
        address=f"{worker.host} (UI http://{worker.host}:{worker.webui_port})",
        command=cmd,
        ports=((worker.host, worker.webui_port),),
        probe=lambda s: probes.spark_worker_ready(s, worker.host),
        ready_timeout_s=60,
        after=("spark-master",),
        env=_spark_env(settings, java, worker.host),
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


def stream_job(settings: Settings, paths: LocalPaths, java: JavaRuntime, nodes: Topology) -> Service:
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
        after=("registry", *nodes.node_names),
        env={**_spark_env(settings, java), "PYSPARK_DRIVER_PYTHON": sys.executable, **_watchdog_env(settings)},
        stop_wait_s=60,
        autorestart=True,
    )


def producer(settings: Settings, paths: LocalPaths, java: JavaRuntime, nodes: Topology) -> Service:
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
        after=("registry", *(n.name for n in nodes.kafka)),
        stop_wait_s=150,  # flushing may take up to message.timeout.ms
        autorestart=True,
    )


def dashboard(settings: Settings) -> Service:
    """The pipeline's page and Prometheus endpoint (dashboard/app.py), up while the engines are."""
    return Service(
        name="dashboard",
        address=f"{settings.dashboard_url} (Prometheus: /metrics)",
        command=[sys.executable, str(PROJECT_ROOT / "main.py"), "dashboard"],
        ports=((settings.dashboard_host, settings.dashboard_port),),
        probe=probes.dashboard_ready,
        ready_timeout_s=60,
        autorestart=True,
        env=_jvm_env(settings),  # its threads (uvicorn, Kafka and Cassandra clients) would each get an arena
    )


def all_services(settings: Settings, paths: LocalPaths, java: JavaRuntime, resolved: Resolved) -> list[Service]:
    """In start order; `after` says which must be ready before a service starts."""
    nodes = topology(settings)
    return [
        *(kafka(settings, paths, java, resolved, node) for node in nodes.kafka),
        *(cassandra(settings, paths, java, resolved, node, nodes) for node in nodes.cassandra),
        spark_master(settings, paths, java),
        registry(settings, paths, java, resolved, nodes),
        *(spark_worker(settings, paths, java, worker) for worker in nodes.spark_workers),
        stream_job(settings, paths, java, nodes),
        producer(settings, paths, java, nodes),
        dashboard(settings),
    ]


PIPELINE_NAMES = ("stream", "producer", "dashboard")


def infra_names(settings: Settings) -> tuple[str, ...]:
    """The engines' services, in the order `down` stops them last-first."""
    nodes = topology(settings)
    kafka_names = tuple(n.name for n in nodes.kafka)
    cassandra_names = tuple(n.name for n in nodes.cassandra)
    workers = tuple(w.name for w in nodes.spark_workers)
    return (*kafka_names, *cassandra_names, "spark-master", "registry", *workers)


def service_names(settings: Settings) -> tuple[str, ...]:
    return infra_names(settings) + PIPELINE_NAMES
