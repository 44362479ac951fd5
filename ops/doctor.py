"""`python3 main.py doctor`: is the pipeline wired right? One line per check, ✓ or ✗ with what to do.

In order: Java (local mode), every listener (Kafka's advertised ones resolved and connected from here, the
registry, Cassandra, the Spark master), the engines' versions against `.env`'s pins, the topics' partitions,
replication and retention, each subject's latest schema against its `.avsc` and its compatibility level,
the tables' columns against the schemas, the streaming job and its connector jars, and a canary: one event
per topic produced for real, waited for in its table (bounded), timed, and deleted (ops/canary.py).

`--compose` runs the same checks against the Compose stack through its published ports. Exit 0 only if
every check passes. Checks never raise: an engine that is down is a ✗ line like any other.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import fastavro
import requests
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from config.settings import Settings
from config.versions import Versions
from database.cassandra_connection import CassandraConnection, CassandraUnavailable
from database.dead_letters import HEADER_COLUMNS
from database.dead_letters import TABLE as DEAD_LETTERS
from database.schema import KEYSPACE, cql_type, table_columns
from kafka.contract import STREAMS
from kafka.kafka_producer import ProducerStartError
from kafka.schema_registry import COMPATIBILITY, IncompatibleSchema, RegistryUnavailable, with_retry
from kafka.topics import wanted_configs
from ops.canary import run_canary

TIMEOUT_S = 5
JOB_NAME = "log-pipeline"
DRIVER_UI_PORTS = range(4040, 4044)  # Spark takes the next free port when 4040 is taken
PASS, FAIL = "✓", "✗"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{PASS if self.ok else FAIL} {self.name}: {self.detail}"
        return text if self.ok or not self.fix else f"{text} -> {self.fix}"


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


# --- Java ------------------------------------------------------------------------------------------------


def check_java() -> Check:
    from local.errors import LocalModeError
    from local.java import INSTALL_JAVA, REQUIRED_JAVA, _major_version, find_java17

    try:
        runtime = find_java17()
    except LocalModeError as exc:
        return failed("java", str(exc), INSTALL_JAVA)
    home = os.environ.get("JAVA_HOME")
    if home:
        major = _major_version(os.path.join(home, "bin", "java"))
        if major != REQUIRED_JAVA:
            found = f"Java {major}" if major else "no Java"
            return failed(
                "java",
                f"JAVA_HOME={home} is {found}: spark-submit and the engines need Java {REQUIRED_JAVA}",
                f"unset JAVA_HOME or point it at a Java {REQUIRED_JAVA} (e.g. {runtime.home})",
            )
    return passed("java", f"Java {runtime.major} at {runtime.home}")


# --- Listeners -------------------------------------------------------------------------------------------


def reachable(host: str, port: int, timeout: float = TIMEOUT_S) -> str | None:
    """None if a TCP connection to host:port opens from here, else why not."""
    try:
        socket.getaddrinfo(host, port)
    except socket.gaierror:
        return f"{host} does not resolve from here"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{host}:{port} refuses or does not answer ({exc.__class__.__name__})"


def check_kafka(settings: Settings) -> Check:
    admin = AdminClient({**settings.kafka_client("admin"), "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=TIMEOUT_S)
    except KafkaException:
        return failed(
            "kafka listeners",
            f"no answer from {settings.kafka_bootstrap_servers} within {TIMEOUT_S} s",
            "start it (`python3 main.py up`) or fix KAFKA_BOOTSTRAP_SERVERS",
        )
    advertised = sorted((b.id, b.host, b.port) for b in metadata.brokers.values())
    for node, host, port in advertised:
        if why := reachable(host, port):
            return failed(
                "kafka listeners",
                f"broker {node} advertises {host}:{port}, but {why}",
                "advertise an address host clients can reach (advertised.listeners / KAFKA_ADVERTISED_LISTENERS)",
            )
    addresses = ", ".join(f"{h}:{p}" for _, h, p in advertised)
    return passed("kafka listeners", f"{len(advertised)} broker(s), advertised {addresses}, all reachable from here")


def check_registry(settings: Settings) -> Check:
    url = settings.schema_registry_url
    try:
        response = requests.get(f"{url}/subjects", auth=settings.registry_http_auth("admin"), timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        return failed(
            "registry", f"no answer from {url} ({exc.__class__.__name__})", "start it, or fix SCHEMA_REGISTRY_URL"
        )
    if response.status_code != 200:
        return failed("registry", f"{url}/subjects answered HTTP {response.status_code}", "check SCHEMA_REGISTRY_URL")
    return passed("registry", f"{url} answers the Confluent API")


def check_cassandra(settings: Settings, cassandra: CassandraConnection | None) -> Check:
    where = f"{settings.cassandra_host}:{settings.cassandra_port}"
    if cassandra is None:
        return failed(
            "cassandra", f"no CQL connection to {where}", "start it (`python3 main.py up`) or fix CASSANDRA_HOST"
        )
    hosts = [h for h in cassandra.cluster.metadata.all_hosts() if h.is_up]
    return passed("cassandra", f"CQL at {where}, {len(hosts)} node(s) up")


def spark_master_json(settings: Settings) -> dict | None:
    try:
        response = requests.get(f"{settings.spark_master_ui_url}/json/", timeout=TIMEOUT_S)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError):
        return None


def check_spark_master(settings: Settings) -> Check:
    state = spark_master_json(settings)
    if state is None:
        return failed(
            "spark master", f"no answer from {settings.spark_master_ui_url}", "start it (`python3 main.py up`)"
        )
    alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
    if state.get("status") != "ALIVE" or not alive:
        return failed(
            "spark master", f"status {state.get('status')}, {len(alive)} alive worker(s)", "start a worker (`up`)"
        )
    return passed("spark master", f"{settings.spark_master_url}, {len(alive)} alive worker(s)")


# --- Versions --------------------------------------------------------------------------------------------


def compared(name: str, running: str | None, pinned: str, fix: str) -> Check:
    if running is None:
        return failed(name, f"could not read the running version (.env pins {pinned})", fix)
    if running != pinned:
        return failed(name, f"runs {running}, .env pins {pinned}", fix)
    return passed(name, f"{running}, as pinned")


def kafka_version_local(platform) -> str | None:
    """The Kafka jar a running broker was started with (its JVM argument file names the classpath)."""
    import psutil

    for service, info in platform.supervisor.all_info().items():
        if not service.startswith("kafka") or info.get("statename") != "RUNNING":
            continue
        try:
            args = psutil.Process(info["pid"]).cmdline()
        except psutil.Error:
            continue
        text = " ".join(args)
        for arg in args:
            if arg.startswith("@") and os.path.exists(arg[1:]):
                text += open(arg[1:]).read()  # noqa: SIM115 - a small file read once
        if match := re.search(r"kafka_[\d.]+-(\d+\.\d+\.\d+)\.jar", text):
            return match.group(1)
    return None


def registry_version(settings: Settings, compose: bool) -> str | None:
    parsed = urlparse(settings.schema_registry_url)
    base = f"{parsed.scheme}://{parsed.netloc}"
    path = "/v1/metadata/version" if compose else "/apis/registry/v3/system/info"
    try:
        auth = settings.registry_http_auth("admin")
        return requests.get(base + path, auth=auth, timeout=TIMEOUT_S).json().get("version")
    except (requests.RequestException, ValueError, AttributeError):
        return None


def check_versions(
    settings: Settings,
    versions: Versions,
    cassandra: CassandraConnection | None,
    compose: bool,
    platform=None,
    registry_up: bool = True,
) -> Iterator[Check]:
    import pyspark

    refetch = "run `python3 main.py down && python3 main.py up` to start the pinned engines"
    if cassandra is not None:
        row = cassandra.session.execute("SELECT release_version FROM system.local").one()
        yield compared("cassandra version", row.release_version, versions.cassandra, refetch)
    if not registry_up:
        yield skipped("registry version", "registry is down")
    elif compose:
        yield compared(
            "registry version (Confluent Platform)", registry_version(settings, True), versions.confluent_platform,
            "pull the pinned images (`docker compose pull`) and recreate the stack",
        )  # fmt: skip
    else:
        yield compared("registry version", registry_version(settings, False), versions.apicurio_registry, refetch)
    if not compose:
        yield compared("kafka version", kafka_version_local(platform), versions.kafka, refetch)
    yield compared(
        "pyspark version", pyspark.__version__, versions.spark, "reinstall requirements (`python3 main.py up` does)"
    )


# --- Topics, schemas, tables -----------------------------------------------------------------------------


def check_topics(settings: Settings) -> Iterator[Check]:
    admin = AdminClient({**settings.kafka_client("admin"), "log_level": 0})
    fix = "run `python3 main.py setup` (or `bash kafka/create_topics.sh`), which creates and re-applies them"
    try:
        metadata = admin.list_topics(timeout=TIMEOUT_S).topics
        configs = {}
        present = [s.topic for s in STREAMS if s.topic in metadata]
        resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in present]
        for resource, future in admin.describe_configs(resources).items() if resources else ():
            configs[resource.name] = future.result(timeout=TIMEOUT_S)
    except KafkaException as exc:
        yield failed("topics", f"Kafka did not answer ({exc})", "see the listener check above")
        return
    for stream in STREAMS:
        name = f"topic {stream.topic}"
        if stream.topic not in metadata:
            yield failed(name, "does not exist", fix)
            continue
        partitions = metadata[stream.topic].partitions.values()
        problems = []
        if len(partitions) != settings.topic_partitions:
            problems.append(f"{len(partitions)} partitions, want {settings.topic_partitions}")
        factors = sorted({len(p.replicas) for p in partitions})
        if factors != [settings.topic_replication_factor]:
            problems.append(f"replication factor {factors}, want {settings.topic_replication_factor}")
        for key, value in wanted_configs(settings).items():
            have = configs[stream.topic][key].value
            if have != value:
                problems.append(f"{key}={have}, want {value}")
        if problems:
            yield failed(name, "; ".join(problems), fix)
        else:
            yield passed(
                name,
                f"{len(partitions)} partitions, RF {settings.topic_replication_factor}, "
                f"retention.ms={settings.topic_retention_ms}",
            )


def canonical(schema_text: str) -> str:
    """Avro's Parsing Canonical Form: what decoding depends on (docs, defaults and whitespace dropped)."""
    return fastavro.schema.to_parsing_canonical_form(fastavro.parse_schema(json.loads(schema_text)))


def check_schemas(settings: Settings) -> Iterator[Check]:
    url = settings.schema_registry_url
    client = SchemaRegistryClient(settings.registry_client("admin"))
    for stream in STREAMS:
        name = f"schema {stream.subject}"
        try:
            latest = with_retry(lambda s=stream: client.get_latest_version(s.subject), f"read {name}", url, TIMEOUT_S)
            level = with_retry(lambda s=stream: client.get_compatibility(s.subject), f"read {name}", url, TIMEOUT_S)
        except SchemaRegistryError as exc:
            yield failed(name, f"not registered ({exc.error_message})", "run `python3 main.py setup`")
            continue
        except RegistryUnavailable:
            yield failed(name, f"registry at {url} does not answer", "see the registry check above")
            continue
        if canonical(latest.schema.schema_str) != canonical(stream.schema_str):
            yield failed(
                name,
                f"latest version {latest.version} (id {latest.schema_id}) is not kafka/schemas/{stream.schema_file}",
                "register the .avsc as a new version (`python3 main.py setup`), or update the .avsc to match",
            )
        elif level != COMPATIBILITY:
            yield failed(
                name,
                f"compatibility {level}, want {COMPATIBILITY}",
                "run `python3 main.py setup`, which sets it (the job reads old records with the latest schema)",
            )
        else:
            yield passed(name, f"version {latest.version} (id {latest.schema_id}) = the .avsc, {COMPATIBILITY}")


def missing_columns(columns: dict[str, str], fields: list[dict]) -> list[str]:
    """`name type` of each contract field the table lacks or holds with another type."""
    return [f"{f['name']} {cql_type(f['type'])}" for f in fields if columns.get(f["name"]) != cql_type(f["type"])]


def check_tables(cassandra: CassandraConnection | None) -> Iterator[Check]:
    if cassandra is None:
        yield failed("tables", "Cassandra is not reachable", "see the cassandra check above")
        return
    fix = "run `python3 main.py setup` (cassandra/cassandra_setup.cql), or ALTER TABLE ... ADD the column"
    for stream in STREAMS:
        columns = table_columns(cassandra.session, stream.table)
        name = f"table {KEYSPACE}.{stream.table}"
        if not columns:
            yield failed(name, "does not exist", fix)
        elif lacking := missing_columns(columns, stream.schema["fields"]):
            yield failed(name, f"lacks or mistypes {', '.join(lacking)}", fix)
        else:
            yield passed(name, f"{len(columns)} columns, every field of {stream.schema_file}")
    columns = table_columns(cassandra.session, DEAD_LETTERS)
    lacking = [c for c in ("reason", "raw_value", *HEADER_COLUMNS) if c not in columns]
    if lacking:
        yield failed(f"table {KEYSPACE}.{DEAD_LETTERS}", f"lacks {', '.join(lacking)}", fix)
    else:
        yield passed(f"table {KEYSPACE}.{DEAD_LETTERS}", "present, with the records' headers")


# --- The job ---------------------------------------------------------------------------------------------


def driver_environment(settings: Settings) -> dict | None:
    """The running job's environment from its driver's REST API (Spark version, Java, classpath)."""
    host = urlparse(settings.spark_master_url).hostname
    for port in DRIVER_UI_PORTS:
        base = f"http://{host}:{port}/api/v1/applications"
        try:
            apps = requests.get(base, timeout=TIMEOUT_S).json()
            app = next((a for a in apps if a.get("name") == JOB_NAME), None)
            if app is not None:
                return requests.get(f"{base}/{app['id']}/environment", timeout=TIMEOUT_S).json()
        except (requests.RequestException, ValueError):
            continue
    return None


def job_jars(environment: dict) -> dict[str, str]:
    """artifact -> version of the connector jars on the job's classpath."""
    jars = {}
    for entry, _source in environment.get("classpathEntries", []):
        if match := re.search(r"/(spark-cassandra-connector|spark-sql-kafka-0-10)_[\d.]+-([\d.]+)\.jar$", entry):
            jars[match.group(1)] = match.group(2)
    return jars


def check_job(settings: Settings, versions: Versions) -> Iterator[Check]:
    state = spark_master_json(settings) or {}
    running = [a for a in state.get("activeapps", []) if a.get("name") == JOB_NAME and a.get("state") == "RUNNING"]
    if not running:
        yield failed(
            "streaming job",
            f"{JOB_NAME} is not running on {settings.spark_master_url}",
            "start it (`python3 main.py up`; in Compose the spark-driver service), see `python3 main.py logs stream`",
        )
        return
    environment = driver_environment(settings)
    if environment is None:
        yield failed("streaming job", "running, but its driver's UI (port 4040) does not answer", "check its log")
        return
    yield passed("streaming job", f"{JOB_NAME} running ({running[0].get('id')})")
    jars = job_jars(environment)
    wanted = {
        "spark-cassandra-connector": versions.spark_cassandra_connector,
        "spark-sql-kafka-0-10": versions.spark,
    }
    fix = "restart the job (`python3 main.py down && python3 main.py up`) so it loads the pinned jars"
    for artifact, pinned in wanted.items():
        yield compared(f"job jar {artifact}", jars.get(artifact), pinned, fix)


# --- Canary ----------------------------------------------------------------------------------------------


def check_canary(settings: Settings, cassandra: CassandraConnection | None, timeout_s: float) -> Iterator[Check]:
    if cassandra is None:
        yield failed("canary", "Cassandra is not reachable", "see the cassandra check above")
        return
    try:
        results = run_canary(settings, cassandra, timeout_s)
    except (ProducerStartError, RegistryUnavailable, IncompatibleSchema) as exc:
        yield failed("canary", f"could not produce ({exc})", "see the checks above")
        return
    for result in results:
        name = f"canary {result.stream.topic}"
        if result.landed_s is None:
            yield failed(
                name,
                f"event {result.event_id} not in {result.stream.table} within {timeout_s:.0f} s",
                "see `python3 main.py status` and `python3 main.py logs stream`",
            )
        else:
            yield passed(
                name, f"in {result.stream.table} {result.landed_s:.1f} s after Kafka acknowledged it (deleted)"
            )


def skipped(name: str, because: str) -> Check:
    return failed(name, f"not checked: {because}", f"fix the {because.split()[0]} check above first")


def run_checks(
    settings: Settings, versions: Versions, compose: bool, canary: bool, canary_timeout_s: float, platform=None
) -> Iterator[Check]:
    if not compose:
        yield check_java()
    kafka, registry = check_kafka(settings), check_registry(settings)
    yield kafka
    yield registry
    try:
        cassandra = CassandraConnection.open(settings, retry_s=TIMEOUT_S)
    except CassandraUnavailable:
        cassandra = None
    try:
        yield check_cassandra(settings, cassandra)
        master = check_spark_master(settings)
        yield master
        yield from check_versions(settings, versions, cassandra, compose, platform, registry.ok)
        yield from check_topics(settings) if kafka.ok else [skipped("topics", "kafka listeners are down")]
        yield from check_schemas(settings) if registry.ok else [skipped("schemas", "registry is down")]
        yield from check_tables(cassandra)
        job = list(check_job(settings, versions)) if master.ok else [skipped("streaming job", "spark master is down")]
        yield from job
        if canary:
            yield from check_canary(settings, cassandra, canary_timeout_s)
    finally:
        if cassandra is not None:
            cassandra.close()


def main(
    settings: Settings,
    versions: Versions,
    compose: bool,
    canary: bool,
    canary_timeout_s: float,
    platform=None,
    say: Callable[[str], None] = print,
) -> int:
    failures = 0
    for check in run_checks(settings, versions, compose, canary, canary_timeout_s, platform):
        say(check.line())
        failures += not check.ok
    say(f"doctor: {'all checks passed' if not failures else f'{failures} check(s) failed'}")
    return 1 if failures else 0
