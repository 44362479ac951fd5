"""Compose's broker security, run by the real Kafka: docker-compose.yml's broker environment, made into its
server.properties the way Confluent's image does, with in-network names mapped to 127.0.0.1 ports of its own,
runs on local mode's Kafka jars (the same Kafka release the pinned Confluent Platform ships). Then the Compose
setup steps run against it as they would in their containers (`python -m kafka.access`, topics-init's login
wrapper around kafka/create_topics.sh), and each client gets exactly its rights."""

from __future__ import annotations

import os
import re
import runpy
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from config.security import Security, librdkafka_auth, load_security
from config.settings import PROJECT_ROOT
from local import resolve
from local.java import find_java17
from tests.unit.compose.compose_model import BASE, SECRETS, stack

# Variables cp-kafka's start scripts keep out of server.properties (its kafka.properties template).
NOT_PROPERTIES = {"KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_JMX_OPTS", "KAFKA_VERSION"}
TOPIC = "user_auth_logs"
HOST_PATHS = {"PIPELINE_LOCAL_DIR", "SPARK_CHECKPOINT_DIR"}  # container paths; this machine's defaults instead
pytestmark = pytest.mark.timeout(300)


def image_property(variable: str) -> str:
    """cp-kafka's name conversion (cp-docker-utils `ub`): a `_` between two other characters becomes `.` (matches
    do not overlap), then `___` becomes `-` and `__` `_`, lower-cased."""
    key = re.sub(r"([^_])_([^_])", r"\1.\2", variable.removeprefix("KAFKA_"))
    return key.replace("___", "-").replace("__", "_").lower()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_properties(data: Path, ports: dict[str, int]) -> str:
    environment = stack((BASE,))["services"]["broker"]["environment"]
    props = {
        image_property(name): str(value)
        for name, value in environment.items()
        if name.startswith("KAFKA_") and name not in NOT_PROPERTIES
    }
    # The Compose network's names and ports -> loopback ports of this test; the image's data folder -> a temp one.
    props["listeners"] = ",".join(f"{name}://127.0.0.1:{port}" for name, port in ports.items())
    props["advertised.listeners"] = f"BROKER://127.0.0.1:{ports['BROKER']},HOST://127.0.0.1:{ports['HOST']}"
    props["controller.quorum.voters"] = f"1@127.0.0.1:{ports['CONTROLLER']}"
    props["log.dirs"] = str(data)
    return "".join(f"{key}={value}\n" for key, value in sorted(props.items()))


@pytest.fixture(scope="module")
def broker(local_mode, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("compose-broker")
    ports = {"BROKER": free_port(), "CONTROLLER": free_port(), "HOST": free_port()}
    config = folder / "server.properties"
    config.write_text(server_properties(folder / "data", ports))
    config.chmod(0o600)
    java = find_java17()
    classpath = resolve.resolve_all(local_mode.paths, java, local_mode.versions).classpath("kafka")
    log4j = f"-Dlog4j2.configurationFile={local_mode.paths.conf / 'kafka-log4j2.properties'}"
    base = [str(java.java), "-Xmx384m", log4j, "-cp", classpath]
    cluster_id = stack((BASE,))["services"]["broker"]["environment"]["CLUSTER_ID"]
    # As the image formats it: the cluster id and the config, no SCRAM user (it cannot add one).
    formatted = subprocess.run(
        [*base, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    log = (folder / "kafka.log").open("w")
    process = subprocess.Popen([*base, "kafka.Kafka", str(config)], stdout=log, stderr=subprocess.STDOUT)
    security = load_security()
    security = Security(True, security.usernames, dict(SECRETS), "PLAIN", True)
    bootstrap = f"127.0.0.1:{ports['BROKER']}"
    admin = AdminClient({"bootstrap.servers": bootstrap, **librdkafka_auth(security, "admin"), "log_level": 0})
    deadline = time.monotonic() + 90
    while True:
        try:
            admin.list_topics(timeout=3)
            break
        except KafkaException:
            assert process.poll() is None, (folder / "kafka.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (folder / "kafka.log").read_text()[-3000:]
    services = stack((BASE,))["services"]

    def container_env(service: str) -> dict[str, str]:
        """What Compose gives this service, with the broker's address here and this machine's PATH."""
        given = {k: str(v) for k, v in services[service]["environment"].items() if k not in HOST_PATHS}
        kept = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "CASSANDRA_", "PIPELINE_"))}
        path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
        return {**kept, **given, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PATH": path}

    yield {
        "bootstrap": bootstrap,
        "host": f"127.0.0.1:{ports['HOST']}",
        "security": security,
        "env": {service: container_env(service) for service in ("kafka-access-init", "topics-init")},
    }
    process.kill()
    process.wait(timeout=30)
    log.close()


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180)


def client(broker: dict, role: str | None, **extra) -> dict:
    login = librdkafka_auth(broker["security"], role) if role else {}
    return {"bootstrap.servers": broker["bootstrap"], **login, "log_level": 0, **extra}


def test_compose_setup_steps_secure_the_broker(broker: dict) -> None:
    access = run([sys.executable, "-m", "kafka.access"], broker["env"]["kafka-access-init"])
    assert access.returncode == 0, access.stderr
    assert "users pipeline-producer, pipeline-job, pipeline-registry (SCRAM-SHA-512)" in access.stdout
    topics_init = ["bash", "docker/init/with-kafka-admin.sh", "bash", "kafka/create_topics.sh"]
    topics = run(topics_init, broker["env"]["topics-init"])
    assert topics.returncode == 0, topics.stderr
    assert f"topic {TOPIC}: partitions=" in topics.stdout
    for secret in SECRETS.values():
        assert secret not in access.stdout + access.stderr + topics.stdout + topics.stderr


def test_each_client_gets_exactly_its_rights(broker: dict) -> None:
    """After the setup steps (the test above): the producer writes, the job reads, nothing else."""
    delivered: list = []
    producer = Producer(client(broker, "producer", **{"enable.idempotence": True, "acks": "all"}))
    producer.produce(TOPIC, b"event", on_delivery=lambda err, msg: delivered.append(err))
    producer.flush(30)
    assert delivered == [None]

    refused: list = []
    other = Producer(client(broker, "producer", **{"message.timeout.ms": 10000}))
    other.produce("_schemas", b"not mine", on_delivery=lambda err, msg: refused.append(err))
    other.flush(15)
    assert refused and refused[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    job = Consumer(
        client(broker, "job", **{"group.id": "spark-kafka-source-compose-test", "auto.offset.reset": "earliest"})
    )
    job.subscribe([TOPIC])
    deadline, got = time.monotonic() + 60, None
    while got is None and time.monotonic() < deadline:
        message = job.poll(1)
        if message is not None and message.error() is None:
            got = message.value()
    job.close()
    assert got == b"event"

    reader = Consumer(
        client(broker, "producer", **{"group.id": "spark-kafka-source-x", "auto.offset.reset": "earliest"})
    )
    reader.subscribe([TOPIC])
    errors = [m.error() for m in (reader.poll(1) for _ in range(20)) if m is not None and m.error() is not None]
    reader.close()
    assert any(
        e.code() in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED) for e in errors
    )


def test_a_client_without_a_login_or_with_a_wrong_one_is_refused(broker: dict) -> None:
    anonymous = AdminClient({"bootstrap.servers": broker["host"], "log_level": 0})
    with pytest.raises(KafkaException):
        anonymous.list_topics(timeout=5)
    wrong: list = []
    admin = AdminClient(
        {
            **client(broker, "job"),
            "bootstrap.servers": broker["host"],
            "sasl.password": "wrong",
            "error_cb": wrong.append,
        }
    )
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
    admin.poll(0.5)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in wrong)


def test_the_producer_containers_healthcheck_reads_end_offsets_as_the_producer(broker: dict) -> None:
    """docker/producer/healthcheck.py logs in as the producer, whose DESCRIBE on the topics is all it needs."""
    check = runpy.run_path(str(PROJECT_ROOT / "docker" / "producer" / "healthcheck.py"), run_name="check")
    assert check["end_offsets_total"](client(broker, "producer")) >= 1  # the event of the test above
    assert check["end_offsets_total"]({**client(broker, None), "bootstrap.servers": broker["host"]}) is None
