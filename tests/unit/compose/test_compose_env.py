"""The pipeline's settings in Compose: every variable resolves, every name config/settings.py reads is set
where it is used, with in-network values, and the cluster override changes replication consistently."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.security import password_variables
from config.settings import load_settings
from tests.unit.compose.compose_model import (
    BASE,
    COMPOSE_FILES,
    STACKS,
    env_file,
    load,
    mounts,
    projects,
    raw,
    references,
    settings_names,
)
from tests.unit.compose.compose_model import SECRETS as SECRET_VALUES

PIPELINE_SERVICES = ("producer", "schemas-init", "spark-driver", "dashboard", "kafka-access-init", "cassandra-init")
# The dashboard's own settings: set in its container only (checked below).
DASHBOARD_ONLY = {"DASHBOARD_HOST", "DASHBOARD_PORT", "DASHBOARD_REFRESH_S", "DASHBOARD_LINKS"}
# Read by settings.py for local mode only: Compose's engines use fixed in-network ports and their own tools.
LOCAL_ONLY = {"KAFKA_CONTROLLER_PORT", "REGISTRY_MANAGEMENT_PORT", "CASSANDRA_STORAGE_PORT", "CASSANDRA_JMX_PORT"}
# Sizes of the engines: Compose hands them to the engine containers (where each is checked below).
ENGINE_SIZING = {
    "KAFKA_HEAP": ("broker", "KAFKA_HEAP_OPTS"),
    "REGISTRY_HEAP": ("schema-registry", "SCHEMA_REGISTRY_HEAP_OPTS"),
    "CASSANDRA_HEAP": ("cassandra", "MAX_HEAP_SIZE"),
    "SPARK_DAEMON_HEAP": ("spark-worker", "SPARK_DAEMON_MEMORY"),
    "SPARK_DAEMON_JAVA_OPTS": ("spark-master", "SPARK_DAEMON_JAVA_OPTS"),
    "SPARK_WORKER_CORES": ("spark-worker", "SPARK_WORKER_CORES"),
    "SPARK_WORKER_MEMORY": ("spark-worker", "SPARK_WORKER_MEMORY"),
    "SPARK_MASTER_WEBUI_PORT": ("spark-master", "SPARK_MASTER_WEBUI_PORT"),
    "SPARK_WORKER_WEBUI_PORT": ("spark-worker", "SPARK_WORKER_WEBUI_PORT"),
}
# How many of a node Compose runs: services and replicas, not a container setting (tests/unit/test_cluster_mode.py
# checks them against .env.cluster).
TOPOLOGY = {"SPARK_WORKER_INSTANCES"}
SECRETS = set(password_variables())
SECRETS_HINT = "run python3 main.py secrets; then export COMPOSE_ENV_FILES=.env,.local/secrets.env"
TOPIC_SCRIPT_VARIABLES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_TOPIC_PARTITIONS",
    "KAFKA_TOPIC_REPLICATION_FACTOR",
    "KAFKA_TOPIC_MIN_INSYNC_REPLICAS",
    "KAFKA_TOPIC_RETENTION_MS",
)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_variable_resolves_from_env_file(path) -> None:
    values = env_file()
    unresolved = {r.name for r in references(path.read_text()) if not r.has_default and r.name not in values}
    assert unresolved <= SECRETS, "only the passwords come from elsewhere (the secrets file)"


def test_the_exemptions_are_still_settings() -> None:
    """Everything else config/settings.py reads goes to the pipeline's containers (next test); a stale name
    in the lists above would exempt nothing and mislead."""
    assert LOCAL_ONLY | set(ENGINE_SIZING) | TOPOLOGY | DASHBOARD_ONLY <= settings_names()


@pytest.mark.parametrize("service", PIPELINE_SERVICES)
def test_pipeline_containers_get_every_setting(service) -> None:
    needed = settings_names() - LOCAL_ONLY - set(ENGINE_SIZING) - TOPOLOGY - DASHBOARD_ONLY
    environment = raw(BASE)["services"][service]["environment"]
    assert sorted(needed - set(environment)) == []


def test_the_dashboard_listens_in_network_and_publishes_on_loopback() -> None:
    dashboard = raw(BASE)["services"]["dashboard"]
    assert set(dashboard["environment"]) >= DASHBOARD_ONLY
    assert dashboard["environment"]["DASHBOARD_HOST"] == "0.0.0.0"
    internal = dashboard["environment"]["DASHBOARD_PORT"]
    assert dashboard["ports"] == [f"127.0.0.1:${{DASHBOARD_PORT}}:{internal}"]
    assert "--probe-services" in dashboard["command"]
    scraped = (Path(BASE).parent / "docker" / "prometheus" / "prometheus.yml").read_text()
    assert f'"dashboard:{internal}"' in scraped


def test_engine_sizes_come_from_the_same_settings() -> None:
    services = raw(BASE)["services"]
    for name, (service, variable) in ENGINE_SIZING.items():
        value = services[service]["environment"][variable]
        if name.endswith("_WEBUI_PORT"):
            # Fixed in-network ports (their healthchecks read them too); the host ports are checked too.
            assert value == env_file()[name], f"{service}.{variable}"
        else:
            assert f"${{{name}}}" in value, f"{service}.{variable} = {value!r} should use {name}"


def test_passwords_come_only_from_the_secrets_file_and_are_required() -> None:
    """Never written into a Compose file or .env, never defaulted: a missing one stops Compose with the hint."""
    for path in COMPOSE_FILES:
        for ref in references(path.read_text()):
            if ref.name in SECRETS:
                assert ref.required and ref.message == SECRETS_HINT, f"{path.name}: ${{{ref.name}}}"
        assert "PASSWORD=" not in path.read_text()
    assert not SECRETS & set(env_file())


def test_each_container_gets_only_its_roles_passwords() -> None:
    """Least privilege: the producer cannot read, the job cannot administer, the engines see their own."""
    services = projects()["single-node"]["services"]

    def passwords(service: str) -> set[str]:
        environment = services[service].get("environment", {})
        text = " ".join(str(v) for v in environment.values())
        return {name for name in SECRETS if name in environment or SECRET_VALUES[name] in text}

    assert passwords("producer") == {"KAFKA_PRODUCER_PASSWORD"}
    assert passwords("spark-driver") == {"KAFKA_JOB_PASSWORD", "CASSANDRA_JOB_PASSWORD"}
    assert passwords("broker") == {"KAFKA_ADMIN_PASSWORD", "KAFKA_CONTROLLER_PASSWORD"}
    assert passwords("cassandra") == {"CASSANDRA_ADMIN_PASSWORD"}
    assert passwords("schemas-init") == {"KAFKA_ADMIN_PASSWORD"}
    assert passwords("cassandra-init") == {f"CASSANDRA_{r}_PASSWORD" for r in ("ADMIN", "JOB", "READER")}
    assert passwords("kafka-access-init") == {f"KAFKA_{r}_PASSWORD" for r in ("ADMIN", "PRODUCER", "JOB", "REGISTRY")}
    assert passwords("schema-registry") == {f"KAFKA_{r}_PASSWORD" for r in ("ADMIN", "PRODUCER", "JOB", "REGISTRY")}
    for engine in ("spark-master", "spark-worker", "pipeline-prometheus"):
        assert passwords(engine) == set(), engine


@pytest.fixture(params=list(STACKS))
def project(request) -> dict:
    return projects()[request.param]


@pytest.mark.parametrize("service", PIPELINE_SERVICES)
def test_settings_inside_containers(project, service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """config/settings.py, given a container's environment, points at the Compose network."""
    for name in settings_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in project["services"][service]["environment"].items():
        monkeypatch.setenv(name, str(value))
    s = load_settings(env_file=tmp_path / "no.env")
    brokers = {address.split(":")[0] for address in s.kafka_bootstrap_servers.split(",")}
    assert brokers <= {"broker", "broker-2", "broker-3"} and "broker" in brokers
    assert s.schema_registry_url == "http://schema-registry:8081" and s.registry_port == 8081
    assert set(s.cassandra_host.split(",")) <= {"cassandra", "cassandra-2", "cassandra-3"}
    assert s.cassandra_port == 9042
    assert s.spark_master_url == "spark://spark-master:7077"
    assert s.spark_checkpoint_dir.is_absolute() and not s.spark_checkpoint_dir.is_relative_to("/tmp")
    assert s.local_dir.is_absolute()
    dc = project["services"]["cassandra"]["environment"]["CASSANDRA_DC"]
    assert s.cassandra_local_dc == dc, "clients must ask for the data center the nodes are in"
    assert s.security.enabled and s.security.admin_mechanism == "PLAIN", "the broker's admin is a PLAIN user"
    assert s.security.registry_auth, "Confluent's registry asks for basic auth"


def test_job_state_lives_on_writable_paths() -> None:
    driver = load(BASE)["services"]["spark-driver"]
    env = driver["environment"]
    volumes = {m.target for m in mounts(driver) if not m.is_bind}
    assert any(Path(env["SPARK_CHECKPOINT_DIR"]).is_relative_to(target) for target in volumes), "checkpoints volume"
    dockerfile = (Path(__file__).resolve().parents[3] / "docker" / "spark" / "Dockerfile").read_text()
    assert f"mkdir -p /checkpoints {env['PIPELINE_LOCAL_DIR']}" in dockerfile
    assert f"chown spark:spark /checkpoints {env['PIPELINE_LOCAL_DIR']}" in dockerfile


def test_cluster_replicates_everything() -> None:
    services = projects()["cluster"]["services"]
    brokers = {name: svc for name, svc in services.items() if svc["image"].startswith("confluentinc/cp-kafka:")}
    nodes = {name: svc for name, svc in brokers.items() if "KAFKA_NODE_ID" in svc["environment"]}
    assert len(nodes) == 3
    envs = [svc["environment"] for svc in nodes.values()]
    assert sorted(e["KAFKA_NODE_ID"] for e in envs) == ["1", "2", "3"]
    assert len({e["CLUSTER_ID"] for e in envs}) == 1
    voters = envs[0]["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert sorted(voters) == sorted(f"{e['KAFKA_NODE_ID']}@{h}:29093" for h, e in zip(nodes, envs, strict=True))
    assert all(e["KAFKA_CONTROLLER_QUORUM_VOTERS"] == envs[0]["KAFKA_CONTROLLER_QUORUM_VOTERS"] for e in envs)
    for name, svc in services.items():
        env = svc.get("environment", {})
        if "KAFKA_TOPIC_REPLICATION_FACTOR" in env:
            assert (env["KAFKA_TOPIC_REPLICATION_FACTOR"], env["KAFKA_TOPIC_MIN_INSYNC_REPLICAS"]) == ("3", "2"), name
            assert len(env["KAFKA_BOOTSTRAP_SERVERS"].split(",")) == 3, name
        if "CASSANDRA_REPLICATION_FACTOR" in env:
            assert env["CASSANDRA_REPLICATION_FACTOR"] == "3", name
        if "CASSANDRA_WRITE_CONSISTENCY" in env:
            assert env["CASSANDRA_WRITE_CONSISTENCY"] == "LOCAL_QUORUM", name
    assert services["spark-worker"]["deploy"]["replicas"] == 2


def test_cluster_cassandra_nodes_form_one_data_center() -> None:
    services = projects()["cluster"]["services"]
    nodes = [
        svc["environment"]
        for svc in services.values()
        if svc["image"].startswith("cassandra:") and "entrypoint" not in svc  # not cassandra-init
    ]
    assert len(nodes) == 3
    assert {n["CASSANDRA_ENDPOINT_SNITCH"] for n in nodes} == {"GossipingPropertyFileSnitch"}
    assert {n["CASSANDRA_DC"] for n in nodes} == {env_file()["CASSANDRA_LOCAL_DC"]}
    assert len({n["CASSANDRA_CLUSTER_NAME"] for n in nodes}) == 1
    assert {n["CASSANDRA_SEEDS"] for n in nodes} == {"cassandra"}


def test_topic_settings_reach_only_the_topics_init(project) -> None:
    """kafka/create_topics.sh reads these; only topics-init (also the manual step, `docker compose run --rm
    topics-init`) gets them. A broker's image writes every KAFKA_* variable it has into its config."""
    services = project["services"]
    script = (Path(__file__).resolve().parents[3] / "kafka" / "create_topics.sh").read_text()
    assert all(f"${{{name}:-" in script for name in TOPIC_SCRIPT_VARIABLES)
    assert set(TOPIC_SCRIPT_VARIABLES) <= set(services["topics-init"]["environment"])
    for name, service in services.items():
        if name.startswith("broker"):
            leaked = {key for key in service["environment"] if key.startswith("KAFKA_TOPIC_")}
            assert not leaked and "KAFKA_BOOTSTRAP_SERVERS" not in service["environment"], name
