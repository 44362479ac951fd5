"""Settings parsing and the single versions file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import settings as settings_module
from config.security import password_variables
from config.settings import SettingsError, host_port, load_settings
from config.versions import load_versions

ROOT = Path(__file__).resolve().parents[2]


def test_host_port_takes_the_first_address() -> None:
    assert host_port("broker:29092,other:1", 9092) == ("broker", 29092)
    assert host_port("localhost", 9092) == ("localhost", 9092)


def test_defaults_bind_local_mode_to_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "CASSANDRA_HOST", "SPARK_MASTER_URL"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings(env_file=tmp_path / "absent.env")
    assert s.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert s.schema_registry_url == "http://127.0.0.1:8081/apis/ccompat/v7"
    assert (s.kafka_port, s.registry_port, s.cassandra_port, s.spark_master_port) == (9092, 8081, 9042, 7077)
    assert s.spark_master_webui_port == 8080 and s.spark_worker_webui_port != s.registry_port


def test_environment_wins_over_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CASSANDRA_PORT=9999\n")
    monkeypatch.setenv("CASSANDRA_PORT", "9142")
    assert load_settings(env_file=env_file).cassandra_port == 9142


def test_malformed_integer_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASSANDRA_PORT", "nine")
    with pytest.raises(SettingsError, match="CASSANDRA_PORT"):
        load_settings()


def test_project_env_file_sets_the_documented_defaults() -> None:
    values = dict(
        line.split("=", 1) for line in (ROOT / ".env").read_text().splitlines() if line and not line.startswith("#")
    )
    assert values["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9092"
    assert values["SPARK_MASTER_WEBUI_PORT"] == "8080"
    assert not set(password_variables()) & set(values), "passwords come from .local/secrets.env or the environment"


def test_requirements_pin_pyspark_to_the_versions_file() -> None:
    versions = load_versions()
    pinned = re.search(r"^pyspark==(\S+)", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == versions.spark


def test_versions_file_pins_every_component() -> None:
    versions = load_versions()
    assert versions.kafka.startswith("4.")
    assert versions.cassandra.startswith("5.0.")
    assert versions.spark.startswith("3.5.") and versions.spark_scala == "2.12"
    assert versions.spark_cassandra_connector.startswith("3.5.")
    for value in versions.maven_properties().values():
        assert re.fullmatch(r"[\w.\-]+", value)


def test_settings_module_has_no_hard_coded_secrets() -> None:
    text = Path(settings_module.__file__).read_text()
    assert 'PASSWORD", "' not in text


def test_registry_url_follows_the_target_deployment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Host tools reach local mode's Apicurio under /apis/ccompat/v7 and Compose's Confluent registry at the
    root; `main.py --compose` picks the second; an explicit SCHEMA_REGISTRY_URL (Compose's containers) wins."""
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    monkeypatch.setenv("PIPELINE_TARGET", "local")
    assert load_settings().schema_registry_url == "http://127.0.0.1:8081/apis/ccompat/v7"
    monkeypatch.setenv("PIPELINE_TARGET", "compose")
    assert load_settings().schema_registry_url == "http://127.0.0.1:8081"
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://schema-registry:8081/")
    assert load_settings().schema_registry_url == "http://schema-registry:8081"
    monkeypatch.delenv("SCHEMA_REGISTRY_URL")
    monkeypatch.setenv("PIPELINE_TARGET", "staging")
    with pytest.raises(SettingsError, match="PIPELINE_TARGET"):
        load_settings()


def test_compose_flag_applies_to_the_host_tools_only(capsys: pytest.CaptureFixture[str]) -> None:
    import main

    args = main.parse_args(["--compose", "produce", "--rate", "10"])
    assert args.compose and args.produce_args == ["--rate", "10"]
    with pytest.raises(SystemExit):
        main.parse_args(["--compose", "up"])
    assert "--compose applies to produce, doctor, reconcile, dead-letters only" in capsys.readouterr().err
    assert main.parse_args(["--compose", "reconcile", "--since", "1h"]).compose


def test_expected_failures_need_only_the_packages_an_image_carries(monkeypatch) -> None:
    import sys

    import main
    from local.errors import LocalModeError

    everything = main.expected_failures()
    assert len(everything) == len(main.EXPECTED_FAILURES) and LocalModeError in everything
    for module in ("ops.errors", "ops.wire", "database.cassandra_connection"):  # not in the producer image
        monkeypatch.setitem(sys.modules, module, None)
    assert main.expected_failures() == tuple(
        f
        for f in everything
        if f.__module__
        in ("local.errors", "kafka.schema_registry", "kafka.access", "config.security", "config.settings")
    )


def test_a_namespace_names_its_topics_keyspace_job_and_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_TOPIC_PREFIX", "bench_")
    monkeypatch.setenv("CASSANDRA_KEYSPACE", "bench_user_logs")
    settings = load_settings()
    assert (settings.topic_prefix, settings.cassandra_keyspace) == ("bench_", "bench_user_logs")
    assert settings.job_name == "bench_log-pipeline"
    assert settings.job_status_file.name == "bench_stream-status.json"


@pytest.mark.parametrize(
    ("name", "value"),
    [("CASSANDRA_KEYSPACE", "user-logs"), ("CASSANDRA_KEYSPACE", "1logs"), ("PIPELINE_TOPIC_PREFIX", "a b")],
)
def test_a_malformed_keyspace_or_topic_prefix_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTH_ALERT_SLIDE_S", "70"),  # does not divide 300
        ("AUTH_ALERT_SLIDE_S", "600"),  # longer than the window
        ("AUTH_ALERT_USER_THRESHOLD", "0"),
        ("AUTH_ALERT_IP_THRESHOLD", "many"),
        ("AUTH_ALERT_WATERMARK_S", "-1"),
        ("AUTH_ALERT_STARTING_OFFSETS", "now"),
    ],
)
def test_a_misconfigured_alert_rule_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()
