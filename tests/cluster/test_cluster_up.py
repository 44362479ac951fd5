"""`up --cluster` on the real engines: three KRaft nodes with every topic replicated three ways, three
Cassandra nodes holding the keyspace three times, two Spark workers both running the job's executors, all
within the memory budget; and events land once, read at LOCAL_QUORUM."""

from __future__ import annotations

import json

import requests
from confluent_kafka.admin import AdminClient, ConfigResource

from bench.memory import service_rss
from kafka.contract import STREAMS
from local.services import infra_names
from local.topology import topology
from tests.cluster.conftest import main_py
from tests.e2e.helpers import producing, unique_events, wait_until_landed
from tests.e2e.test_pipeline import assert_exactly

RSS_BUDGET_BYTES = 12 * 1024**3


def test_status_shows_every_node_up(cluster) -> None:
    done = main_py("status", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["service"]: r for r in json.loads(done.stdout)["services"]}
    for name in (*infra_names(cluster.settings), "stream"):
        assert rows[name]["state"] == "up", rows[name]
    assert rows["kafka-2"]["address"] == "127.0.0.2:9092"
    assert rows["cassandra-3"]["address"] == "127.0.0.3:9042"


def test_every_topic_lives_on_all_three_brokers(cluster) -> None:
    admin = AdminClient(cluster.settings.kafka_client("admin"))
    metadata = admin.list_topics(timeout=15)
    assert sorted(metadata.brokers) == [1, 2, 3]
    # The pipeline's topics, and every internal one (the registry's storage among them).
    for name, topic in metadata.topics.items():
        for partition in topic.partitions.values():
            assert len(partition.replicas) == 3, f"{name}/{partition.id}: replicas {partition.replicas}"
            assert len(partition.isrs) == 3, f"{name}/{partition.id}: in sync {partition.isrs}"
    assert {s.topic for s in STREAMS} <= set(metadata.topics)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, s.topic) for s in STREAMS]
    for resource, future in admin.describe_configs(resources).items():
        assert future.result(timeout=15)["min.insync.replicas"].value == "2", resource


def test_the_keyspace_is_on_three_nodes_of_one_data_center(cluster, cassandra) -> None:
    row = cassandra.session.execute(
        "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'user_logs'"
    ).one()
    assert row.replication["class"].endswith("NetworkTopologyStrategy")
    assert row.replication[cluster.settings.cassandra_local_dc] == "3"
    hosts = cassandra.cluster.metadata.all_hosts()
    assert sorted(h.address for h in hosts) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert all(h.is_up and h.datacenter == cluster.settings.cassandra_local_dc for h in hosts)


def test_the_job_runs_executors_on_both_workers(cluster) -> None:
    for worker in topology(cluster.settings).spark_workers:
        state = requests.get(f"http://{worker.host}:{worker.webui_port}/json/", timeout=10).json()
        apps = {e["appdesc"]["name"] for e in state.get("executors", [])}
        assert "log-pipeline" in apps, f"{worker.name}: executors of {apps or 'no app'}"


def test_events_land_exactly_once(cluster, cassandra) -> None:
    events = unique_events(sessions=300)
    with producing(cluster.settings, events, rate=0):
        pass
    assert_exactly(events, wait_until_landed(cassandra, events, timeout_s=300))


def test_the_cluster_fits_its_memory_budget(cluster) -> None:
    rss = service_rss(cluster)
    total = sum(rss.values())
    print("RSS by service (MB): " + ", ".join(f"{k} {v / 2**20:,.0f}" for k, v in sorted(rss.items())))
    print(f"RSS total: {total / 2**20:,.0f} MB")
    assert total <= RSS_BUDGET_BYTES, f"{total / 2**30:.2f} GiB over the 12 GiB budget"
