"""The pure parts of security: credentials never shown, client settings per user, engine configs, secrets file."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from config.security import (
    CredentialMissing,
    Security,
    java_kafka_auth,
    librdkafka_auth,
    load_security,
    password_variables,
    registry_auth,
    registry_http_auth,
)
from local import configs
from local.kafka_tools import cqlsh_launcher, launcher
from local.paths import LocalPaths
from local.secrets import ensure_secrets, read_secrets, rotate

SECRET = "s3cret-value-for-tests-only"


def security(enabled: bool = True) -> Security:
    passwords = {name: f"{SECRET}-{name}" for name in password_variables()}
    return Security(enabled=enabled, usernames=load_security().usernames, passwords=passwords)


def test_a_credential_never_shows_its_password() -> None:
    credential = security().kafka("producer")
    assert credential.username == "pipeline-producer"
    assert SECRET not in repr(credential) and SECRET not in str(credential)
    assert SECRET not in repr(security())


def test_a_missing_password_names_its_variable() -> None:
    empty = Security(enabled=True, usernames=load_security().usernames, passwords={})
    with pytest.raises(CredentialMissing, match="CASSANDRA_JOB_PASSWORD is not set"):
        empty.cassandra("job")


def test_clients_log_in_with_scram_only_when_security_is_on() -> None:
    on = librdkafka_auth(security(), "job")
    assert on["security.protocol"] == "SASL_PLAINTEXT" and on["sasl.mechanism"] == "SCRAM-SHA-512"
    assert on["sasl.username"] == "pipeline-job"
    assert 'username="pipeline-job"' in java_kafka_auth(security(), "job")["sasl.jaas.config"]
    assert librdkafka_auth(security(enabled=False), "job") == {} == java_kafka_auth(security(False), "job")


def test_compose_targets_log_the_admin_in_with_plain_and_the_registry_with_basic_auth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Compose's broker knows its admin as a static PLAIN user; its registry asks for the Kafka users' logins."""
    for name in ("KAFKA_ADMIN_SASL_MECHANISM", "SCHEMA_REGISTRY_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIPELINE_TARGET", "compose")
    loaded = load_security()
    compose = Security(True, loaded.usernames, security().passwords, loaded.admin_mechanism, loaded.registry_auth)
    assert librdkafka_auth(compose, "admin")["sasl.mechanism"] == "PLAIN"
    assert java_kafka_auth(compose, "admin")["sasl.jaas.config"].startswith(
        "org.apache.kafka.common.security.plain.PlainLoginModule required"
    )
    assert librdkafka_auth(compose, "producer")["sasl.mechanism"] == "SCRAM-SHA-512"
    auth = registry_auth(compose, "job")
    assert auth == {"basic.auth.user.info": f"pipeline-job:{SECRET}-KAFKA_JOB_PASSWORD"}
    SchemaRegistryClient({"url": "http://127.0.0.1:1", **auth})  # the client accepts these settings
    assert registry_http_auth(compose, "admin") == ("pipeline-admin", f"{SECRET}-KAFKA_ADMIN_PASSWORD")
    monkeypatch.setenv("PIPELINE_TARGET", "local")
    local = load_security()
    assert (local.admin_mechanism, local.registry_auth) == ("SCRAM-SHA-512", False)
    assert registry_auth(security(), "job") == {} and registry_http_auth(security(), "job") is None
    monkeypatch.setenv("SCHEMA_REGISTRY_AUTH", "kerberos")
    with pytest.raises(ValueError, match="SCHEMA_REGISTRY_AUTH='kerberos': choose one of none, basic"):
        load_security()


def test_brokers_deny_by_default_with_the_admin_and_controller_as_super_users() -> None:
    props = dict(line.split("=", 1) for line in configs.kafka_security_properties(security()))
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:pipeline-admin;User:controller"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    off = configs.kafka_security_properties(security(enabled=False))
    assert off == ["listener.security.protocol.map=CONTROLLER:PLAINTEXT,BROKER:PLAINTEXT"]


def test_cassandra_checks_passwords_and_permissions() -> None:
    assert "authenticator: PasswordAuthenticator" in configs.cassandra_auth_settings(security())
    assert "authorizer: CassandraAuthorizer" in configs.cassandra_auth_settings(security())
    assert "AllowAllAuthenticator" in configs.cassandra_auth_settings(security(enabled=False))


def test_secrets_are_generated_once_privately_and_rotated(tmp_path, monkeypatch) -> None:
    for name in password_variables():
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "secrets.env"
    assert sorted(ensure_secrets(path)) == sorted(password_variables())
    assert path.stat().st_mode & 0o777 == 0o600
    first = read_secrets(path)
    assert len(set(first.values())) == len(first) and all(len(v) >= 24 for v in first.values())
    assert ensure_secrets(path) == [] and read_secrets(path) == first
    previous = rotate(path, ["KAFKA_JOB_PASSWORD"])
    after = read_secrets(path)
    assert previous == {"KAFKA_JOB_PASSWORD": first["KAFKA_JOB_PASSWORD"]}
    assert after["KAFKA_JOB_PASSWORD"] != first["KAFKA_JOB_PASSWORD"]
    assert {k: v for k, v in after.items() if k != "KAFKA_JOB_PASSWORD"} == {
        k: v for k, v in first.items() if k != "KAFKA_JOB_PASSWORD"
    }


def test_tool_launchers_add_the_login_file_unless_given_one(tmp_path) -> None:
    class Java:
        java = "/usr/bin/java"

    class Resolved:
        @staticmethod
        def classpath(_name: str) -> str:
            return "/jars/*"

    paths = LocalPaths(tmp_path)
    text = launcher(Java(), paths, Resolved(), "org.apache.kafka.tools.TopicCommand", "--command-config /c/admin")
    assert 'case " $* " in *" --command-config"*)' in text and text.rstrip().endswith("--command-config /c/admin")
    assert "--command-config" not in launcher(Java(), paths, Resolved(), "X", None)
    assert "CQLSH_ROLE:-reader" in cqlsh_launcher(paths, secured=True)
    assert "--credentials" not in cqlsh_launcher(paths, secured=False)
