"""The local-mode commands: `up`, `status`, `logs`, `down`.

`up` checks the host (Java 17, Maven, disk, ports), fetches what is missing, then starts the engines
under supervisord in dependency order and waits for each to answer its own protocol.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import psutil

from config.security import SCRAM_MECHANISM, CredentialMissing
from config.settings import Settings, load_settings
from config.versions import Versions, load_versions
from database.cassandra_connection import CassandraUnavailable
from local import configs, kafka_tools, resolve
from local.errors import LocalModeError
from local.java import JavaRuntime, find_java17
from local.paths import LocalPaths
from local.ports import holder, port_free
from local.services import Service, all_services, infra_names, kafka_tool_command, service_names, spark_home
from local.supervisor import DEAD_STATES, Supervisor
from local.topology import topology

# In a Kafka node's data folder once its metadata holds the admin's SCRAM credential.
ADMIN_USER_MARKER = "pipeline-admin-user"
FIRST_RUN_DISK_GB = 4
DISK_GB = 1
ORPHAN_KILL_WAIT_S = 15


@dataclass(frozen=True)
class Platform:
    settings: Settings
    versions: Versions
    paths: LocalPaths

    @classmethod
    def load(cls) -> Platform:
        settings = load_settings()
        return cls(settings=settings, versions=load_versions(), paths=LocalPaths(settings.local_dir))

    @property
    def supervisor(self) -> Supervisor:
        return Supervisor(self.paths)


def tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return f"(no log at {path})"
    with path.open(errors="replace") as handle:
        return "".join(deque(handle, maxlen=lines))


def _check_disk(paths: LocalPaths) -> None:
    first_run = not any(paths.classpaths.glob("*.txt"))
    need = FIRST_RUN_DISK_GB if first_run else DISK_GB
    free_gb = shutil.disk_usage(paths.root).free / 1e9
    if free_gb < need:
        raise LocalModeError(
            f"only {free_gb:.1f} GB free under {paths.root}; local mode needs {need} GB. Free some disk space."
        )


def _check_spark_version(versions: Versions) -> None:
    import pyspark

    if pyspark.__version__ != versions.spark:
        raise LocalModeError(
            f"pyspark {pyspark.__version__} is installed but the Versions block of .env pins Spark {versions.spark}: "
            f"run `pip install pyspark=={versions.spark}` (or `python main.py up`, which installs requirements)."
        )


def write_spark_defaults(resolved: resolve.Resolved) -> Path:
    """Hand the connector jars to every `spark-submit` of this environment, so the job is submitted exactly
    as in Compose (`spark-submit --master spark://... spark/spark_streaming.py`) and nothing resolves at submit time."""
    home = spark_home()
    jars = resolve.spark_connector_jars(resolved.classpaths["spark-connectors"], home)
    conf_dir = home / "conf"
    conf_dir.mkdir(exist_ok=True)
    target = conf_dir / "spark-defaults.conf"
    target.write_text(
        "# Written by `python main.py up` (local/platform.py): the connector jars resolved into .local/.\n"
        f"spark.jars {','.join(str(j) for j in jars)}\n"
    )
    return target


def kafka_cluster_id() -> str:
    """A random cluster id as Kafka makes them (base64url of a uuid), never starting with '-': one in 64 ids
    would, and a command-line parser reads that as an option (as Kafka's own Uuid.randomUuid() avoids)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _existing_cluster_id(data_dirs: list[Path]) -> str | None:
    for data in data_dirs:
        meta = data / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    return line.split("=", 1)[1].strip()
    return None


def _format_kafka_storage(platform: Platform, java: JavaRuntime, resolved: resolve.Resolved) -> None:
    """KRaft storage is formatted once per node; later starts reuse it (and its records). One node forms its
    own quorum (`--standalone`); a cluster's nodes share one cluster id and the static quorum of their config."""
    nodes = topology(platform.settings).kafka
    data_dirs = [platform.paths.data / node.name for node in nodes]
    cluster_id = _existing_cluster_id(data_dirs) or kafka_cluster_id()
    security = platform.settings.security
    for node, data in zip(nodes, data_dirs, strict=True):
        marker = data / ADMIN_USER_MARKER
        if (data / "meta.properties").exists():
            if security.enabled and not marker.exists():
                raise LocalModeError(
                    f"Kafka's data in {data} was created before security was on, so it has no admin user: start "
                    "it once with `python3 main.py up --insecure` (which adds the users), `down`, then `up`."
                )
            continue
        quorum = ["--standalone"] if len(nodes) == 1 else []
        # The admin's SCRAM credential goes into the first metadata records: the brokers log in to each other
        # with it before any client could create a user. (A short-lived local process; nothing echoes it.)
        scram = (
            [
                "--add-scram",
                f"{SCRAM_MECHANISM}=[name={security.kafka('admin').username},password="
                f"{security.kafka('admin').password}]",
            ]
            if security.enabled
            else []
        )
        cmd = kafka_tool_command(
            platform.paths, java, resolved, "kafka.tools.StorageTool",
            "format", *quorum, f"--cluster-id={cluster_id}", *scram,
            "-c", str(platform.paths.kafka_properties(node.name)),
        )  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise LocalModeError(
                f"formatting Kafka storage of {node.name} in {data} failed:\n{done.stdout}{done.stderr}"
            )
        if security.enabled:
            marker.write_text(f"{security.kafka('admin').username}\n")


def _check_ports(platform: Platform, services: list[Service], running: dict[str, dict]) -> None:
    for service in services:
        if running.get(service.name, {}).get("statename") == "RUNNING":
            continue
        for host, port in service.ports:
            try:
                free = port_free(port, host)
            except OSError as exc:  # EADDRNOTAVAIL: this host does not route the loopback alias to `lo`
                raise LocalModeError(
                    f"{service.name} cannot bind {host}:{port} ({exc.strerror}): cluster mode puts its nodes on "
                    f"127.0.0.1-3, which Linux routes to the loopback interface; add the alias "
                    f"(`ip addr add {host}/8 dev lo`) or run single-node mode."
                ) from None
            if not free:
                raise LocalModeError(
                    f"port {host}:{port} ({service.name}) is already in use by {holder(port)}: stop that process, "
                    f"or set another port in .env."
                )


def _died(platform: Platform, name: str, state: str) -> LocalModeError:
    log = platform.paths.log_file(name)
    return LocalModeError(f"{name} died while starting (state {state}). Last lines of {log}:\n{tail(log)}")


def _check_started(platform: Platform, service: Service, started_at: float) -> bool:
    """True once the service answers its probe; raises if it died or ran out of time."""
    state = platform.supervisor.info(service.name)["statename"]
    if state in DEAD_STATES:
        raise _died(platform, service.name, state)
    reason = service.probe(platform.settings)
    if reason is None:
        return True
    if time.monotonic() - started_at > service.ready_timeout_s:
        log = platform.paths.log_file(service.name)
        raise LocalModeError(
            f"{service.name} did not become ready within {service.ready_timeout_s} s ({reason}). "
            f"Last lines of {log}:\n{tail(log)}"
        )
    return False


def _wait_ready(platform: Platform, service: Service, started_at: float) -> None:
    while not _check_started(platform, service, started_at):
        time.sleep(1)


def prepare(platform: Platform) -> tuple[JavaRuntime, resolve.Resolved, list[Service]]:
    """Everything `up` needs before starting a process: checks, downloads (resolved once, here), configs."""
    platform.paths.make()
    _check_disk(platform.paths)
    _check_spark_version(platform.versions)
    java = find_java17()
    resolved = resolve.resolve_all(platform.paths, java, platform.versions)
    configs.write_configs(platform.settings, platform.paths)
    write_spark_defaults(resolved)
    kafka_tools.write_launchers(platform.settings, java, platform.paths, resolved)
    services = all_services(platform.settings, platform.paths, java, resolved)
    for service in services:
        service.write_argfile()
    return java, resolved, services


def _start_in_order(platform: Platform, services: list[Service], ready: set[str]) -> None:
    """Start each service as soon as its prerequisites answer; poll every started one until all do."""
    supervisor = platform.supervisor
    started: dict[str, float] = {}
    todo = [s for s in services if s.name not in ready]
    while any(s.name not in ready for s in todo):
        for service in todo:
            if service.name not in started and all(a in ready for a in service.after):
                if service.before_start:
                    service.before_start(platform.settings)
                supervisor.start(service.name)
                started[service.name] = time.monotonic()
        waiting = [s for s in todo if s.name in started and s.name not in ready]
        if not waiting:
            raise LocalModeError("services wait on each other: check `after` in local/services.py")
        for service in waiting:
            if _check_started(platform, service, started[service.name]):
                ready.add(service.name)
                print(f"  {service.name:<13} ready   {service.address}", flush=True)
        if any(s.name not in ready for s in waiting):
            time.sleep(0.5)


def _secure_engines(platform: Platform) -> None:
    """Cassandra's roles (the default superuser replaced on the first start); with security off, the Kafka
    users were created through the open listener (the registry's `before_start`): the data can be secured."""
    from database import roles

    settings = platform.settings
    try:
        created = roles.secure(settings, retry_s=settings.cassandra_connect_retry_s)
    except (roles.CassandraAuthError, CassandraUnavailable, CredentialMissing) as exc:
        raise LocalModeError(str(exc)) from None
    if created:
        print(f"  cassandra     roles   {', '.join(created)} (password logins; `cassandra` superuser removed)")
    if not settings.security.enabled:
        for node in topology(settings).kafka:
            (platform.paths.data / node.name / ADMIN_USER_MARKER).write_text(
                f"{settings.security.kafka('admin').username}\n"
            )


def up(platform: Platform, pipeline: bool = True, producer: bool = True) -> None:
    """Start the engines; then (unless `pipeline` is False) create topics, schemas and tables and start
    the streaming job, and (unless `producer` is False) the default-rate generator."""
    java, resolved, services = prepare(platform)
    if platform.settings.cluster:  # before anything starts, so every command follows the cluster from now on
        platform.paths.mode_file.write_text("cluster\n")
    else:  # left by a cluster that was never stopped with `down` (a reboot, say)
        platform.paths.mode_file.unlink(missing_ok=True)
    if platform.settings.security.enabled:
        platform.paths.insecure_file.unlink(missing_ok=True)
    else:
        platform.paths.insecure_file.write_text("insecure\n")
    supervisor = platform.supervisor
    _check_ports(platform, services, supervisor.all_info())
    _format_kafka_storage(platform, java, resolved)
    supervisor.start_daemon(services)

    ready: set[str] = set()
    infra = infra_names(platform.settings)
    _start_in_order(platform, [s for s in services if s.name in infra], ready)
    _secure_engines(platform)
    if not pipeline:
        return
    from pipeline_setup import EXPECTED_FAILURES, run_setup

    try:
        run_setup(platform.settings)
    except EXPECTED_FAILURES as exc:
        raise LocalModeError(f"setup failed: {exc}") from None
    wanted = {"stream", "dashboard"} | ({"producer"} if producer else set())
    _start_in_order(platform, [s for s in services if s.name in wanted], ready)


def up_cluster(platform: Platform, pipeline: bool = True, producer: bool = True) -> None:
    """`up` in cluster mode. Marked first, so `status`, `logs` and `down` follow it even while it starts;
    a node that does not come up within its bound stops the whole cluster: nothing is left half-running."""
    if not platform.settings.cluster:
        raise LocalModeError("cluster mode needs PIPELINE_CLUSTER=1 before the settings load (main.py sets it)")
    try:
        up(platform, pipeline=pipeline, producer=producer)
    except (LocalModeError, KeyboardInterrupt):
        down(platform)
        raise


def _uptime(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m{seconds % 60:02d}s"


def status_rows(platform: Platform) -> list[dict]:
    """One row per service: state (up = running and answering its probe), address, pid, uptime."""
    info = platform.supervisor.all_info()
    rows = []
    for service in described_services(platform):
        proc = info.get(service.name, {})
        running = proc.get("statename") == "RUNNING"
        reason = service.probe(platform.settings) if running else None
        rows.append(
            {
                "service": service.name,
                "state": "up" if running and reason is None else ("starting" if running else "down"),
                "address": service.address,
                "pid": proc.get("pid") if running else None,
                "uptime": _uptime(proc["now"] - proc["start"]) if running else None,
                "detail": reason
                or (job_detail(platform) if running and service.name == "stream" else "")
                or ("" if running else proc.get("statename", "not started").lower()),
            }
        )
    return rows


def stream_command(platform: Platform) -> tuple[str, list[str]]:
    """`main.py stream`: the same spark-submit the supervised job runs, for the foreground (one job per checkpoint)."""
    info = platform.supervisor.all_info().get("stream", {})
    if info.get("statename") in ("RUNNING", "STARTING"):
        raise LocalModeError(
            f"the streaming job already runs under local mode (pid {info.get('pid')}); two jobs must not share a "
            "checkpoint. See it with `python3 main.py logs stream -f`."
        )
    java = find_java17()
    service = next(s for s in described_services(platform, java) if s.name == "stream")
    os.environ.update(service.env)
    return service.command[0], service.command


def job_detail(platform: Platform) -> str:
    """The job's own report (spark/spark_streaming.py rewrites it every few seconds)."""
    path = platform.paths.run / "stream-status.json"
    if not path.exists():
        return ""
    status = json.loads(path.read_text())
    parts = [status.get("health", "health unknown")]
    for topic, query in status.get("queries", {}).items():
        progress = query.get("last_progress") or {}
        part = f"{topic} {query['state']}"
        if progress:
            part += f" batch {progress.get('batchId')} {progress.get('processedRowsPerSecond', 0):.0f} rows/s"
        if query.get("restarts"):
            part += f" restarts {query['restarts']} ({query.get('last_error')})"
        parts.append(part)
    return "; ".join(parts)


def described_services(platform: Platform, java: JavaRuntime | None = None) -> list[Service]:
    """The services as `up` would start them, for display; nothing is written or run."""
    java = java or JavaRuntime(home=Path("java"), major=0)
    try:
        return all_services(platform.settings, platform.paths, java, resolve.load(platform.paths, platform.versions))
    except LocalModeError:
        raise LocalModeError("local mode was never set up here: run `python main.py up` first.") from None


def our_java_processes(root: Path) -> list[psutil.Process]:
    """JVMs local mode started: supervisord runs every service in its folder (`.local/`), and Spark executors
    run in the worker's work folder there. A JVM of the user's own (a foreground `main.py stream`, a test's
    local SparkSession, even one whose classpath points into `.local/m2`) is not ours to kill."""
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        cmdline, cwd = proc.info["cmdline"] or [], proc.info["cwd"] or ""
        if cmdline and Path(cmdline[0]).name == "java" and Path(cwd).is_relative_to(root):
            found.append(proc)
    return found


def stop_groups(names: list[str]) -> list[list[str]]:
    """The nodes of one engine (`kafka-1`..`kafka-3`) in one group, kept in the order of the list: they stop
    together. Stopped one by one, the last KRaft node waits for a controller quorum that has already left, and
    is killed when its stop bound runs out."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(re.sub(r"-\d+$", "", name), []).append(name)
    return list(groups.values())


def down(platform: Platform) -> list[str]:
    """Stop every service in reverse start order, then supervisord; kill any JVM of ours left behind."""
    supervisor = platform.supervisor
    stopped = []
    if supervisor.running():
        info = supervisor.all_info()
        known = service_names(platform.settings)
        # Last started first; then whatever else supervisord runs (say, nodes of the other mode's config).
        order = [*reversed(known), *(name for name in info if name not in known)]
        for group in stop_groups(order):
            running = [n for n in group if n in info and info[n]["statename"] in ("RUNNING", "STARTING", "BACKOFF")]
            if running:
                supervisor.stop_together(running)
                stopped.extend(running)
        supervisor.shutdown()
    platform.paths.mode_file.unlink(missing_ok=True)
    platform.paths.insecure_file.unlink(missing_ok=True)
    leftovers = our_java_processes(platform.paths.root)
    for proc in leftovers:
        proc.terminate()
    _, alive = psutil.wait_procs(leftovers, timeout=ORPHAN_KILL_WAIT_S)
    for proc in alive:
        proc.kill()
    return stopped
