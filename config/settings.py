"""One frozen settings object, read once from `.env` and the environment.

The variable names are the ones docker-compose.yml sets, so the same code runs in local mode and in
containers; only the values differ (`127.0.0.1:9092` here, `broker:29092` inside the Compose network).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from dotenv import load_dotenv

from config.security import (
    SECRETS_FILE_NAME,
    Security,
    java_kafka_auth,
    librdkafka_auth,
    load_security,
    registry_auth,
    registry_http_auth,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# JVM options (defaults of the .env entries of the same names; see there for why).
DAEMON_JAVA_OPTS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xms32m"
DRIVER_JAVA_OPTIONS = "-XX:+UseSerialGC -Xms448m -Xmn256m -XX:TieredStopAtLevel=1"
EXECUTOR_JAVA_OPTIONS = "-XX:+UseParallelGC"


# Which deployment the host tools talk to: "local" (local mode) or "compose" (the Compose stack through its
# published ports; `main.py --compose ...` sets it). Only the registry's address differs between the two.
TARGET_ENV = "PIPELINE_TARGET"
TARGETS = ("local", "compose")
REGISTRY_URL_DEFAULTS = {
    "local": "http://127.0.0.1:8081/apis/ccompat/v7",
    "compose": "http://127.0.0.1:8081",
}

# Cluster mode (`main.py up --cluster`): the values of `.env.cluster` win over `.env` (the environment wins
# over both). Its names are the ones Compose's cluster file sets.
CLUSTER_ENV = "PIPELINE_CLUSTER"
CLUSTER_ENV_FILE = PROJECT_ROOT / ".env.cluster"

# Where the tests put the faults they inject into the streaming job (spark/faults.py); unset in production.
FAULTS_DIR_ENV = "PIPELINE_FAULTS_DIR"


# The contract's names; a namespace (the bench's) prefixes the topics and names its own keyspace.
PIPELINE_KEYSPACE = "user_logs"
JOB_NAME = "log-pipeline"  # the Spark app, and the prefix of its queries' names
_KEYSPACE_NAME = re.compile(r"[a-z][a-z0-9_]{0,47}")
_TOPIC_PREFIX = re.compile(r"[A-Za-z0-9._-]{0,100}")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None


def _str(name: str, default: str) -> str:
    return os.environ.get(name, default).strip() or default


def _matching(name: str, default: str, pattern: re.Pattern, what: str) -> str:
    value = _str(name, default)
    if not pattern.fullmatch(value):
        raise SettingsError(f"{name}={value!r} is not {what}")
    return value


def _path(name: str, default: Path) -> Path:
    raw = os.environ.get(name, "").strip()
    path = Path(raw) if raw else default
    return path if path.is_absolute() else PROJECT_ROOT / path


def host_port(address: str, default_port: int) -> tuple[str, int]:
    """Split `host:port` (the first of a comma-separated list)."""
    first = address.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if not host:
        return first, default_port
    return host, int(port)


def _security() -> Security:
    try:
        return load_security()
    except ValueError as exc:  # a setting out of its choices
        raise SettingsError(str(exc)) from None


def _registry_url() -> str:
    """SCHEMA_REGISTRY_URL when set (Compose's containers set it); else the URL of the target deployment's
    registry from SCHEMA_REGISTRY_URL_LOCAL / SCHEMA_REGISTRY_URL_COMPOSE: local mode runs Apicurio, whose
    Confluent-compatible API sits under /apis/ccompat/v7, and Compose runs Confluent's, at the root."""
    explicit = os.environ.get("SCHEMA_REGISTRY_URL", "").strip()
    if explicit:
        return explicit.rstrip("/")
    target = _str(TARGET_ENV, "local")
    if target not in TARGETS:
        raise SettingsError(f"{TARGET_ENV}={target!r}: choose one of {', '.join(TARGETS)}")
    return _str(f"SCHEMA_REGISTRY_URL_{target.upper()}", REGISTRY_URL_DEFAULTS[target]).rstrip("/")


@dataclass(frozen=True)
class AuthAlertRules:
    """The failed-login query's windows and thresholds (spark/auth_alerts.py), all from `.env`."""

    enabled: bool
    window_s: int
    slide_s: int
    watermark_s: int
    user_threshold: int
    ip_threshold: int
    starting_offsets: str = "latest"


def _auth_alert_rules() -> AuthAlertRules:
    rules = AuthAlertRules(
        enabled=_str("AUTH_ALERTS_ENABLED", "true").lower() in ("1", "true", "yes", "on"),
        window_s=_int("AUTH_ALERT_WINDOW_S", 300),
        slide_s=_int("AUTH_ALERT_SLIDE_S", 60),
        watermark_s=_int("AUTH_ALERT_WATERMARK_S", 120),
        user_threshold=_int("AUTH_ALERT_USER_THRESHOLD", 5),
        ip_threshold=_int("AUTH_ALERT_IP_THRESHOLD", 20),
        starting_offsets=_str("AUTH_ALERT_STARTING_OFFSETS", "latest"),
    )
    for name in ("window_s", "slide_s", "user_threshold", "ip_threshold"):
        if getattr(rules, name) < 1:
            raise SettingsError(f"AUTH_ALERT_{name.upper()}={getattr(rules, name)} must be at least 1")
    if rules.starting_offsets not in ("latest", "earliest"):
        raise SettingsError(f"AUTH_ALERT_STARTING_OFFSETS={rules.starting_offsets!r} must be latest or earliest")
    if rules.watermark_s < 0:
        raise SettingsError(f"AUTH_ALERT_WATERMARK_S={rules.watermark_s} must not be negative")
    if rules.slide_s > rules.window_s or rules.window_s % rules.slide_s:
        raise SettingsError(
            f"AUTH_ALERT_SLIDE_S={rules.slide_s} must divide AUTH_ALERT_WINDOW_S={rules.window_s} "
            "(each event then falls in window/slide windows)"
        )
    return rules


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str
    schema_registry_url: str
    cassandra_host: str
    cassandra_port: int
    cassandra_local_dc: str
    spark_master_url: str
    spark_master_webui_port: int
    spark_worker_webui_port: int
    spark_worker_cores: int
    spark_worker_instances: int
    spark_worker_memory: str
    kafka_controller_port: int
    registry_management_port: int
    cassandra_storage_port: int
    cassandra_jmx_port: int
    kafka_heap: str
    cassandra_heap: str
    registry_heap: str
    spark_daemon_heap: str
    spark_daemon_java_opts: str
    jvm_malloc_arena_max: str
    local_dir: Path
    topic_partitions: int
    topic_replication_factor: int
    topic_min_insync_replicas: int
    topic_retention_ms: int
    producer_linger_ms: int
    producer_batch_bytes: int
    producer_compression: str
    producer_message_timeout_ms: int
    producer_queue_max_messages: int
    registry_retry_s: int
    cassandra_replication_factor: int
    cassandra_default_ttl_s: int
    cassandra_write_consistency: str
    cassandra_connect_retry_s: int
    cassandra_output_concurrent_writes: int
    cassandra_output_batch_size_rows: int
    spark_checkpoint_dir: Path
    spark_starting_offsets: str
    spark_max_offsets_per_trigger: int
    spark_trigger_interval: str
    spark_restart_backoff_max_s: int
    spark_driver_memory: str
    spark_executor_memory: str
    spark_driver_java_options: str
    spark_executor_java_options: str
    spark_job_cores_max: int
    spark_stall_timeout_s: int
    spark_stall_exit_s: int
    cassandra_session_probe_s: int
    producer_rate: float
    dashboard_host: str
    dashboard_port: int
    dashboard_refresh_s: float
    dashboard_links: str
    cluster: bool
    auth_alerts: AuthAlertRules
    security: Security
    topic_prefix: str = ""
    cassandra_keyspace: str = PIPELINE_KEYSPACE

    @property
    def job_name(self) -> str:
        return f"{self.topic_prefix}{JOB_NAME}"

    @property
    def job_status_file(self) -> Path:
        """The job's report for `status` (a namespace's job writes its own)."""
        return self.local_dir / "run" / f"{self.topic_prefix}stream-status.json"

    @property
    def kafka_port(self) -> int:
        return host_port(self.kafka_bootstrap_servers, 9092)[1]

    @property
    def registry_port(self) -> int:
        return urlparse(self.schema_registry_url).port or 80

    @property
    def spark_master_port(self) -> int:
        return urlparse(self.spark_master_url).port or 7077

    @property
    def spark_master_ui_url(self) -> str:
        host = urlparse(self.spark_master_url).hostname
        return f"http://{host}:{self.spark_master_webui_port}"

    @property
    def secrets_file(self) -> Path:
        return self.local_dir / SECRETS_FILE_NAME

    def kafka_client(self, role: str) -> dict[str, str]:
        """librdkafka settings of one Kafka user (config/security.py): where the brokers are and, with security
        on, its SASL/SCRAM login."""
        return {"bootstrap.servers": self.kafka_bootstrap_servers, **librdkafka_auth(self.security, role)}

    def kafka_java_client(self, role: str) -> dict[str, str]:
        """The same for a Java client (Spark's Kafka source takes them with a `kafka.` prefix)."""
        return {"bootstrap.servers": self.kafka_bootstrap_servers, **java_kafka_auth(self.security, role)}

    def registry_client(self, role: str) -> dict[str, str]:
        """confluent-kafka SchemaRegistryClient settings: the registry's URL and, where it asks for one, the
        role's login (Compose's registry; config/security.py)."""
        return {"url": self.schema_registry_url, **registry_auth(self.security, role)}

    def registry_http_auth(self, role: str) -> tuple[str, str] | None:
        return registry_http_auth(self.security, role)

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.dashboard_host}:{self.dashboard_port}"


def local_dir_before_settings() -> Path:
    """Local mode's folder, found without loading `.env` into the environment (what loads depends on the
    markers kept there)."""
    from dotenv import dotenv_values

    raw = os.environ.get("PIPELINE_LOCAL_DIR") or dotenv_values(PROJECT_ROOT / ".env").get("PIPELINE_LOCAL_DIR")
    local_dir = Path(raw or ".local")
    return local_dir if local_dir.is_absolute() else PROJECT_ROOT / local_dir


def cluster_mode_marker() -> Path:
    """The file `up --cluster` writes (and `down` removes) under the local folder: whether cluster mode runs
    decides which file's values win."""
    return local_dir_before_settings() / "run" / "cluster-mode"


def insecure_mode_marker() -> Path:
    """The file `up --insecure` writes (and `down` removes): while it exists every command connects without
    credentials, as the engines then expect."""
    return local_dir_before_settings() / "run" / "insecure-mode"


def load_settings(env_file: Path | None = None) -> Settings:
    """Read `.env` (values already in the environment win) and build the settings; in cluster mode
    (PIPELINE_CLUSTER=1) `.env.cluster` first, so its values win over `.env`'s."""
    cluster = os.environ.get(CLUSTER_ENV) == "1"
    if cluster and env_file is None:
        load_dotenv(CLUSTER_ENV_FILE, override=False)
    load_dotenv(env_file or PROJECT_ROOT / ".env", override=False)
    local_dir = Path(_str("PIPELINE_LOCAL_DIR", str(PROJECT_ROOT / ".local")))
    if not local_dir.is_absolute():
        local_dir = PROJECT_ROOT / local_dir
    # The generated passwords (local/secrets.py), after .env: the environment still wins (Compose sets them).
    load_dotenv(local_dir / SECRETS_FILE_NAME, override=False)
    return Settings(
        kafka_bootstrap_servers=_str("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        schema_registry_url=_registry_url(),
        cassandra_host=_str("CASSANDRA_HOST", "127.0.0.1"),
        cassandra_port=_int("CASSANDRA_PORT", 9042),
        cassandra_local_dc=_str("CASSANDRA_LOCAL_DC", "datacenter1"),
        spark_master_url=_str("SPARK_MASTER_URL", "spark://127.0.0.1:7077"),
        spark_master_webui_port=_int("SPARK_MASTER_WEBUI_PORT", 8080),
        spark_worker_webui_port=_int("SPARK_WORKER_WEBUI_PORT", 8082),
        spark_worker_cores=_int("SPARK_WORKER_CORES", 4),
        spark_worker_instances=_int("SPARK_WORKER_INSTANCES", 1),
        spark_worker_memory=_str("SPARK_WORKER_MEMORY", "2g"),
        kafka_controller_port=_int("KAFKA_CONTROLLER_PORT", 9093),
        registry_management_port=_int("REGISTRY_MANAGEMENT_PORT", 9000),
        cassandra_storage_port=_int("CASSANDRA_STORAGE_PORT", 7000),
        cassandra_jmx_port=_int("CASSANDRA_JMX_PORT", 7199),
        kafka_heap=_str("KAFKA_HEAP", "384m"),
        cassandra_heap=_str("CASSANDRA_HEAP", "640m"),
        registry_heap=_str("REGISTRY_HEAP", "256m"),
        spark_daemon_heap=_str("SPARK_DAEMON_HEAP", "192m"),
        spark_daemon_java_opts=_str("SPARK_DAEMON_JAVA_OPTS", DAEMON_JAVA_OPTS),
        jvm_malloc_arena_max=_str("MALLOC_ARENA_MAX", "2"),
        local_dir=local_dir,
        topic_partitions=_int("KAFKA_TOPIC_PARTITIONS", 3),
        topic_replication_factor=_int("KAFKA_TOPIC_REPLICATION_FACTOR", 1),
        topic_min_insync_replicas=_int("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", 1),
        topic_retention_ms=_int("KAFKA_TOPIC_RETENTION_MS", 7 * 24 * 3600 * 1000),
        producer_linger_ms=_int("PRODUCER_LINGER_MS", 20),
        producer_batch_bytes=_int("PRODUCER_BATCH_BYTES", 512 * 1024),
        producer_compression=_str("PRODUCER_COMPRESSION", "lz4"),
        producer_message_timeout_ms=_int("PRODUCER_MESSAGE_TIMEOUT_MS", 120_000),
        producer_queue_max_messages=_int("PRODUCER_QUEUE_MAX_MESSAGES", 500_000),
        registry_retry_s=_int("SCHEMA_REGISTRY_RETRY_S", 30),
        cassandra_replication_factor=_int("CASSANDRA_REPLICATION_FACTOR", 1),
        cassandra_default_ttl_s=_int("CASSANDRA_DEFAULT_TTL_S", 30 * 24 * 3600),
        cassandra_write_consistency=_str("CASSANDRA_WRITE_CONSISTENCY", "LOCAL_QUORUM"),
        cassandra_connect_retry_s=_int("CASSANDRA_CONNECT_RETRY_S", 120),
        cassandra_output_concurrent_writes=_int("CASSANDRA_OUTPUT_CONCURRENT_WRITES", 64),
        cassandra_output_batch_size_rows=_int("CASSANDRA_OUTPUT_BATCH_SIZE_ROWS", 1),
        spark_checkpoint_dir=_path(
            "SPARK_CHECKPOINT_DIR", local_dir / "data" / "spark" / "checkpoints" / "log-pipeline"
        ),
        spark_starting_offsets=_str("SPARK_STARTING_OFFSETS", "earliest"),
        spark_max_offsets_per_trigger=_int("SPARK_MAX_OFFSETS_PER_TRIGGER", 200_000),
        spark_trigger_interval=_str("SPARK_TRIGGER_INTERVAL", "1 second"),
        spark_restart_backoff_max_s=_int("SPARK_RESTART_BACKOFF_MAX_S", 30),
        spark_driver_memory=_str("SPARK_DRIVER_MEMORY", "512m"),
        spark_executor_memory=_str("SPARK_EXECUTOR_MEMORY", "640m"),
        spark_driver_java_options=_str("SPARK_DRIVER_JAVA_OPTIONS", DRIVER_JAVA_OPTIONS),
        spark_executor_java_options=_str("SPARK_EXECUTOR_JAVA_OPTIONS", EXECUTOR_JAVA_OPTIONS),
        spark_job_cores_max=_int("SPARK_JOB_CORES_MAX", 3),
        spark_stall_timeout_s=_int("SPARK_STALL_TIMEOUT_S", 120),
        spark_stall_exit_s=_int("SPARK_STALL_EXIT_S", 120),
        cassandra_session_probe_s=_int("CASSANDRA_SESSION_PROBE_S", 5),
        producer_rate=float(_str("PRODUCER_RATE", "200")),
        dashboard_host=_str("DASHBOARD_HOST", "127.0.0.1"),
        dashboard_port=_int("DASHBOARD_PORT", 8050),
        dashboard_refresh_s=float(_str("DASHBOARD_REFRESH_S", "5")),
        dashboard_links=os.environ.get("DASHBOARD_LINKS", ""),
        cluster=cluster,
        auth_alerts=_auth_alert_rules(),
        security=_security(),
        topic_prefix=_matching("PIPELINE_TOPIC_PREFIX", "", _TOPIC_PREFIX, "letters, digits, '.', '_' or '-'"),
        cassandra_keyspace=_matching(
            "CASSANDRA_KEYSPACE", PIPELINE_KEYSPACE, _KEYSPACE_NAME, "a lower-case CQL name of at most 48 characters"
        ),
    )
