"""The Compose files against the Compose Specification's JSON schema, and the house style of the files."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
import yaml

from tests.unit.compose.compose_model import (
    BASE,
    COMPOSE_FILES,
    active_services,
    load,
    one_shot_services,
    projects,
    raw,
)
from tests.unit.compose.compose_model import cluster as cluster_project

FILES = [pytest.param(path, id=path.name) for path in COMPOSE_FILES]


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    """The compose-spec schema vendored by check-jsonschema (its `vendor.compose-spec` builtin)."""
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def errors(validator: jsonschema.protocols.Validator, document: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize("path", FILES)
def test_file_validates_as_written_and_interpolated(validator, path) -> None:
    assert errors(validator, raw(path)) == []
    assert errors(validator, load(path)) == []


def test_cluster_merge_validates(validator) -> None:
    assert errors(validator, cluster_project()) == []


def test_the_schema_catches_a_broken_service(validator) -> None:
    broken = load(BASE)
    broken["services"]["broker"]["depends_on"] = {"cassandra": {"condition": "service_ready"}}
    broken["services"]["producer"]["healthcheck"]["intervall"] = "5s"
    found = errors(validator, broken)
    assert any("depends_on" in e for e in found) and any("intervall" in e for e in found)


@pytest.mark.parametrize("path", FILES)
def test_no_obsolete_version_key(path) -> None:
    assert "version" not in raw(path)


def _scalar_styles(node: yaml.Node, key: str) -> list[tuple[str, str | None]]:
    """(value, quote style) of every scalar in a `key:` sequence anywhere under node."""
    found = []
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key and isinstance(v, yaml.SequenceNode):
                found += [(item.value, item.style) for item in v.value if isinstance(item, yaml.ScalarNode)]
            found += _scalar_styles(v, key)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found += _scalar_styles(item, key)
    return found


@pytest.mark.parametrize("path", FILES)
def test_ports_are_quoted(path) -> None:
    """Unquoted `9092:9092`-like values are YAML 1.1 base-60 integers to some parsers."""
    ports = _scalar_styles(yaml.compose(path.read_text()), "ports")
    assert ports, "no ports found"
    assert [value for value, style in ports if style != '"'] == []


def test_hostnames_are_the_service_names() -> None:
    project = cluster_project()
    services = project["services"]
    scalable = {"spark-worker"}
    long_running = set(services) - one_shot_services(project) - scalable
    assert {name: services[name].get("hostname") for name in long_running} == {name: name for name in long_running}
    assert all("hostname" not in services[name] and "container_name" not in services[name] for name in scalable)


def test_seed_readme_container_names() -> None:
    """README's steps `docker exec -it kafka|cassandra|spark-driver ...` name these containers."""
    services = load(BASE)["services"]
    assert services["broker"]["container_name"] == "kafka"
    assert services["cassandra"]["container_name"] == "cassandra"
    assert services["spark-driver"]["container_name"] == "spark-driver"


def test_container_names_are_unique() -> None:
    names = [svc["container_name"] for svc in cluster_project()["services"].values() if "container_name" in svc]
    assert len(names) == len(set(names))


def test_control_center_is_its_own_file_and_kafka_ui_is_on_by_default() -> None:
    """kafbat's UI works with the community broker local mode also runs; Control Center needs Confluent
    Server's metrics, so it comes with docker-compose.control-center.yml, which swaps the broker for it."""
    base, clustered = active_services(load(BASE)), active_services(cluster_project())
    assert "kafka-ui" in base and "kafka-ui" in clustered
    assert not {"control-center", "prometheus", "alertmanager"} & (set(base) | set(clustered))
    with_cc = active_services(projects()["control-center"])
    assert {"control-center", "prometheus", "alertmanager", "kafka-ui"} <= set(with_cc)
    assert not any(svc.get("profiles") for path in COMPOSE_FILES for svc in raw(path)["services"].values())
