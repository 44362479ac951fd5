"""Security against the real engines of local mode: who gets in, and what each user or role may do."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer

from cassandra import Unauthorized
from config.security import Security
from config.settings import PROJECT_ROOT, Settings
from database.cassandra_connection import CassandraAuthRefused, CassandraConnection
from kafka.contract import AUTH
from kafka.login import metadata_problem
from kafka.topics import create_topics
from local.kafka_tools import bin_dir
from pipeline_setup import run_setup
from tests.integration.helpers import create_topic

pytestmark = pytest.mark.skipif(
    os.environ.get("PIPELINE_SECURITY", "on") == "off", reason="local mode runs with --insecure"
)


@pytest.fixture(scope="module")
def pipeline_ready(settings: Settings) -> Settings:
    """Topics, ACLs, schemas, keyspace and grants, as `up` leaves them (idempotent)."""
    create_topics(settings, tools=bin_dir())
    run_setup(settings)
    return settings


def with_password(settings: Settings, variable: str, password: str) -> Settings:
    security: Security = settings.security
    return dataclasses.replace(
        settings, security=dataclasses.replace(security, passwords={**security.passwords, variable: password})
    )


def main_py(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
    )


def test_kafka_refuses_a_wrong_password_naming_the_setting(settings: Settings) -> None:
    wrong = with_password(settings, "KAFKA_PRODUCER_PASSWORD", "not-the-password-" + uuid.uuid4().hex)
    problem, topics = metadata_problem(wrong.kafka_client("producer"), "producer", timeout_s=5)
    assert not topics
    assert "refused the login of user pipeline-producer" in problem and "KAFKA_PRODUCER_PASSWORD" in problem
    assert wrong.security.passwords["KAFKA_PRODUCER_PASSWORD"] not in problem


def test_kafka_gives_a_client_without_credentials_nothing(settings: Settings) -> None:
    problem, topics = metadata_problem({"bootstrap.servers": settings.kafka_bootstrap_servers}, "admin", 5)
    assert not topics and "without a login" in problem


def test_the_producer_command_says_which_password_is_wrong_in_one_line(pipeline_ready: Settings) -> None:
    secret = "wrong-" + uuid.uuid4().hex
    done = main_py("produce", "--count", "1", "--no-progress", env={"KAFKA_PRODUCER_PASSWORD": secret})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: Kafka at") and "KAFKA_PRODUCER_PASSWORD" in lines[-1], done.stderr
    assert "Traceback" not in done.stderr and secret not in done.stderr + done.stdout


def _delivery_errors(settings: Settings, role: str, topic: str) -> list[KafkaError]:
    errors: list[KafkaError] = []
    producer = Producer({**settings.kafka_client(role), "acks": "all", "message.timeout.ms": 10_000})
    producer.produce(topic, b"x", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(20)
    return errors


def test_the_producer_writes_its_topics_and_no_other(pipeline_ready: Settings, unique_name: str) -> None:
    assert _delivery_errors(pipeline_ready, "producer", AUTH.topic) == [None]
    create_topic(pipeline_ready, unique_name)
    [error] = _delivery_errors(pipeline_ready, "producer", unique_name)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_the_producer_cannot_read_and_the_job_cannot_write(pipeline_ready: Settings, unique_name: str) -> None:
    consumer = Consumer(
        {
            **pipeline_ready.kafka_client("producer"),
            "group.id": f"spark-kafka-source-{unique_name}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([AUTH.topic])
    try:
        message = None
        for _ in range(20):
            message = consumer.poll(1)
            if message is not None and message.error() is not None:
                break
        assert message is not None and message.error() is not None
        assert message.error().code() in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED)
    finally:
        consumer.close()
    [error] = _delivery_errors(pipeline_ready, "job", AUTH.topic)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_cassandra_refuses_a_wrong_password_naming_the_setting(settings: Settings) -> None:
    secret = "wrong-" + uuid.uuid4().hex
    wrong = with_password(settings, "CASSANDRA_JOB_PASSWORD", secret)
    with pytest.raises(CassandraAuthRefused) as refused:
        CassandraConnection.open(wrong, retry_s=5, role="job")
    message = str(refused.value)
    assert "refused the login of role pipeline_job" in message and "CASSANDRA_JOB_PASSWORD" in message
    assert secret not in message


def test_cassandra_has_no_default_superuser_left(settings: Settings) -> None:
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import NoHostAvailable

    from database.cassandra_connection import auth_refused, build_cluster

    cluster = build_cluster(settings, auth=PlainTextAuthProvider("cassandra", "cassandra"))
    try:
        with pytest.raises(NoHostAvailable) as refused:
            cluster.connect()
        assert auth_refused(refused.value)
    finally:
        cluster.shutdown()


def test_the_job_role_writes_and_reads_but_cannot_drop_a_table(pipeline_ready: Settings) -> None:
    with CassandraConnection.open(pipeline_ready, role="job") as job:
        job.session.execute("SELECT event_id FROM user_logs.auth_logs LIMIT 1")
        with pytest.raises(Unauthorized, match="DROP"):
            job.session.execute("DROP TABLE user_logs.auth_logs")
        with pytest.raises(Unauthorized):
            job.session.execute("CREATE TABLE user_logs.intruder (id int PRIMARY KEY)")


def test_the_reader_role_only_reads(pipeline_ready: Settings) -> None:
    with CassandraConnection.open(pipeline_ready, role="reader") as reader:
        reader.session.execute("SELECT event_id FROM user_logs.auth_logs LIMIT 1")
        with pytest.raises(Unauthorized, match="MODIFY"):
            reader.session.execute("TRUNCATE user_logs.auth_logs")


def test_cqlsh_logs_in_as_the_reader_and_kafka_tools_as_the_admin(pipeline_ready: Settings) -> None:
    env = {**os.environ, "PATH": f"{bin_dir()}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["cqlsh", "127.0.0.1", "-e", "SELECT event_id FROM user_logs.auth_logs LIMIT 1"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 0 and "event_id" in done.stdout, done.stderr
    denied = subprocess.run(
        ["cqlsh", "127.0.0.1", "-e", "DROP TABLE user_logs.auth_logs"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert denied.returncode != 0 and "User pipeline_reader has no DROP permission" in denied.stderr, denied.stderr
    admin = subprocess.run(
        ["cqlsh", "127.0.0.1", "-e", "LIST ROLES"],
        capture_output=True, text=True, timeout=60, env={**env, "CQLSH_ROLE": "admin"},
    )  # fmt: skip
    assert admin.returncode == 0 and "pipeline_job" in admin.stdout, admin.stderr
    assert "cassandra " not in admin.stdout  # the default superuser is gone
    topics = subprocess.run(
        ["kafka-topics", "--bootstrap-server", pipeline_ready.kafka_bootstrap_servers, "--list"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert topics.returncode == 0 and AUTH.topic in topics.stdout.split(), topics.stderr


def test_the_secrets_command_names_passwords_and_shows_one_on_request(settings: Settings) -> None:
    listed = main_py("secrets", env={})
    assert listed.returncode == 0 and "CASSANDRA_READER_PASSWORD" in listed.stdout
    assert not any(p in listed.stdout for p in settings.security.passwords.values())
    shown = main_py("secrets", "--show", "CASSANDRA_READER_PASSWORD", env={})
    assert shown.stdout.strip() == settings.security.cassandra("reader").password


def test_secrets_and_files_holding_them_are_private(settings: Settings) -> None:
    conf = settings.local_dir / "conf"
    private = [settings.secrets_file, *conf.glob("*server.properties"), *conf.glob("*.credentials")]
    private += [conf / "kafka-admin-client.properties", conf / "registry.jvm-args"]
    for path in private:
        assert path.exists(), path
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"


def test_compose_cassandra_init_runs_the_same_bootstrap_again_safely(pipeline_ready: Settings) -> None:
    """`python -m database.bootstrap` (Compose's cassandra-init) on an already secured node: roles kept, the
    setup and grants applied again; the reader still logs in and still may not write."""
    done = subprocess.run(
        [sys.executable, "-m", "database.bootstrap"], capture_output=True, text=True, timeout=180, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "cassandra: roles pipeline_admin, pipeline_job, pipeline_reader" in done.stdout
    assert "statements of cassandra/cassandra_setup.cql applied" in done.stdout and "grants" in done.stdout
    with CassandraConnection.open(pipeline_ready, role="reader", retry_s=10) as reader:
        reader.session.execute("SELECT count(*) FROM user_logs.auth_alerts")
        with pytest.raises(Unauthorized):
            reader.session.execute("TRUNCATE user_logs.auth_alerts")
