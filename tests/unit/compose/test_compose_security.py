"""Compose's security pieces, run here without Docker: the Cassandra start script edits a cassandra.yaml of the
image's shape into local mode's settings, the registry's start script writes its users, the Kafka CLI wrapper
logs the tools in, the healthchecks log in, and the brokers of every file share one security setup."""

from __future__ import annotations

import base64
import http.server
import stat
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from config.security import Security
from local.configs import cassandra_auth_settings, cassandra_durability_settings
from tests.unit.compose.compose_model import BASE, CLUSTER, ROOT, SECRETS, projects, raw

# The shapes of Cassandra 5.0's own cassandra.yaml that matter here: nested `class_name:` blocks, a periodic
# commit log with its period (refused next to group sync), keys of other sections to keep.
IMAGE_YAML = """\
cluster_name: 'Test Cluster'
num_tokens: 16
authenticator:
  class_name : org.apache.cassandra.auth.AllowAllAuthenticator
# MutualTlsAuthenticator can be configured using the following configuration.
# authenticator:
#   class_name : org.apache.cassandra.auth.MutualTlsAuthenticator
authorizer:
  class_name: AllowAllAuthorizer
role_manager:
  class_name: CassandraRoleManager
  parameters:
roles_validity: 2000ms
commitlog_sync: periodic
# Min unit: ms
commitlog_sync_period: 10000ms
# commitlog_sync_group_window: 1000ms
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:7000"
concurrent_writes: 32
endpoint_snitch: SimpleSnitch
"""


class NoDuplicates(yaml.SafeLoader):
    """Cassandra takes the last of a repeated key; a repeat here means the edit left the image's value."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        assert len(keys) == len(set(keys)), f"repeated keys: {sorted(k for k in keys if keys.count(k) > 1)}"
        return super().construct_mapping(node, deep)


def run(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=cwd, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60
    )


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_compose_cassandra_settings_are_local_modes() -> None:
    shared = cassandra_auth_settings(Security(True, {}, {})) + "\n" + cassandra_durability_settings()
    assert yaml.safe_load((ROOT / "docker" / "cassandra" / "pipeline.yaml").read_text()) == yaml.safe_load(shared)


def test_cassandra_start_sets_them_in_the_images_yaml_once(tmp_path: Path) -> None:
    (tmp_path / "cassandra.yaml").write_text(IMAGE_YAML)
    entrypoint = executable(tmp_path / "entrypoint", '#!/bin/sh\necho "$@" > "$CASSANDRA_CONF/started"\n')
    env = {"CASSANDRA_CONF": str(tmp_path), "CASSANDRA_ENTRYPOINT": str(entrypoint), "HOME": str(tmp_path)}
    env |= {"CASSANDRA_ADMIN_USERNAME": "the_admin", "CASSANDRA_ADMIN_PASSWORD": SECRETS["CASSANDRA_ADMIN_PASSWORD"]}
    for _ in range(2):  # a restarted container runs it on the edited file
        done = run(["bash", "docker/cassandra/start.sh"], env)
        assert done.returncode == 0, done.stderr
        config = yaml.load((tmp_path / "cassandra.yaml").read_text(), Loader=NoDuplicates)
    wanted = yaml.safe_load((ROOT / "docker" / "cassandra" / "pipeline.yaml").read_text())
    assert {key: config[key] for key in wanted} == wanted
    assert "commitlog_sync_period" not in config
    assert config["seed_provider"][0]["parameters"] == [{"seeds": "127.0.0.1:7000"}]
    assert config["cluster_name"] == "Test Cluster" and config["endpoint_snitch"] == "SimpleSnitch"
    assert (tmp_path / "started").read_text().split() == ["cassandra", "-f"]
    credentials = tmp_path / ".cassandra" / "credentials"  # what `docker exec -it cassandra cqlsh` logs in with
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert credentials.read_text() == (
        f"[plain_text_auth]\nusername = the_admin\npassword = {SECRETS['CASSANDRA_ADMIN_PASSWORD']}\n"
    )


def test_broker_security_is_the_same_in_every_file_and_node() -> None:
    assert raw(BASE)["x-kafka-broker-security"] == raw(CLUSTER)["x-kafka-broker-security"]
    for name, project in projects().items():
        brokers = [s for s in project["services"].values() if "KAFKA_NODE_ID" in s.get("environment", {})]
        assert brokers, name
        shared = {k: str(v) for k, v in brokers[0]["environment"].items() if "SASL" in k or "AUTHORIZER" in k}
        assert len(shared) >= 8
        for broker in brokers:
            env = broker["environment"]
            assert {k: str(env[k]) for k in shared} == shared, name
            assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
            protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
            assert set(protocols.values()) == {"SASL_PLAINTEXT"}, "no listener without a login"
            listeners = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
            assert listeners == set(protocols)


def test_registry_start_writes_its_users_owner_only(tmp_path: Path) -> None:
    service = raw(BASE)["services"]["schema-registry"]
    realm = service["environment"]["SCHEMA_REGISTRY_AUTHENTICATION_REALM"]
    roles = set(service["environment"]["SCHEMA_REGISTRY_AUTHENTICATION_ROLES"].split(","))
    copy = tmp_path / "seen"
    run_script = executable(
        tmp_path / "run",
        '#!/bin/bash\nset -e\nfile="${SCHEMA_REGISTRY_OPTS#-Djava.security.auth.login.config=}"; file="${file%% *}"\n'
        f'cp "$file" {copy}.jaas\nusers="$(sed -n \'s/.*file="\\(.*\\)";/\\1/p\' "$file")"\n'
        f'stat -c %a "$users" > {copy}.mode\ncp "$users" {copy}.users\n',
    )
    logins = {f"KAFKA_{r}_USERNAME": f"user-{r.lower()}" for r in ("ADMIN", "PRODUCER", "JOB")}
    passwords = {name: SECRETS[name] for name in (f"KAFKA_{r}_PASSWORD" for r in ("ADMIN", "PRODUCER", "JOB"))}
    done = run(["bash", "docker/schema-registry/start.sh"], {**logins, **passwords, "REGISTRY_RUN": str(run_script)})
    assert done.returncode == 0, done.stderr
    jaas = Path(f"{copy}.jaas").read_text()
    assert jaas.startswith(f"{realm} {{") and "PropertyFileLoginModule required" in jaas
    assert Path(f"{copy}.mode").read_text().strip() == "600"
    users = dict(line.split(": ", 1) for line in Path(f"{copy}.users").read_text().splitlines())
    assert users == {
        "user-admin": f"{passwords['KAFKA_ADMIN_PASSWORD']},admin",
        "user-producer": f"{passwords['KAFKA_PRODUCER_PASSWORD']},producer",
        "user-job": f"{passwords['KAFKA_JOB_PASSWORD']},job",
    }
    assert {value.rsplit(",", 1)[1] for value in users.values()} == roles
    missing = run(["bash", "docker/schema-registry/start.sh"], {**logins, "REGISTRY_RUN": str(run_script)})
    assert missing.returncode == 1 and "KAFKA_ADMIN_PASSWORD must be set" in missing.stderr.replace(
        "KAFKA_ADMIN_USERNAME and ", ""
    )


def test_kafka_tools_log_in_as_the_admin_through_a_private_config(tmp_path: Path) -> None:
    bin_dir, log = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    recorder = (
        '#!/bin/bash\necho "$(basename "$0") $*" >> "$LOG"\n'
        'while [[ $# -gt 0 ]]; do if [[ "$1" == --command-config ]]; then\n'
        '  stat -c "mode %a" "$2" >> "$LOG"; cat "$2" >> "$LOG"; echo "$2" > "$LOG.path"; fi; shift; done\n'
        'echo "Created topic"\n'
    )
    for tool in ("kafka-topics", "kafka-configs"):
        executable(bin_dir / tool, recorder)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "LOG": str(log),
        "KAFKA_ADMIN_USERNAME": "the-admin",
        "KAFKA_ADMIN_PASSWORD": SECRETS["KAFKA_ADMIN_PASSWORD"],
        "KAFKA_ADMIN_SASL_MECHANISM": "PLAIN",
    }
    done = run(["bash", "docker/init/with-kafka-admin.sh", "bash", "kafka/create_topics.sh"], env)
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    calls = [line for line in text.splitlines() if line.startswith("kafka-topics")]
    assert len(calls) == 3 and all("--command-config" in call for call in calls)
    assert text.count("mode 600") == 3
    assert "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n" in text
    assert (
        'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="the-admin" '
        f'password="{SECRETS["KAFKA_ADMIN_PASSWORD"]}";'
    ) in text
    assert not Path(Path(f"{log}.path").read_text().strip()).exists(), "the config outlives the command"
    assert SECRETS["KAFKA_ADMIN_PASSWORD"] not in done.stdout + done.stderr
    unset = run(["bash", "docker/init/with-kafka-admin.sh", "true"], {"PATH": env["PATH"]})
    assert unset.returncode == 1 and "KAFKA_ADMIN_PASSWORD must be set" in unset.stderr


def test_cassandra_healthcheck_logs_in_as_the_admin_then_the_default_superuser(tmp_path: Path) -> None:
    accepted = tmp_path / "accepted"
    executable(
        tmp_path / "cqlsh",
        '#!/bin/bash\nwhile [[ $# -gt 0 ]]; do if [[ "$1" == --credentials ]]; then creds="$2"; fi; shift; done\n'
        f'user="$(sed -n "s/^username = //p" "$creds")"; grep -qx "$user" {accepted}\n',
    )
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "CASSANDRA_ADMIN_USERNAME": "admin", "CASSANDRA_ADMIN_PASSWORD": "x"}
    for users, healthy in ((["admin"], True), (["cassandra"], True), ([], False)):
        accepted.write_text("".join(f"{u}\n" for u in users))
        done = run(["bash", "docker/healthcheck/cassandra.sh"], env)
        assert (done.returncode == 0) is healthy, (users, done.stderr)


@pytest.fixture
def registry_stand_in():
    """An HTTP server on 127.0.0.1 that answers 200 to the admin's basic-auth login and 401 otherwise."""
    wanted = "Basic " + base64.b64encode(b"the-admin:" + SECRETS["KAFKA_ADMIN_PASSWORD"].encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(200 if self.headers.get("Authorization") == wanted else 401)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_http_healthcheck_logs_in_where_the_container_has_the_admins_login(registry_stand_in: int) -> None:
    command = ["bash", "docker/healthcheck/http.sh", "127.0.0.1", str(registry_stand_in), "/subjects"]
    login = {"KAFKA_ADMIN_USERNAME": "the-admin", "KAFKA_ADMIN_PASSWORD": SECRETS["KAFKA_ADMIN_PASSWORD"]}
    assert run(command, login).returncode == 0
    refused = run(command, {})
    assert refused.returncode == 1 and "401" in refused.stderr
    default_name = run(command, {"KAFKA_ADMIN_PASSWORD": SECRETS["KAFKA_ADMIN_PASSWORD"]})  # username unset
    assert default_name.returncode == 1 and "401" in default_name.stderr, default_name.stderr
