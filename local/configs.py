"""Configuration files local mode writes for each engine: pure text builders plus one writer.

Everything binds to 127.0.0.1. Ports come from settings, so they match Compose's defaults.
"""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings, host_port
from local.paths import LocalPaths


def kafka_server_properties(settings: Settings, data_dir: Path) -> str:
    _, port = host_port(settings.kafka_bootstrap_servers, 9092)
    controller = settings.kafka_controller_port
    # One node is broker and controller (KRaft combined mode); internal topics need RF 1 here.
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{controller}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={data_dir}",
            "num.partitions=3",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "",
        ]
    )


# Properties format: log4j-core reads it without extra jars (YAML would need jackson-dataformat-yaml).
KAFKA_LOG4J2_PROPERTIES = """\
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def cassandra_yaml(settings: Settings, data_dir: Path) -> str:
    storage = settings.cassandra_storage_port
    return f"""\
# Written by local mode (local/configs.py): a single node on 127.0.0.1.
cluster_name: pipeline-local
num_tokens: 16
allocate_tokens_for_local_replication_factor: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:{storage}"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: {storage}
native_transport_port: {settings.cassandra_port}
start_native_transport: true
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
data_file_directories:
  - {data_dir / "data"}
commitlog_directory: {data_dir / "commitlog"}
saved_caches_directory: {data_dir / "saved_caches"}
hints_directory: {data_dir / "hints"}
cdc_raw_directory: {data_dir / "cdc_raw"}
commitlog_sync: periodic
commitlog_sync_period: 10000ms
commitlog_segment_size: 32MiB
# The default cap is min(8 GiB, a quarter of the volume): segments a quiet table still holds are kept until
# then (a 30-minute soak left 1.3 GB). At the cap Cassandra flushes the oldest tables and recycles segments.
commitlog_total_space: 1024MiB
disk_failure_policy: stop
commit_failure_policy: stop
concurrent_reads: 16
concurrent_writes: 32
concurrent_counter_writes: 16
memtable_allocation_type: offheap_objects
# Sized for an all-in-one box (the defaults scale with the heap and assume a dedicated node).
memtable_heap_space: 128MiB
memtable_offheap_space: 128MiB
file_cache_size: 64MiB
key_cache_size: 16MiB
tombstone_warn_threshold: 10000
tombstone_failure_threshold: 100000
read_request_timeout: 10000ms
write_request_timeout: 5000ms
"""


CASSANDRA_LOGBACK = """\
<configuration scan="false">
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra" level="INFO"/>
  <logger name="com.datastax" level="WARN"/>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
"""

# From Cassandra 5.0's conf/jvm17-server.options: the module access it needs on Java 17.
CASSANDRA_JAVA17_FLAGS = [
    "-Djdk.attach.allowAttachSelf=true",
    "-Dio.netty.tryReflectionSetAccessible=true",
    *(
        f"--add-exports={m}=ALL-UNNAMED"
        for m in (
            "java.base/jdk.internal.misc",
            "java.base/jdk.internal.ref",
            "java.base/sun.nio.ch",
            "java.management.rmi/com.sun.jmx.remote.internal.rmi",
            "java.rmi/sun.rmi.registry",
            "java.rmi/sun.rmi.server",
            "java.sql/java.sql",
            "java.base/java.lang.ref",
            "jdk.unsupported/sun.misc",
            "jdk.compiler/com.sun.tools.javac.file",
            "jdk.attach/sun.tools.attach",
        )
    ),
    *(
        f"--add-opens={m}=ALL-UNNAMED"
        for m in (
            "java.base/java.lang.module",
            "java.base/jdk.internal.loader",
            "java.base/jdk.internal.ref",
            "java.base/jdk.internal.reflect",
            "java.base/jdk.internal.math",
            "java.base/jdk.internal.module",
            "java.base/jdk.internal.util.jar",
            "jdk.management/com.sun.management.internal",
            "java.base/sun.nio.ch",
            "java.base/java.io",
            "java.base/java.nio",
            "java.base/java.util.concurrent",
            "java.base/java.util",
            "java.base/java.util.concurrent.atomic",
            "java.base/java.lang",
            "java.base/java.math",
            "java.base/java.lang.reflect",
            "java.base/java.net",
            "jdk.compiler/com.sun.tools.javac",
        )
    ),
]


def write_configs(settings: Settings, paths: LocalPaths) -> None:
    """(Re)write every engine's config; data folders are created, never wiped."""
    for sub in ("kafka", "cassandra", "spark/work", "spark/recovery"):
        (paths.data / sub).mkdir(parents=True, exist_ok=True)
    conf = paths.conf
    (conf / "kafka-server.properties").write_text(kafka_server_properties(settings, paths.data / "kafka"))
    (conf / "kafka-log4j2.properties").write_text(KAFKA_LOG4J2_PROPERTIES)
    (conf / "cassandra.yaml").write_text(cassandra_yaml(settings, paths.data / "cassandra"))
    (conf / "cassandra-logback.xml").write_text(CASSANDRA_LOGBACK)
