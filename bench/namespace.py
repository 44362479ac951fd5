"""The bench's own copy of the pipeline, so that no bench step writes to the user's topics or tables.

Topics `bench_<topic>` (the pipeline's partitions, replication and configs) with subjects of their own
(the same schemas, so the same ids), the keyspace `bench_user_logs` (the same table definitions, from
cassandra/cassandra_setup.cql) and, when the step needs it, a run of the same streaming job with the same
spark-submit line on them: its own checkpoint, report and Spark app name. The pipeline's own job and
generator are paused meanwhile (they would share the two cores) and resumed afterwards. Tests make
namespaces of their own the same way (another prefix and keyspace).

Everything is created on entry and removed on exit, and whatever an interrupted run left is removed first.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient

from bench.memory import BENCH_JOB_PID_FILE
from config.settings import Settings
from database import roles
from database.cassandra_connection import CassandraConnection
from database.schema import apply_setup
from kafka import access
from kafka.contract import AUTH, streams
from kafka.schema_registry import register_all
from kafka.topics import wanted_configs
from local.java import find_java17
from local.pipeline_status import read_job_report
from local.platform import Platform, described_services, tail
from local.probes import stream_job_ready

TOPIC_PREFIX = "bench_"
KEYSPACE = "bench_user_logs"
# The pipeline's own generator and job, and the dashboard watching them (`bench dashboard` runs its own).
PAUSED = ("producer", "stream", "dashboard")
JOB_READY_TIMEOUT_S = 240
JOB_STOP_WAIT_S = 60
ADMIN_TIMEOUT_S = 60


class NamespaceError(RuntimeError):
    pass


def bench_settings(settings: Settings, topic_prefix: str = TOPIC_PREFIX, keyspace: str = KEYSPACE) -> Settings:
    return dataclasses.replace(
        settings,
        topic_prefix=topic_prefix,
        cassandra_keyspace=keyspace,
        spark_checkpoint_dir=settings.local_dir / "data" / "spark" / "checkpoints" / keyspace,
    )


def job_environment(settings: Settings) -> dict[str, str]:
    """What the job reads to run in the namespace (config/settings.py)."""
    return {
        "PIPELINE_TOPIC_PREFIX": settings.topic_prefix,
        "CASSANDRA_KEYSPACE": settings.cassandra_keyspace,
        "SPARK_CHECKPOINT_DIR": str(settings.spark_checkpoint_dir),
    }


def _admin(settings: Settings) -> AdminClient:
    return AdminClient({**settings.kafka_client("admin"), "log_level": 0})


def topic_names(settings: Settings) -> list[str]:
    return [s.topic for s in streams(settings.topic_prefix)]


def create_topics(settings: Settings) -> None:
    new = [
        NewTopic(name, settings.topic_partitions, settings.topic_replication_factor, config=wanted_configs(settings))
        for name in topic_names(settings)
    ]
    admin = _admin(settings)  # kept referenced: a collected client cancels its requests
    for name, future in admin.create_topics(new, operation_timeout=ADMIN_TIMEOUT_S).items():
        try:
            future.result(timeout=ADMIN_TIMEOUT_S)
        except KafkaException as exc:
            raise NamespaceError(f"could not create the bench's topic {name}: {exc}") from None
    access.grant_pipeline(settings)  # the producer and the job on the namespace's topics, as on the pipeline's


def delete_topics(settings: Settings) -> None:
    """Delete the namespace's topics and wait until Kafka no longer lists them (a topic being deleted
    cannot be created again)."""
    admin = _admin(settings)
    present = [t for t in topic_names(settings) if t in admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics]
    for future in admin.delete_topics(present, operation_timeout=ADMIN_TIMEOUT_S).values() if present else ():
        future.result(timeout=ADMIN_TIMEOUT_S)
    deadline = time.monotonic() + ADMIN_TIMEOUT_S
    while set(present) & set(admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics):
        if time.monotonic() > deadline:
            raise NamespaceError(f"Kafka still lists {', '.join(present)} {ADMIN_TIMEOUT_S} s after deleting them")
        time.sleep(0.5)


def register_schemas(settings: Settings) -> None:
    client = SchemaRegistryClient(settings.registry_client("admin"))
    register_all(client, settings.schema_registry_url, settings.registry_retry_s, streams(settings.topic_prefix))


def delete_subjects(settings: Settings) -> None:
    """The namespace's subjects, every version, for good (soft-deleted first, as the API requires)."""
    client = SchemaRegistryClient(settings.registry_client("admin"))
    present = set(client.get_subjects())
    for subject in (s.subject for s in streams(settings.topic_prefix)):
        if subject in present:
            client.delete_subject(subject)
            client.delete_subject(subject, permanent=True)


def create_keyspace(settings: Settings) -> None:
    with CassandraConnection.open(settings) as cassandra:
        apply_setup(cassandra.session, settings, keyspace=settings.cassandra_keyspace)
        roles.grant(cassandra.session, settings, settings.cassandra_keyspace)


def drop_keyspace(settings: Settings) -> None:
    with CassandraConnection.open(settings) as cassandra:
        cassandra.session.execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra_keyspace}", timeout=120)


def _stop_leftover_job(pid_file: Path) -> None:
    """The job of a bench that was killed outright (its pid file stayed): stopped before its state goes."""
    try:
        process = psutil.Process(int(pid_file.read_text()))
        if any("spark_streaming.py" in part for part in process.cmdline()):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    except (OSError, ValueError, psutil.Error):
        pass  # no file, or that process is gone
    pid_file.unlink(missing_ok=True)


def _remove_job_state(settings: Settings) -> None:
    shutil.rmtree(settings.spark_checkpoint_dir, ignore_errors=True)
    settings.job_status_file.unlink(missing_ok=True)


class BenchNamespace:
    """`with BenchNamespace(platform, job=True) as settings:` the bench's settings, its topics and tables
    created, its job running (with `job`) and the pipeline's own job and generator paused."""

    def __init__(
        self, platform: Platform, job: bool = True, topic_prefix: str = TOPIC_PREFIX, keyspace: str = KEYSPACE
    ) -> None:
        self.platform = platform
        self.settings = bench_settings(platform.settings, topic_prefix, keyspace)
        self.job = job
        self.paused: list[str] = []
        self.process: subprocess.Popen | None = None
        self.log_path = platform.paths.logs / f"{keyspace}-stream.log"
        self.pid_file = platform.paths.run / BENCH_JOB_PID_FILE
        self.job_env: dict[str, str] = {}

    def __enter__(self) -> Settings:
        self.remove()  # an interrupted run's leftovers
        try:
            create_topics(self.settings)
            register_schemas(self.settings)
            create_keyspace(self.settings)
            if self.job:
                self._pause_pipeline()
                self._start_job()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.settings

    def __exit__(self, *_exc) -> None:
        try:
            self.stop_job()
            self.remove()
        finally:
            self._resume_pipeline()

    def remove(self) -> None:
        _stop_leftover_job(self.pid_file)
        delete_topics(self.settings)
        delete_subjects(self.settings)
        drop_keyspace(self.settings)
        _remove_job_state(self.settings)

    def _pause_pipeline(self) -> None:
        supervisor = self.platform.supervisor
        states = supervisor.all_info()
        for name in PAUSED:
            if states.get(name, {}).get("statename") in ("RUNNING", "STARTING", "BACKOFF"):
                supervisor.stop(name)
                self.paused.append(name)

    def _resume_pipeline(self) -> None:
        for name in reversed(self.paused):
            self.platform.supervisor.start(name)
        self.paused = []

    def restart_job(self, alerts: bool) -> None:
        """The bench's job again, with its failed-login query on or off (on: from the topic's end, as on a
        first start, so it has no backlog of its own to catch up on)."""
        self.stop_job()
        auth = next(s for s in streams(self.settings.topic_prefix) if s.name == AUTH.name)
        shutil.rmtree(self.settings.spark_checkpoint_dir / f"{auth.topic}.alerts", ignore_errors=True)
        self.job_env = {"AUTH_ALERTS_ENABLED": "true" if alerts else "false"}
        self._start_job()

    def _start_job(self) -> None:
        service = next(s for s in described_services(self.platform, find_java17()) if s.name == "stream")
        env = {**os.environ, **service.env, **job_environment(self.settings), **self.job_env}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                service.command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid_file.write_text(str(self.process.pid))  # bench/memory.py and cpu.py count it as `stream`
        deadline = time.monotonic() + JOB_READY_TIMEOUT_S
        while not self._job_running():
            if self.process.poll() is not None:
                raise NamespaceError(f"the bench's job exited ({self.process.returncode}):\n{tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise NamespaceError(
                    f"the bench's job was not running within {JOB_READY_TIMEOUT_S} s:\n{tail(self.log_path)}"
                )
            time.sleep(1)

    def _job_running(self) -> bool:
        report = read_job_report(self.settings.job_status_file) or {}
        return report.get("state") == "running" and stream_job_ready(self.settings) is None

    def stop_job(self) -> None:
        """SIGTERM (the job stops its queries and exits), SIGKILL to the group if it has not within the bound."""
        self.pid_file.unlink(missing_ok=True)
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=JOB_STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None
