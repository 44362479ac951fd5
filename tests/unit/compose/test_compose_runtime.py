"""How the stack starts and runs: healthchecks, start order, state on volumes, memory, ports, and the seed
README's `docker exec` steps."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import pytest

from config.settings import load_settings
from tests.unit.compose.compose_model import (
    BASE,
    ROOT,
    STACKS,
    active_services,
    env_file,
    load,
    memory_bytes,
    mounts,
    one_shot_services,
    ports,
    projects,
)

GiB = 1024**3


@pytest.fixture(params=list(STACKS))
def project(request) -> dict:
    return projects()[request.param]


def long_running(project: dict) -> dict[str, dict]:
    return {n: s for n, s in project["services"].items() if n not in one_shot_services(project)}


# Control Center's Prometheus and Alertmanager: their images' tools are not documented (no probe that might not
# run), and Control Center, the only service waiting for them, waits for them to start and retries.
UNPROBED = {"prometheus", "alertmanager"}


def test_long_running_services_probe_themselves(project) -> None:
    for name, svc in long_running(project).items():
        if name in UNPROBED:
            assert "healthcheck" not in svc, name
            continue
        test = svc.get("healthcheck", {}).get("test")
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), f"{name}: no healthcheck"
        if test[0] == "CMD":
            shell = test[1] in ("sh", "bash")
            assert "|" not in test, f"{name}: a pipe in exec form"
            assert not shell or test[2].startswith("/opt/pipeline/docker/healthcheck/"), f"{name}: inline shell"
        else:
            assert len(test) == 2, f"{name}: CMD-SHELL takes one command string"
        probe = " ".join(test[1:])
        assert any(word in probe for word in ("localhost", name, "cqlsh", "healthcheck")), f"{name}: probes what?"
        for field in ("interval", "timeout", "retries"):
            assert field in svc["healthcheck"], f"{name}: healthcheck.{field}"


def test_one_shot_services_are_setup_steps(project) -> None:
    one_shot = one_shot_services(project)
    assert {"topics-init", "cassandra-init", "schemas-init"} <= one_shot
    for name in one_shot:
        svc = project["services"][name]
        assert "healthcheck" not in svc and svc.get("restart", "no") == "no", name


def test_depends_on_waits_for_the_right_state(project) -> None:
    services = project["services"]
    one_shot = one_shot_services(project)
    for name, svc in services.items():
        for target, dep in (svc.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = dep["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy: no check"
            elif condition == "service_completed_successfully":
                assert target in one_shot
            else:
                assert condition == "service_started", f"{name} -> {target}: {condition}"


def upstream(project: dict, name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for target in project["services"][todo.pop()].get("depends_on") or {}:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_pipeline_starts_after_its_setup_and_engines(project) -> None:
    assert {"topics-init", "schemas-init", "broker"} <= upstream(project, "producer")
    driver = upstream(project, "spark-driver")
    assert {"topics-init", "schemas-init", "cassandra-init", "cassandra", "spark-master", "spark-worker"} <= driver
    deps = project["services"]["spark-driver"]["depends_on"]
    assert all(deps[s]["condition"] == "service_completed_successfully" for s in ("topics-init", "cassandra-init"))


def test_cluster_setup_waits_for_every_node() -> None:
    project = projects()["cluster"]
    assert {"broker", "broker-2", "broker-3"} <= upstream(project, "topics-init")
    assert {"cassandra", "cassandra-2", "cassandra-3"} <= upstream(project, "cassandra-init")
    assert {"broker-2", "broker-3"} <= upstream(project, "schema-registry")


def test_state_lives_on_named_volumes(project) -> None:
    declared = set(project["volumes"])
    expected = {"kafka": "/var/lib/kafka/data", "cassandra": "/var/lib/cassandra", "spark-driver": "/checkpoints"}
    for name, svc in project["services"].items():
        named = {m.target: m.source for m in mounts(svc) if not m.is_bind}
        assert set(named.values()) <= declared, f"{name}: undeclared volume"
        container = svc.get("container_name", name)
        family = container.rstrip("-0123456789")
        if family in expected and "entrypoint" not in svc:
            assert expected[family] in named, f"{name}: {expected[family]} is not on a named volume"


# The cluster's budget grew by the dashboard and its Prometheus (192 MB each).
@pytest.mark.parametrize(("label", "budget_gib"), [("single-node", 11), ("cluster", 14.5), ("control-center", 14)])
def test_memory_limits_fit_a_16gb_laptop(label, budget_gib) -> None:
    """The long-running services' limits, with room left for the OS (setup steps exit before the job runs)."""
    project = projects()[label]
    assert all("mem_limit" in svc for svc in project["services"].values())
    running = {n: s for n, s in active_services(project).items() if n not in one_shot_services(project)}
    total = sum(memory_bytes(s["mem_limit"]) * s.get("deploy", {}).get("replicas", 1) for s in running.values())
    assert total <= budget_gib * GiB, f"{label}: limits add up to {total / GiB:.1f} GiB"


def test_heaps_fit_their_containers(project) -> None:
    services, values = project["services"], env_file()
    heap = {
        "broker": memory_bytes(values["KAFKA_HEAP"]),
        "schema-registry": memory_bytes(values["REGISTRY_HEAP"]),
        "cassandra": memory_bytes(services["cassandra"]["environment"]["MAX_HEAP_SIZE"]),
        "spark-master": memory_bytes(values["SPARK_DAEMON_HEAP"]),
        "spark-driver": memory_bytes(values["SPARK_DRIVER_MEMORY"]),
    }
    worker = services["spark-worker"]["environment"]
    heap["spark-worker"] = memory_bytes(worker["SPARK_WORKER_MEMORY"]) + memory_bytes(values["SPARK_DAEMON_HEAP"])
    assert memory_bytes(worker["SPARK_WORKER_MEMORY"]) >= memory_bytes(values["SPARK_EXECUTOR_MEMORY"])
    for name, size in heap.items():
        # JVMs need room beyond the heap: metaspace, threads, direct buffers.
        assert size + 256 * 1024**2 <= memory_bytes(services[name]["mem_limit"]), name


def test_host_ports_are_local_modes_and_loopback_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "CASSANDRA_PORT", "SPARK_MASTER_URL"):
        monkeypatch.delenv(name, raising=False)
    local = load_settings()
    services = load(BASE)["services"]
    published = {(name, p.container_port): p.host_ports[0] for name, svc in services.items() for p in ports(svc)}
    assert published[("broker", 9092)] == local.kafka_port == 9092
    assert published[("schema-registry", 8081)] == local.registry_port == 8081
    # Host tools pointed at Compose (`main.py --compose`) reach Confluent's registry at its root, as the
    # containers do inside the network.
    compose_url = urlparse(env_file()["SCHEMA_REGISTRY_URL_COMPOSE"])
    inside = urlparse(services["producer"]["environment"]["SCHEMA_REGISTRY_URL"])
    assert (compose_url.hostname, compose_url.port) == ("127.0.0.1", published[("schema-registry", 8081)])
    assert compose_url.path == inside.path == "" and inside.port == 8081
    assert published[("cassandra", 9042)] == local.cassandra_port == 9042
    assert published[("spark-master", 7077)] == local.spark_master_port == 7077
    assert published[("spark-master", 8080)] == local.spark_master_webui_port == 8080
    assert published[("spark-worker", 8082)] == local.spark_worker_webui_port
    assert published[("kafka-ui", 8080)] == 8085
    control_center = projects()["control-center"]["services"]["control-center"]
    assert [(p.host_ip, list(p.host_ports)) for p in ports(control_center)] == [("127.0.0.1", [9021])]
    for project in projects().values():
        taken = [port for svc in project["services"].values() for p in ports(svc) for port in p.host_ports]
        assert len(taken) == len(set(taken)), "two services publish one host port"
        assert {p.host_ip for svc in project["services"].values() for p in ports(svc)} == {"127.0.0.1"}


def test_broker_advertises_the_host_listener_it_publishes(project) -> None:
    for name, svc in project["services"].items():
        env = svc.get("environment", {})
        if "KAFKA_ADVERTISED_LISTENERS" not in env:
            continue
        advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
        host, port = advertised["HOST"].split(":")
        assert host == "localhost" and int(port) in [p for pub in ports(svc) for p in pub.host_ports], name
        assert advertised["BROKER"] == f"{svc['hostname']}:29092", name
        assert f"HOST://0.0.0.0:{port}" in env["KAFKA_LISTENERS"], name


def in_repo(service: dict, container_path: str) -> Path | None:
    """The repository file a container path shows through a read-only bind mount."""
    path = PurePosixPath(service.get("working_dir", "/")) / container_path
    for mount in mounts(service):
        if mount.is_bind and path.is_relative_to(mount.target):
            assert mount.read_only, f"{mount.source} is mounted writable"
            return ROOT / mount.source / path.relative_to(mount.target)
    return None


@pytest.mark.parametrize(
    ("container", "step"),
    [
        ("topics-init", "kafka/create_topics.sh"),
        ("cassandra", "cassandra/cassandra_setup.cql"),
        ("spark-driver", "spark/spark_streaming.py"),
    ],
)
def test_seed_readme_steps_find_their_files(project, container, step) -> None:
    """README: `docker compose run --rm topics-init` (kafka/create_topics.sh), `docker exec -it cassandra cqlsh -f
    cassandra/cassandra_setup.cql`, `docker exec -it spark-driver spark-submit ... spark/spark_streaming.py`."""
    service = next(svc for name, svc in project["services"].items() if container in (name, svc.get("container_name")))
    found = in_repo(service, step)
    assert found is not None and found.is_file(), f"{container}: {step} is not mounted at the working directory"


def test_the_job_sees_the_checkouts_modules() -> None:
    driver = load(BASE)["services"]["spark-driver"]
    for module in ("config/settings.py", "database/schema.py", "kafka/contract.py", "spark/transforms.py"):
        assert in_repo(driver, module) == ROOT / module


def test_a_compose_stop_reaches_the_job_within_its_grace_period(project) -> None:
    """`docker compose stop` sends SIGTERM to the container's init, which passes it to its one child, the
    spark-submit JVM; spark/shutdown.py routes it to the Python driver, which stops the queries after their
    batch (tests/e2e/test_job_stop_signal.py proves that path within STOP_BOUND_S on the real engines)."""
    from tests.e2e.test_job_stop_signal import STOP_BOUND_S

    driver = project["services"]["spark-driver"]
    assert driver["init"] is True
    assert driver["command"][0] == "spark-submit"
    grace = re.fullmatch(r"(\d+)s", driver["stop_grace_period"])
    assert grace and int(grace.group(1)) >= STOP_BOUND_S
