"""Which nodes local mode runs, derived from the settings: one of each engine by default; in cluster mode
(`up --cluster`, settings from `.env.cluster`) three Kafka nodes, three Cassandra nodes and two Spark
workers, each on its own loopback address (127.0.0.1, .2, .3: Linux routes all of 127.0.0.0/8 to `lo`),
so every node keeps the engine's usual ports. Pure: no I/O.

Single-node names stay `kafka`, `cassandra`, `spark-worker`; cluster nodes are `kafka-1`, `cassandra-2`, ...
"""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings


@dataclass(frozen=True)
class KafkaNode:
    name: str
    node_id: int
    host: str
    port: int
    controller_port: int

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def voter(self) -> str:
        return f"{self.node_id}@{self.host}:{self.controller_port}"


@dataclass(frozen=True)
class CassandraNode:
    name: str
    index: int
    host: str
    jmx_port: int  # JMX listens on 127.0.0.1 only, so each node needs its own port


@dataclass(frozen=True)
class SparkWorker:
    name: str
    index: int
    host: str
    webui_port: int


@dataclass(frozen=True)
class Topology:
    kafka: tuple[KafkaNode, ...]
    cassandra: tuple[CassandraNode, ...]
    spark_workers: tuple[SparkWorker, ...]

    @property
    def clustered(self) -> bool:
        return len(self.kafka) > 1

    @property
    def controller_voters(self) -> str:
        return ",".join(node.voter for node in self.kafka)

    @property
    def cassandra_seed(self) -> CassandraNode:
        return self.cassandra[0]

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in (*self.kafka, *self.cassandra, *self.spark_workers))


def _hosts(addresses: str) -> list[tuple[str, int | None]]:
    found = []
    for item in (a.strip() for a in addresses.split(",") if a.strip()):
        host, _, port = item.rpartition(":")
        found.append((host, int(port)) if host else (item, None))
    return found


def _name(engine: str, index: int, count: int) -> str:
    return f"{engine}-{index}" if count > 1 else engine


def topology(settings: Settings) -> Topology:
    """Kafka nodes are the addresses of KAFKA_BOOTSTRAP_SERVERS, Cassandra nodes those of CASSANDRA_HOST, and
    SPARK_WORKER_INSTANCES workers sit on 127.0.0.1, .2, ... with consecutive web UI ports."""
    brokers = _hosts(settings.kafka_bootstrap_servers)
    kafka = tuple(
        KafkaNode(_name("kafka", i, len(brokers)), i, host, port or 9092, settings.kafka_controller_port)
        for i, (host, port) in enumerate(brokers, start=1)
    )
    hosts = [host for host, _ in _hosts(settings.cassandra_host)]
    cassandra = tuple(
        CassandraNode(_name("cassandra", i, len(hosts)), i, host, settings.cassandra_jmx_port + i - 1)
        for i, host in enumerate(hosts, start=1)
    )
    count = settings.spark_worker_instances
    workers = tuple(
        SparkWorker(_name("spark-worker", i, count), i, f"127.0.0.{i}", settings.spark_worker_webui_port + i - 1)
        for i in range(1, count + 1)
    )
    return Topology(kafka, cassandra, workers)
