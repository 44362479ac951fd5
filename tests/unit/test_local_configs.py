"""The pure parts of local mode: generated configs, supervisord's config, jar filtering."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from config.settings import load_settings
from config.versions import load_versions
from local import configs, resolve, services
from local.errors import LocalModeError
from local.java import JavaRuntime
from local.paths import LocalPaths
from local.services import Service
from local.supervisor import render_config
from local.topology import topology as nodes


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Default settings, whatever the developer's environment says."""
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "CASSANDRA_PORT", "KAFKA_CONTROLLER_PORT"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(env_file=tmp_path / "none.env")


def test_kafka_properties_are_kraft_combined_on_loopback(settings, tmp_path: Path) -> None:
    node = nodes(settings).kafka[0]
    text = configs.kafka_server_properties(settings, node, nodes(settings), tmp_path)
    props = dict(line.split("=", 1) for line in text.splitlines() if line)
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "BROKER://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "BROKER://127.0.0.1:9092"
    assert props["log.dirs"] == str(tmp_path)
    assert props["offsets.topic.replication.factor"] == "1"
    assert "zookeeper.connect" not in props


def test_cassandra_yaml_binds_loopback_and_keeps_data_in_the_given_folder(settings, tmp_path: Path) -> None:
    text = configs.cassandra_yaml(settings, nodes(settings).cassandra[0], nodes(settings), tmp_path)
    assert "listen_address: 127.0.0.1" in text
    assert "rpc_address: 127.0.0.1" in text
    assert "native_transport_port: 9042" in text
    assert f"commitlog_directory: {tmp_path / 'commitlog'}" in text
    assert 'seeds: "127.0.0.1:7000"' in text
    assert "endpoint_snitch: SimpleSnitch" in text and "num_tokens: 16" in text


def test_cassandra_java17_flags_cover_the_modules_it_opens() -> None:
    flags = set(configs.CASSANDRA_JAVA17_FLAGS)
    assert "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED" in flags
    assert "--add-opens=java.base/java.lang=ALL-UNNAMED" in flags
    assert "-Djdk.attach.allowAttachSelf=true" in flags


def test_supervisor_config_stops_whole_process_groups(tmp_path: Path) -> None:
    paths = LocalPaths(tmp_path)
    service = Service(
        name="kafka",
        address="127.0.0.1:9092",
        command=["java", "-Dx=100%", "kafka.Kafka", "with space"],
        ports=(("127.0.0.1", 9092),),
        probe=lambda s: None,
        ready_timeout_s=1,
        env={"A": "1"},
        stop_wait_s=42,
    )
    parser = configparser.RawConfigParser()
    parser.read_string(render_config(paths, [service]))
    program = parser["program:kafka"]
    assert program["command"] == "java -Dx=100%% kafka.Kafka 'with space'"
    assert program["stopasgroup"] == program["killasgroup"] == "true"
    assert program["stopwaitsecs"] == "42"
    assert program["autorestart"] == "false"
    assert program["environment"] == 'A="1"'
    assert parser["unix_http_server"]["file"] == str(paths.run / "supervisor.sock")


def test_spark_jvms_get_the_jvm_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The collectors and malloc arenas of .env reach the daemons, the driver and the executors."""
    monkeypatch.setenv("SPARK_DRIVER_JAVA_OPTIONS", "-XX:+UseSerialGC -Xms99m")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "3")
    settings = load_settings(env_file=tmp_path / "none.env")
    java, paths = JavaRuntime(home=tmp_path / "jdk", major=17), LocalPaths(tmp_path)
    master = services.spark_master(settings, paths, java)
    worker = services.spark_worker(settings, paths, java, nodes(settings).spark_workers[0])
    job = services.stream_job(settings, paths, java, nodes(settings))

    command = job.command
    assert command[command.index("--driver-java-options") + 1] == "-XX:+UseSerialGC -Xms99m"
    assert f"spark.executor.extraJavaOptions={settings.spark_executor_java_options}" in command
    assert (
        master.env["SPARK_DAEMON_JAVA_OPTS"] == worker.env["SPARK_DAEMON_JAVA_OPTS"] == settings.spark_daemon_java_opts
    )
    assert all(s.env["MALLOC_ARENA_MAX"] == "3" for s in (master, worker, job))


@pytest.mark.parametrize(
    ("jar", "artifact"),
    [
        ("kafka-clients-3.4.1.jar", "kafka-clients"),
        ("spark-sql-kafka-0-10_2.12-3.5.7.jar", "spark-sql-kafka-0-10_2.12"),
        ("java-driver-shaded-guava-25.1-jre-graal-sub-1.jar", "java-driver-shaded-guava"),
        ("scala-library-2.12.19.jar", "scala-library"),
    ],
)
def test_artifact_id_strips_the_version(jar: str, artifact: str) -> None:
    assert resolve._artifact_id(Path(jar)) == artifact


def test_spark_connector_jars_drop_what_pyspark_ships(tmp_path: Path) -> None:
    spark_home = tmp_path / "spark"
    (spark_home / "jars").mkdir(parents=True)
    (spark_home / "jars" / "scala-library-2.12.18.jar").touch()
    connectors = [Path("/m2/scala-library-2.12.19.jar"), Path("/m2/kafka-clients-3.4.1.jar")]
    assert resolve.spark_connector_jars(connectors, spark_home) == [Path("/m2/kafka-clients-3.4.1.jar")]


def test_an_up_that_never_resolved_says_what_to_do(tmp_path: Path) -> None:
    paths = LocalPaths(tmp_path)
    paths.make()
    with pytest.raises(LocalModeError, match="run `python main.py up`"):
        resolve.load(paths, load_versions())


def test_services_use_the_jars_resolved_once(tmp_path: Path) -> None:
    settings = load_settings(env_file=tmp_path / "none.env")
    java, paths = JavaRuntime(home=tmp_path / "jdk", major=17), LocalPaths(tmp_path)
    jars = {c: (Path(f"/m2/{c}-a-1.0.jar"), Path(f"/m2/{c}-b-2.0.jar")) for c in resolve.COMPONENTS}
    resolved = resolve.Resolved(jars, Path("/registry/runner.jar"))
    built = {s.name: s for s in services.all_services(settings, paths, java, resolved)}
    assert "/m2/kafka-a-1.0.jar:/m2/kafka-b-2.0.jar" in built["kafka"].jvm_args[1]
    assert "/m2/cassandra-a-1.0.jar:/m2/cassandra-b-2.0.jar" in built["cassandra"].jvm_args[1]
    assert "/registry/runner.jar" in built["registry"].jvm_args[1]


def test_kafka_cluster_ids_never_look_like_an_option() -> None:
    from local.platform import kafka_cluster_id

    ids = [kafka_cluster_id() for _ in range(5000)]  # about 78 would start with '-' if not guarded
    assert not any(i.startswith("-") for i in ids)
    assert all(len(i) == 22 for i in ids) and len(set(ids)) == len(ids)
