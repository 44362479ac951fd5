"""Every image is pinned, to the Versions block of .env, and the project images build from pinned bases."""

from __future__ import annotations

import re

import pytest

from tests.unit.compose.compose_model import (
    BASE,
    COMPOSE_FILES,
    ROOT,
    STACKS,
    arg_defaults,
    base_images,
    cluster,
    env_file,
    interpolate,
    load,
    raw,
    references,
    stack,
    versions_block,
)

# The pin each pulled image's tag comes from.
PINNED_BY = {
    "confluentinc/cp-kafka": "CONFLUENT_PLATFORM_VERSION",
    "confluentinc/cp-server": "CONFLUENT_PLATFORM_VERSION",
    "confluentinc/cp-schema-registry": "CONFLUENT_PLATFORM_VERSION",
    "confluentinc/cp-enterprise-control-center-next-gen": "CONTROL_CENTER_VERSION",
    "confluentinc/cp-enterprise-prometheus": "CONTROL_CENTER_VERSION",
    "confluentinc/cp-enterprise-alertmanager": "CONTROL_CENTER_VERSION",
    "cassandra": "CASSANDRA_VERSION",
    "ghcr.io/kafbat/kafka-ui": "KAFKA_UI_VERSION",
    "prom/prometheus": "PROMETHEUS_VERSION",
}
DOCKERFILES = [ROOT / "docker" / "producer" / "Dockerfile", ROOT / "docker" / "spark" / "Dockerfile"]


def split_image(image: str) -> tuple[str, str]:
    name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    return name, tag


def raw_services() -> list[tuple[str, dict]]:
    """Every service definition that names an image, in every Compose file."""
    return [(name, svc) for path in COMPOSE_FILES for name, svc in raw(path)["services"].items() if "image" in svc]


def test_every_image_has_an_explicit_tag() -> None:
    for files in STACKS.values():
        for name, svc in stack(files)["services"].items():
            repo, tag = split_image(svc["image"])
            assert tag and tag != "latest", f"{name}: {svc['image']} is not pinned"


def test_pulled_images_take_their_tag_from_the_versions_block() -> None:
    pins = versions_block()
    for name, svc in raw_services():
        if "build" in svc:
            continue
        repo, tag = split_image(svc["image"])
        assert repo in PINNED_BY, f"{name}: no pin is known for {repo}"
        assert [r.name for r in references(tag)] == [PINNED_BY[repo]], f"{name}: tag {tag!r}"
        assert interpolate(tag, pins) == pins[PINNED_BY[repo]]


def test_confluent_platform_carries_the_pinned_kafka() -> None:
    """CP 8.x ships Apache Kafka 4.x of the same minor (8.0 -> 4.0, 8.1 -> 4.1)."""
    pins = versions_block()
    cp_major, cp_minor = map(int, pins["CONFLUENT_PLATFORM_VERSION"].split(".")[:2])
    kafka_major, kafka_minor = map(int, pins["KAFKA_VERSION"].split(".")[:2])
    assert (cp_major - 4, cp_minor) == (kafka_major, kafka_minor)


def test_control_center_runs_with_prometheus_and_alertmanager_of_its_tag() -> None:
    services = stack(STACKS["control-center"])["services"]
    tags = {split_image(services[name]["image"])[1] for name in ("control-center", "prometheus", "alertmanager")}
    tag = tags.pop()
    assert not tags and re.fullmatch(r"2\.\d+\.\d+", tag), "Control Center 2.x, one tag for all three"
    # 2.5 left standard support in October 2026; 2.6 is supported to January 2027 (Confluent's table).
    assert tuple(int(n) for n in tag.split(".")[:2]) >= (2, 6)


def test_control_center_gets_the_broker_metrics_it_charts() -> None:
    """Control Center 2.x charts what brokers push to its Prometheus over OTLP: Confluent Server's
    telemetry reporter does; the community cp-kafka of the default stack has no such reporter."""
    services = stack(STACKS["control-center"])["services"]
    broker = services["broker"]
    repo, tag = split_image(broker["image"])
    assert repo == "confluentinc/cp-server" and tag == env_file()["CONFLUENT_PLATFORM_VERSION"]
    env = broker["environment"]
    assert env["KAFKA_METRIC_REPORTERS"] == "io.confluent.telemetry.reporter.TelemetryReporter"
    assert env["KAFKA_CONFLUENT_TELEMETRY_EXPORTER_C3PLUSPLUS_CLIENT_BASE_URL"] == "http://prometheus:9090/api/v1/otlp"
    assert env["KAFKA_CONFLUENT_TELEMETRY_EXPORTER_C3PLUSPLUS_ENABLED"] == "true"
    assert services["control-center"]["environment"]["CONTROL_CENTER_PROMETHEUS_URL"] == "http://prometheus:9090"
    assert split_image(load(BASE)["services"]["broker"]["image"])[0] == "confluentinc/cp-kafka"


def test_project_images_are_built_locally_never_pulled() -> None:
    for name, svc in cluster()["services"].items():
        if "build" in svc:
            assert svc["image"].startswith("log-pipeline/") and svc["pull_policy"] == "build", name


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_build_args_are_the_pins_and_match_the_dockerfile_defaults(dockerfile) -> None:
    """`docker build` without Compose gets the same versions as `docker compose build`."""
    builds = [svc["build"] for svc in raw(BASE)["services"].values() if "build" in svc]
    args = next(b["args"] for b in builds if b["dockerfile"] == dockerfile.relative_to(ROOT).as_posix())
    defaults = arg_defaults(dockerfile)
    pins = versions_block()
    for name, value in args.items():
        assert value == f"${{{name}}}" and name in pins, f"build arg {name} must be the pin of the same name"
        assert defaults.get(name) == pins[name], f"{dockerfile.name}: ARG {name} default differs from .env"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_bases_are_pinned(dockerfile) -> None:
    images = base_images(dockerfile)
    assert images
    for image in images:
        repo, tag = split_image(image)
        assert tag and tag != "latest" and "$" not in tag, f"{dockerfile}: FROM {image}"
        assert re.search(r"\d", tag), f"{dockerfile}: {image} is not pinned to a version"


def test_spark_image_runs_the_projects_python_and_the_pinned_spark() -> None:
    """One Python for the job everywhere: the Spark image starts from the producer's Python 3.11 base and
    installs the pinned pyspark, as local mode runs Spark from pip."""
    pins = env_file()
    args = {k: interpolate(v, pins) for k, v in raw(BASE)["services"]["spark-master"]["build"]["args"].items()}
    dockerfile = ROOT / "docker" / "spark" / "Dockerfile"
    assert base_images(dockerfile, args) == [
        f"maven:{pins['MAVEN_IMAGE_VERSION']}",
        f"python:{pins['PYTHON_IMAGE_VERSION']}",
    ]
    producer = base_images(ROOT / "docker" / "producer" / "Dockerfile", args)
    assert producer[-1] == f"python:{pins['PYTHON_IMAGE_VERSION']}"
    assert args["SPARK_VERSION"] == pins["SPARK_VERSION"]
    assert "COPY docker/spark/requirements.lock" in dockerfile.read_text()
    lock = (ROOT / "docker" / "spark" / "requirements.lock").read_text()
    assert f"\npyspark=={pins['SPARK_VERSION']} " in lock


def test_producer_image_base_is_python_3_11_slim() -> None:
    image = base_images(ROOT / "docker" / "producer" / "Dockerfile")[-1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", image)
