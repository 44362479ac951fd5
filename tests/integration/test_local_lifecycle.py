"""`main.py up | status | logs | down` as a user runs them, and what survives a restart."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from database.cassandra_connection import build_cluster
from local import platform as local_platform
from local.errors import LocalModeError
from local.paths import LocalPaths
from local.services import Service, infra_names, service_names
from local.supervisor import Supervisor
from tests.integration.helpers import consume_all, create_topic, produce

ROOT = Path(__file__).resolve().parents[2]


def main_py(*args: str, timeout_s: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True, timeout=timeout_s, cwd=ROOT
    )


def test_status_json_shows_every_service_up(local_mode) -> None:
    done = main_py("status", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["service"]: r for r in json.loads(done.stdout)["services"]}
    assert set(rows) == set(service_names(local_mode.settings))
    for name in infra_names(local_mode.settings):
        row = rows[name]
        assert row["state"] == "up", row
        assert row["pid"] > 0 and row["uptime"]
    assert rows["kafka"]["address"] == local_mode.settings.kafka_bootstrap_servers


def test_up_twice_is_harmless(local_mode) -> None:
    before = {r["service"]: r["pid"] for r in local_platform.status_rows(local_mode)}
    done = main_py("up", "--infra-only")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(" ready ") == len(infra_names(local_mode.settings))
    after = {r["service"]: r["pid"] for r in local_platform.status_rows(local_mode)}
    assert after == before, "a second `up` must not restart anything"


def test_logs_tails_a_service_log(local_mode) -> None:
    done = main_py("logs", "kafka", "-n", "5")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 5


def test_logs_of_an_unknown_service_is_one_clear_error(local_mode) -> None:
    done = main_py("logs", "zookeeper")
    assert done.returncode == 1
    assert done.stderr.startswith("error: unknown service 'zookeeper'") and "Traceback" not in done.stderr


def test_a_taken_port_is_named_with_its_holder(local_mode) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        service = Service(
            name="probe",
            address="-",
            command=["true"],
            ports=(("127.0.0.1", port),),
            probe=lambda s: None,
            ready_timeout_s=1,
        )
        with pytest.raises(LocalModeError, match=rf"port 127.0.0.1:{port} \(probe\) is already in use by pid \d+"):
            local_platform._check_ports(local_mode, [service], running={})


def test_a_service_dying_while_starting_shows_its_last_log_lines(local_mode, tmp_path: Path) -> None:
    """A throwaway supervisord in a temp folder runs a process that prints and exits."""
    platform = local_platform.Platform(local_mode.settings, local_mode.versions, LocalPaths(tmp_path))
    platform.paths.make()
    crasher = Service(
        name="crasher",
        address="-",
        command=["sh", "-c", "echo first line; echo the reason it died; exit 3"],
        ports=(),
        probe=lambda s: "never ready",
        ready_timeout_s=30,
    )
    supervisor = Supervisor(platform.paths)
    supervisor.start_daemon([crasher])
    try:
        supervisor.start("crasher")
        with pytest.raises(LocalModeError, match="crasher died while starting") as caught:
            local_platform._wait_ready(platform, crasher, time.monotonic())
        assert "the reason it died" in str(caught.value)
        assert str(platform.paths.log_file("crasher")) in str(caught.value)
    finally:
        supervisor.shutdown()


@pytest.mark.lifecycle
def test_down_then_up_keeps_records_schema_ids_and_rows(local_mode, unique_name: str) -> None:
    settings = local_mode.settings
    create_topic(settings, unique_name)
    produce(settings, unique_name, [("k", "kept")])
    registry = SchemaRegistryClient({"url": settings.schema_registry_url})
    schema = json.dumps({"type": "record", "name": "Kept", "fields": [{"name": "id", "type": "string"}]})
    schema_id = registry.register_schema(f"{unique_name}-value", Schema(schema, "AVRO"))
    cluster = build_cluster(settings)
    session = cluster.connect()
    session.execute(
        f"CREATE KEYSPACE {unique_name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
    )
    session.execute(f"CREATE TABLE {unique_name}.kept (id int PRIMARY KEY, body text)")
    session.execute(f"INSERT INTO {unique_name}.kept (id, body) VALUES (1, 'kept')")
    cluster.shutdown()

    assert main_py("down").returncode == 0
    assert local_platform.our_java_processes(local_mode.paths.root) == []
    done = main_py("up", "--infra-only")
    assert done.returncode == 0, done.stderr

    assert consume_all(settings, unique_name, expected=1) == [("k", "kept")]
    fresh_client = SchemaRegistryClient({"url": settings.schema_registry_url})
    assert fresh_client.get_latest_version(f"{unique_name}-value").schema_id == schema_id
    assert json.loads(fresh_client.get_schema(schema_id).schema_str) == json.loads(schema)
    cluster = build_cluster(settings)
    try:
        row = cluster.connect().execute(f"SELECT body FROM {unique_name}.kept WHERE id = 1").one()
        assert row.body == "kept"
    finally:
        cluster.shutdown()


@pytest.mark.lifecycle
def test_down_leaves_no_java_process_and_is_harmless_twice(local_mode) -> None:
    assert local_platform.our_java_processes(local_mode.paths.root), "local mode should be up before this test"
    first = main_py("down")
    assert first.returncode == 0, first.stderr
    assert "stopped:" in first.stdout
    assert local_platform.our_java_processes(local_mode.paths.root) == []
    assert not Supervisor(local_mode.paths).running()
    second = main_py("down")
    assert second.returncode == 0 and "nothing was running" in second.stdout
    status = main_py("status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert {r["state"] for r in report["services"]} == {"down"}
    assert report["job"]["state"] == "not running"
    assert {t["lag"] for t in report["topics"]} == {None}, "no Kafka, no offsets: unknown, not zero"
