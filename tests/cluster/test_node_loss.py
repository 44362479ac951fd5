"""Losing a node of the cluster loses nothing. Under a steady produce, `kill -9` one Kafka broker, one
Cassandra node or one Spark worker: the producer delivers every record, the job keeps writing (without a
restart of its own for the Cassandra and worker losses), and once the node is back (`main.py up --cluster`,
the project's own command) every produced event is in Cassandra exactly once. Losing two of three Cassandra
nodes makes the job's LOCAL_QUORUM writes fail loudly; after both are back it resumes with nothing lost."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from local.platform import Platform
from tests.cluster.conftest import main_py
from tests.e2e.helpers import producing, unique_events, wait_for, wait_until_landed
from tests.e2e.test_pipeline import assert_exactly

RATE = 400  # events/s: a steady flow on 2 cores with eleven JVMs
KILL_AFTER_S = 8
PRODUCE_S = 20  # the kill lands mid-stream, with 12 s of producing still to come


def job_report(platform: Platform) -> dict:
    return json.loads((platform.paths.run / "stream-status.json").read_text())


def job_identity(platform: Platform) -> tuple[int, dict[str, int]]:
    """The job's pid and each query's failure count: unchanged means it kept writing on its own."""
    report = job_report(platform)
    return report["pid"], {topic: q["restarts"] for topic, q in report["queries"].items()}


def kill_9(platform: Platform, name: str) -> None:
    pid = platform.supervisor.info(name)["pid"]
    assert pid, f"{name} is not running"
    os.kill(pid, signal.SIGKILL)


def restart_lost_nodes() -> None:
    done = main_py("up", "--cluster", "--no-producer", timeout_s=600)
    assert done.returncode == 0, f"`up --cluster` could not bring the node back:\n{done.stdout}\n{done.stderr}"


def healthy(platform: Platform) -> bool:
    return job_report(platform)["health"] == "healthy"


@pytest.mark.parametrize(
    ("node", "job_keeps_running"),
    [("kafka-2", False), ("cassandra-3", True), ("spark-worker-2", True)],
)
def test_losing_one_node_loses_nothing(cluster, cassandra, node: str, job_keeps_running: bool) -> None:
    wait_for(lambda: healthy(cluster), 180, "a healthy job before the kill")
    before = job_identity(cluster)
    events = unique_events(sessions=int(RATE * PRODUCE_S / 7))  # 7 events per session on average
    with producing(cluster.settings, events, rate=RATE, join_s=300):
        time.sleep(KILL_AFTER_S)
        kill_9(cluster, node)
    if job_keeps_running:
        # Every event is written while the node is still down: the job carried on by itself.
        found = wait_until_landed(cassandra, events, timeout_s=300)
        assert job_identity(cluster) == before, f"the job restarted or a query failed after losing {node}"
        restart_lost_nodes()
    else:
        restart_lost_nodes()
        found = wait_until_landed(cassandra, events, timeout_s=300)
    assert_exactly(events, found)


def test_losing_two_cassandra_nodes_fails_writes_loudly_then_resumes(cluster, cassandra) -> None:
    wait_for(lambda: healthy(cluster), 180, "a healthy job before the kills")
    events = unique_events(sessions=400)
    kill_9(cluster, "cassandra-2")
    kill_9(cluster, "cassandra-3")
    try:
        with producing(cluster.settings, events, rate=0, join_s=120):
            pass

        def quorum_failure_reported() -> bool:
            report = job_report(cluster)
            errors = [q["last_error"] or "" for q in report["queries"].values()]
            return report["health"] == "unhealthy" and any("LOCAL_QUORUM" in e or "Unavailable" in e for e in errors)

        wait_for(quorum_failure_reported, 180, "the job to report LOCAL_QUORUM unavailable")
        status = main_py("status", "--json")
        assert json.loads(status.stdout)["job"]["health"] == "unhealthy"
    finally:
        restart_lost_nodes()
    assert_exactly(events, wait_until_landed(cassandra, events, timeout_s=300))
    wait_for(lambda: healthy(cluster), 180, "the job healthy again")
