"""Configuration files local mode writes for each engine: pure text builders plus one writer.

Everything binds to 127.0.0.1. Ports come from settings, so they match Compose's defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

from config.security import SCRAM_MECHANISM, Security, kafka_jaas
from config.settings import Settings
from local.paths import LocalPaths
from local.topology import CassandraNode, KafkaNode, Topology, topology


def kafka_server_properties(settings: Settings, node: KafkaNode, nodes: Topology, data_dir: Path) -> str:
    """Every node is broker and controller (KRaft combined mode). One node: a quorum of itself (formatted
    `--standalone`) and internal topics at RF 1. Three: a static quorum of all three, and every topic (the
    internal ones, the registry's, the pipeline's) on all three with two in sync for a write."""
    rf = min(len(nodes.kafka), settings.topic_replication_factor) if nodes.clustered else 1
    min_isr = min(rf, settings.topic_min_insync_replicas) if nodes.clustered else 1
    quorum = (
        f"controller.quorum.voters={nodes.controller_voters}"
        if nodes.clustered
        else f"controller.quorum.bootstrap.servers={node.host}:{node.controller_port}"
    )
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            quorum,
            f"listeners=BROKER://{node.bootstrap},CONTROLLER://{node.host}:{node.controller_port}",
            f"advertised.listeners=BROKER://{node.bootstrap}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=BROKER",
            *kafka_security_properties(settings.security),
            f"log.dirs={data_dir}",
            "num.partitions=3",
            f"default.replication.factor={rf}",
            f"min.insync.replicas={min_isr}",
            f"offsets.topic.replication.factor={rf}",
            f"transaction.state.log.replication.factor={rf}",
            f"transaction.state.log.min.isr={min_isr}",
            f"share.coordinator.state.topic.replication.factor={rf}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "",
        ]
    )


def kafka_security_properties(security: Security) -> list[str]:
    """Clients and brokers log in with SASL/SCRAM-SHA-512 on the BROKER listener (the credentials live in the
    cluster's metadata; the admin's is added when the storage is formatted). The CONTROLLER listener uses
    SASL/PLAIN with one static user: SCRAM cannot work there, its credentials being in the log the controllers
    serve. No ACL, no access: StandardAuthorizer with the admin and the controller as super users. Plain TCP
    on 127.0.0.x (no TLS; docs/security.md says why). With security off: PLAINTEXT and no authorizer."""
    if not security.enabled:
        return ["listener.security.protocol.map=CONTROLLER:PLAINTEXT,BROKER:PLAINTEXT"]
    admin = security.kafka("admin")
    controller = security.controller_password
    return [
        "listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,BROKER:SASL_PLAINTEXT",
        f"sasl.enabled.mechanisms={SCRAM_MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={SCRAM_MECHANISM}",
        f"listener.name.broker.{SCRAM_MECHANISM.lower()}.sasl.jaas.config={kafka_jaas(admin)}",
        "sasl.mechanism.controller.protocol=PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        "listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
        f'required username="{CONTROLLER_USER}" password="{controller}" user_{CONTROLLER_USER}="{controller}";',
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        f"super.users=User:{admin.username};User:{CONTROLLER_USER}",
        "allow.everyone.if.no.acl.found=false",
    ]


CONTROLLER_USER = "controller"


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


MURMUR3_MIN = -(2**63)


def initial_token(index: int, count: int) -> int:
    """Evenly spaced single tokens, so the nodes of a new cluster start together without bootstrapping."""
    return MURMUR3_MIN + (index - 1) * (2**64 // count)


def cassandra_token_settings(node: CassandraNode, nodes: Topology) -> str:
    if not nodes.clustered:
        return "num_tokens: 16\nallocate_tokens_for_local_replication_factor: 1"
    # A new cluster whose nodes all start empty: each takes its token and joins without streaming (with RF 3
    # on 3 nodes every node holds every row anyway), so the three start side by side.
    return f"num_tokens: 1\ninitial_token: {initial_token(node.index, len(nodes.cassandra))}\nauto_bootstrap: false"


def cassandra_auth_settings(security: Security) -> str:
    """Password logins and role permissions (roles: database/roles.py). The first start creates the default
    `cassandra` superuser, which `up` replaces with the generated admin at once."""
    if not security.enabled:
        return "authenticator: AllowAllAuthenticator\nauthorizer: AllowAllAuthorizer"
    return (
        "authenticator: PasswordAuthenticator\n"
        "authorizer: CassandraAuthorizer\n"
        "role_manager: CassandraRoleManager\n"
        # Credentials and permissions are cached for this long: a rotated password takes effect within it.
        "roles_validity: 2000ms\n"
        "permissions_validity: 2000ms\n"
        "credentials_validity: 2000ms\n"
        # A login reads its role from one replica (system_auth is on every node of a cluster, written at
        # EACH_QUORUM): with two of three nodes down, the default LOCAL_QUORUM refused every login, so neither
        # `status` could say what is wrong nor `up` see the last node serve and bring the others back.
        "auth_read_consistency_level: LOCAL_ONE"
    )


def cassandra_durability_settings() -> str:
    """What an acknowledged write survives. Compose's Cassandra gets the same lines (docker/cassandra/)."""
    return (
        # A write is acknowledged once its commit log section is synced (`group`: one sync every 5 ms for all
        # writes waiting). With `periodic`, the default, replay after a kill -9 stops at the last sync marker, so
        # writes acknowledged in the seconds before it were lost (a chaos round found 6 rows of a batch missing).
        "commitlog_sync: group\n"
        "commitlog_sync_group_window: 5ms\n"
        # Writes wait in the mutation stage for the sync: enough threads so that many can wait.
        "concurrent_writes: 128\n"
        "disk_failure_policy: stop\n"
        "commit_failure_policy: stop"
    )


def cassandra_rackdc_properties(settings: Settings) -> str:
    """GossipingPropertyFileSnitch's data center: the one clients ask for (CASSANDRA_LOCAL_DC)."""
    return f"dc={settings.cassandra_local_dc}\nrack=rack1\n"


def cassandra_yaml(settings: Settings, node: CassandraNode, nodes: Topology, data_dir: Path) -> str:
    storage = settings.cassandra_storage_port
    seed = nodes.cassandra_seed.host
    return f"""\
# Written by local mode (local/configs.py): node {node.index} of {len(nodes.cassandra)}, on {node.host}.
cluster_name: pipeline-local
{cassandra_token_settings(node, nodes)}
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: {"GossipingPropertyFileSnitch" if nodes.clustered else "SimpleSnitch"}
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "{seed}:{storage}"
listen_address: {node.host}
rpc_address: {node.host}
storage_port: {storage}
native_transport_port: {settings.cassandra_port}
start_native_transport: true
{cassandra_auth_settings(settings.security)}
data_file_directories:
  - {data_dir / "data"}
commitlog_directory: {data_dir / "commitlog"}
saved_caches_directory: {data_dir / "saved_caches"}
hints_directory: {data_dir / "hints"}
cdc_raw_directory: {data_dir / "cdc_raw"}
{cassandra_durability_settings()}
commitlog_segment_size: 32MiB
# The default cap is min(8 GiB, a quarter of the volume): segments a quiet table still holds are kept until
# then (a 30-minute soak left 1.3 GB). At the cap Cassandra flushes the oldest tables and recycles segments.
commitlog_total_space: 1024MiB
concurrent_reads: 16
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


def private_file(path: Path, text: str) -> None:
    """A file only its owner reads (it holds credentials), written without ever being readable by others."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def write_configs(settings: Settings, paths: LocalPaths) -> None:
    """(Re)write every node's config; data folders are created, never wiped."""
    nodes = topology(settings)
    for sub in ("spark/recovery", *(f"spark/{paths.worker_dir_name(w.name)}" for w in nodes.spark_workers)):
        (paths.data / sub).mkdir(parents=True, exist_ok=True)
    conf = paths.conf
    for kafka in nodes.kafka:
        data = paths.data / kafka.name
        data.mkdir(parents=True, exist_ok=True)
        private_file(paths.kafka_properties(kafka.name), kafka_server_properties(settings, kafka, nodes, data))
    (conf / "kafka-log4j2.properties").write_text(KAFKA_LOG4J2_PROPERTIES)
    for cassandra in nodes.cassandra:
        data = paths.data / cassandra.name
        data.mkdir(parents=True, exist_ok=True)
        paths.cassandra_yaml(cassandra.name).write_text(cassandra_yaml(settings, cassandra, nodes, data))
    (conf / "cassandra-rackdc.properties").write_text(cassandra_rackdc_properties(settings))
    (conf / "cassandra-logback.xml").write_text(CASSANDRA_LOGBACK)
