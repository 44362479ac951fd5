"""Cluster mode's topology and configs from `.env.cluster`, and that file against Compose's cluster file."""

from __future__ import annotations

import pytest
from dotenv import dotenv_values

from config.settings import CLUSTER_ENV_FILE, PROJECT_ROOT, Settings, load_settings
from local import configs
from local.topology import topology
from tests.unit.compose.compose_model import STACKS, raw, stack

CLUSTER_VALUES = dotenv_values(CLUSTER_ENV_FILE)


@pytest.fixture
def cluster_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """What every command reads while cluster mode runs (`.env.cluster` over `.env`)."""
    for name, value in CLUSTER_VALUES.items():
        monkeypatch.setenv(name, value)
    return load_settings()


@pytest.fixture
def single_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in dotenv_values(PROJECT_ROOT / ".env").items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_the_cluster_is_three_kafka_three_cassandra_two_workers_on_loopback_aliases(cluster_settings) -> None:
    nodes = topology(cluster_settings)
    assert [(n.name, n.node_id, n.host, n.port) for n in nodes.kafka] == [
        ("kafka-1", 1, "127.0.0.1", 9092),
        ("kafka-2", 2, "127.0.0.2", 9092),
        ("kafka-3", 3, "127.0.0.3", 9092),
    ]
    assert nodes.controller_voters == "1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093"
    assert [(n.name, n.host, n.jmx_port) for n in nodes.cassandra] == [
        ("cassandra-1", "127.0.0.1", 7199),
        ("cassandra-2", "127.0.0.2", 7200),
        ("cassandra-3", "127.0.0.3", 7201),
    ]
    assert [(w.name, w.host, w.webui_port) for w in nodes.spark_workers] == [
        ("spark-worker-1", "127.0.0.1", 8082),
        ("spark-worker-2", "127.0.0.2", 8083),
    ]


def test_single_node_names_are_unchanged(single_settings) -> None:
    nodes = topology(single_settings)
    assert nodes.node_names == ("kafka", "cassandra", "spark-worker") and not nodes.clustered


def test_kafka_node_config_replicates_every_topic_three_ways(cluster_settings, tmp_path) -> None:
    nodes = topology(cluster_settings)
    props = dict(
        line.split("=", 1)
        for line in configs.kafka_server_properties(cluster_settings, nodes.kafka[1], nodes, tmp_path).splitlines()
        if line
    )
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == nodes.controller_voters
    assert props["listeners"] == "BROKER://127.0.0.2:9092,CONTROLLER://127.0.0.2:9093"
    assert props["advertised.listeners"] == "BROKER://127.0.0.2:9092"
    for key in ("default.replication.factor", "offsets.topic.replication.factor"):
        assert props[key] == "3", key
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"


def test_single_kafka_node_is_its_own_quorum(single_settings, tmp_path) -> None:
    nodes = topology(single_settings)
    text = configs.kafka_server_properties(single_settings, nodes.kafka[0], nodes, tmp_path)
    assert "controller.quorum.bootstrap.servers=127.0.0.1:9093" in text and "voters" not in text
    assert "offsets.topic.replication.factor=1" in text


def test_cassandra_nodes_share_a_seed_a_data_center_and_evenly_spaced_tokens(cluster_settings, tmp_path) -> None:
    nodes = topology(cluster_settings)
    third = configs.cassandra_yaml(cluster_settings, nodes.cassandra[2], nodes, tmp_path)
    assert "listen_address: 127.0.0.3" in third and "rpc_address: 127.0.0.3" in third
    assert 'seeds: "127.0.0.1:7000"' in third
    assert "endpoint_snitch: GossipingPropertyFileSnitch" in third
    tokens = [configs.initial_token(i, 3) for i in (1, 2, 3)]
    assert tokens[0] == -(2**63) and tokens[1] - tokens[0] == tokens[2] - tokens[1] == 2**64 // 3
    assert f"initial_token: {tokens[2]}" in third and "auto_bootstrap: false" in third
    rackdc = configs.cassandra_rackdc_properties(cluster_settings)
    assert rackdc == f"dc={cluster_settings.cassandra_local_dc}\nrack=rack1\n"


def test_cluster_settings_match_composes_cluster_file(cluster_settings) -> None:
    """Same names, same values: the replication settings, and as many nodes of each engine."""
    cluster_file = raw(STACKS["cluster"][1])
    services = stack(STACKS["cluster"])["services"]
    topics_init = services["topics-init"]["environment"]
    assert topics_init["KAFKA_TOPIC_REPLICATION_FACTOR"] == str(cluster_settings.topic_replication_factor)
    assert topics_init["KAFKA_TOPIC_MIN_INSYNC_REPLICAS"] == str(cluster_settings.topic_min_insync_replicas)
    driver = services["spark-driver"]["environment"]
    assert driver["CASSANDRA_REPLICATION_FACTOR"] == str(cluster_settings.cassandra_replication_factor)
    assert driver["CASSANDRA_WRITE_CONSISTENCY"] == cluster_settings.cassandra_write_consistency
    worker = services["spark-worker"]
    assert worker["deploy"]["replicas"] == cluster_settings.spark_worker_instances
    assert worker["environment"]["SPARK_WORKER_CORES"] == str(cluster_settings.spark_worker_cores)
    assert worker["environment"]["SPARK_WORKER_MEMORY"] == cluster_settings.spark_worker_memory
    nodes = topology(cluster_settings)
    brokers = [n for n in services if n == "broker" or n.startswith("broker-")]
    assert len(brokers) == len(nodes.kafka)
    assert len(driver["KAFKA_BOOTSTRAP_SERVERS"].split(",")) == len(nodes.kafka)
    cassandras = [n for n in services if n == "cassandra" or n.startswith("cassandra-") and "init" not in n]
    assert len(cassandras) == len(nodes.cassandra) == len(driver["CASSANDRA_HOST"].split(","))
    assert cluster_file["services"]["broker"]["environment"]  # the override reaches node 1 too


def test_down_stops_the_nodes_of_one_engine_together_in_reverse_start_order(cluster_settings) -> None:
    from local.platform import stop_groups
    from local.services import service_names

    groups = stop_groups(list(reversed(service_names(cluster_settings))))
    assert groups[:3] == [["dashboard"], ["producer"], ["stream"]]
    assert ["spark-worker-2", "spark-worker-1"] in groups
    assert groups[-2:] == [["cassandra-3", "cassandra-2", "cassandra-1"], ["kafka-3", "kafka-2", "kafka-1"]]
    assert stop_groups(["stream", "spark-worker", "spark-master", "kafka"]) == [
        ["stream"],
        ["spark-worker"],
        ["spark-master"],
        ["kafka"],
    ]
