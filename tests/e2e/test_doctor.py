"""`main.py doctor` on the live pipeline: all ✓ when healthy, and each ✗ by breaking that thing on purpose
(then mending it): a wrong JAVA_HOME, unreachable listeners, a topic's retention, a subject's compatibility,
a dropped column, pins that differ from what runs, and the job stopped (its canary then times out)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.schema_registry import SchemaRegistryClient

from config.settings import PROJECT_ROOT
from config.versions import load_versions
from kafka.contract import ACTIVITY, SESSION
from kafka.schema_registry import COMPATIBILITY
from local import platform as local_platform
from ops import doctor

JAVA_25 = Path("/usr/lib/jvm/temurin-25-jdk-amd64")


def run_doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "doctor", *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )  # fmt: skip


def lines(done: subprocess.CompletedProcess, mark: str) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.startswith(mark)]


def failures_in_process(pipeline, **pins) -> list[str]:
    """The doctor's ✗ lines with some pins changed (what a stale engine or jar looks like), no canary."""
    versions = dataclasses.replace(load_versions(), **pins)
    said: list[str] = []
    doctor.main(pipeline.settings, versions, False, False, 10, pipeline, say=said.append)
    return [line for line in said if line.startswith(doctor.FAIL)]


def test_a_healthy_pipeline_passes_every_check_and_its_canary(pipeline) -> None:
    done = run_doctor("--canary-timeout", "120")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not lines(done, doctor.FAIL)
    assert len(lines(done, f"{doctor.PASS} canary ")) == 3, done.stdout
    assert done.stdout.rstrip().endswith("doctor: all checks passed")


@pytest.mark.parametrize(
    ("env", "broken"),
    [
        ({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, "kafka listeners: no answer from 127.0.0.1:1"),
        ({"SCHEMA_REGISTRY_URL": "http://127.0.0.1:1"}, "registry: no answer from http://127.0.0.1:1"),
        ({"CASSANDRA_PORT": "1"}, "cassandra: no CQL connection to 127.0.0.1:1"),
        ({"SPARK_MASTER_WEBUI_PORT": "1"}, "spark master: no answer from http://127.0.0.1:1"),
    ],
)
def test_an_unreachable_listener_is_a_cross_with_what_to_do(pipeline, env, broken) -> None:
    done = run_doctor("--no-canary", env=env)
    assert done.returncode == 1
    failures = lines(done, doctor.FAIL)
    assert any(line.startswith(f"{doctor.FAIL} {broken}") and " -> " in line for line in failures), done.stdout
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.skipif(not JAVA_25.is_dir(), reason="needs a Java other than 17 installed")
def test_a_java_home_that_is_not_17_is_a_cross(pipeline) -> None:
    done = run_doctor("--no-canary", env={"JAVA_HOME": str(JAVA_25)})
    assert done.returncode == 1
    assert lines(done, f"{doctor.FAIL} java: JAVA_HOME={JAVA_25} is Java 25"), done.stdout


def test_a_topic_schema_and_table_broken_on_purpose_are_each_a_cross(pipeline, cassandra) -> None:
    settings = pipeline.settings
    admin = AdminClient(settings.kafka_client("admin"))
    registry = SchemaRegistryClient({"url": settings.schema_registry_url})

    def retention(value: str) -> None:
        entry = ConfigEntry("retention.ms", value, incremental_operation=AlterConfigOpType.SET)
        resource = ConfigResource(ConfigResource.Type.TOPIC, SESSION.topic, incremental_configs=[entry])
        for future in admin.incremental_alter_configs([resource]).values():
            future.result(timeout=30)

    retention("3600000")
    registry.set_compatibility(ACTIVITY.subject, "NONE")
    cassandra.session.execute("ALTER TABLE user_logs.session_logs DROP browser", timeout=60)
    try:
        done = run_doctor("--no-canary")
    finally:
        retention(str(settings.topic_retention_ms))
        registry.set_compatibility(ACTIVITY.subject, COMPATIBILITY)
        cassandra.session.execute("ALTER TABLE user_logs.session_logs ADD browser text", timeout=60)
    assert done.returncode == 1
    failures = lines(done, doctor.FAIL)
    assert failures == [
        f"{doctor.FAIL} topic {SESSION.topic}: retention.ms=3600000, want {settings.topic_retention_ms} -> "
        "run `python3 main.py setup` (or `bash kafka/create_topics.sh`), which creates and re-applies them",
        f"{doctor.FAIL} schema {ACTIVITY.subject}: compatibility NONE, want {COMPATIBILITY} -> run `python3 main.py "
        "setup`, which sets it (the job reads old records with the latest schema)",
        f"{doctor.FAIL} table user_logs.session_logs: lacks or mistypes browser text -> run `python3 main.py setup` "
        "(cassandra/cassandra_setup.cql), or ALTER TABLE ... ADD the column",
    ], done.stdout
    assert run_doctor("--no-canary").returncode == 0, "mended"


def test_engines_and_jars_other_than_the_pins_are_each_a_cross(pipeline) -> None:
    failures = failures_in_process(
        pipeline, cassandra="5.0.1", kafka="4.0.0", apicurio_registry="3.0.0", spark_cassandra_connector="3.5.0"
    )
    pins = load_versions()
    assert [line.split(" -> ")[0] for line in failures] == [
        f"{doctor.FAIL} cassandra version: runs {pins.cassandra}, .env pins 5.0.1",
        f"{doctor.FAIL} registry version: runs {pins.apicurio_registry}, .env pins 3.0.0",
        f"{doctor.FAIL} kafka version: runs {pins.kafka}, .env pins 4.0.0",
        f"{doctor.FAIL} job jar spark-cassandra-connector: runs {pins.spark_cassandra_connector}, .env pins 3.5.0",
    ]


def test_a_stopped_job_is_a_cross_and_its_canary_times_out(pipeline) -> None:
    pipeline.supervisor.stop("stream")
    try:
        done = run_doctor("--canary-timeout", "10")
    finally:
        local_platform.up(pipeline, pipeline=True, producer=False)
    assert done.returncode == 1
    failures = lines(done, doctor.FAIL)
    assert failures[0].startswith(f"{doctor.FAIL} streaming job: log-pipeline is not running"), done.stdout
    assert len([f for f in failures if f.startswith(f"{doctor.FAIL} canary ") and "within 10 s" in f]) == 3, failures
    assert len(failures) == 4, failures
