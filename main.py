"""The pipeline's one entry point.

    python3 main.py up              # first run: creates .venv, installs requirements, fetches the engines
    python3 main.py up --cluster    # 3 Kafka nodes, 3 Cassandra nodes, 2 Spark workers (.env.cluster)
    python3 main.py status [--json] [--watch [SECONDS]]
    python3 main.py dashboard       # the page `up` supervises, http://127.0.0.1:8050 (dashboard/app.py)
    python3 main.py logs SERVICE [-n 50] [-f]
    python3 main.py down
    python3 main.py setup           # topics + schemas (idempotent)
    python3 main.py produce [--rate N --count N --duration S --topics a,b --seed N]
    python3 main.py --compose produce ...   # into the Compose stack, through its published ports
    python3 main.py bench [--quick]  # the benchmark suite (see bench/suite.py)
    python3 main.py chaos [--rounds 3 --rate N]  # kill -9 each part under load, then reconcile (ops/chaos.py)
    python3 main.py doctor [--no-canary]          # is it wired right? one line per check (ops/doctor.py)
    python3 main.py reconcile [--since 2h --topic auth]  # did everything arrive? (ops/reconcile.py)
    python3 main.py dead-letters list|show|replay  # what got rejected, and put it back (ops/dead_letter_tools.py)
    python3 main.py test [PYTEST ARGS]

Run with any Python 3.11: the first part of this file uses only the standard library and re-runs the
command inside the project's own virtualenv (`.venv/`), installing requirements when they change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".requirements-installed.json"
# What pip installs: the lock files, every package (dependencies too) pinned with its hashes, generated from
# requirements.txt and requirements-dev.txt by uv (docs/development.md). pip refuses any file whose hash differs.
REQUIREMENTS = ("requirements.lock", "requirements-dev.lock")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ensure_venv(dev: bool) -> None:
    """Create `.venv` and install requirements (and dev ones for `test`) when missing or changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this part runs under whatever python3 the user has
        sys.exit(f"error: Python 3.11+ is required (this is {sys.version.split()[0]}).")
    wanted = {name: _digest(ROOT / name) for name in REQUIREMENTS[: 2 if dev else 1]}
    installed = json.loads(STAMP.read_text()) if STAMP.exists() else {}
    if VENV_PYTHON.exists() and all(installed.get(k) == v for k, v in wanted.items()):
        return
    if not VENV_PYTHON.exists():
        print(f"creating virtualenv {VENV} ...", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except (OSError, subprocess.CalledProcessError) as exc:
            sys.exit(f"error: could not create {VENV} ({exc}); on Debian/Ubuntu install python3-venv.")
    last = list(wanted)[-1]  # requirements-dev.lock includes everything requirements.lock has
    print(f"installing {last} into .venv (hashes checked) ...", flush=True)
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--require-hashes"]
    pip += ["--no-deps", "-r", str(ROOT / last)]
    if subprocess.run(pip).returncode != 0:
        sys.exit("error: pip could not install the requirements (see its message above).")
    STAMP.write_text(json.dumps({**installed, **wanted}))


def reexec_in_venv(argv: list[str]) -> None:
    # Container images install the requirements system-wide and set PIPELINE_NO_VENV=1.
    if os.environ.get("PIPELINE_NO_VENV") == "1":
        return
    in_venv = Path(sys.prefix).resolve() == VENV.resolve()
    dev = bool(argv) and argv[0] in ("test", "lock")
    ensure_venv(dev)
    if not in_venv:
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(ROOT / "main.py"), *argv])


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="main.py", description="Kafka -> Spark -> Cassandra log pipeline, local mode."
    )
    parser.add_argument(
        "--compose",
        action="store_true",
        help="produce into the Docker Compose stack through its host ports instead of local mode",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="fetch (first run) and start the engines, the streaming job and a generator")
    up.add_argument("--infra-only", action="store_true", help="start Kafka, the registry, Cassandra and Spark only")
    up.add_argument("--no-producer", action="store_true", help="everything but the default-rate generator")
    up.add_argument(
        "--cluster",
        action="store_true",
        help="3 Kafka nodes, 3 Cassandra nodes and 2 Spark workers on 127.0.0.1-3 (settings: .env.cluster); "
        "every other command follows the mode that runs",
    )
    up.add_argument(
        "--insecure",
        action="store_true",
        help="no authentication or ACLs (PLAINTEXT Kafka, any Cassandra login): for measuring the cost of "
        "security and for debugging only; prints a warning, and every command follows until `down`",
    )
    sub.add_parser("stream", help="run the streaming job in the foreground (spark-submit)")
    status = sub.add_parser(
        "status", help="services up/down; per topic: offsets, the job's lag, rows written, batch times, freshness"
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument(
        "--watch", type=float, nargs="?", const=2.0, metavar="SECONDS", help="refresh every SECONDS (default 2)"
    )
    dashboard = sub.add_parser(
        "dashboard", help="serve the pipeline's page and /metrics (what `up` supervises; DASHBOARD_PORT)"
    )
    dashboard.add_argument(
        "--probe-services",
        action="store_true",
        help="services from each engine's probe instead of supervisord (Compose's dashboard container)",
    )
    logs = sub.add_parser("logs", help="show a service's log")
    logs.add_argument("service", help="kafka, registry, cassandra, spark-master or spark-worker")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    sub.add_parser("down", help="stop every service (SIGTERM, then SIGKILL after a bound)")
    sub.add_parser("setup", help="create the topics and register the schemas (idempotent)")
    sub.add_parser("lock", help="regenerate the hash-pinned lock files from the requirements files (uv)")
    secrets_cmd = sub.add_parser(
        "secrets", help="generate the missing passwords into .local/secrets.env (0600) and list their names"
    )
    secrets_cmd.add_argument("--show", metavar="NAME", help="print this one password (e.g. CASSANDRA_READER_PASSWORD)")
    produce = sub.add_parser(
        "produce", help="generate logs into the topics (see `main.py produce --help`)", add_help=False
    )
    produce.add_argument("produce_args", nargs=argparse.REMAINDER)
    bench = sub.add_parser("bench", help="benchmarks against ceilings measured in the same run (not tests)")
    bench.add_argument(
        "what",
        nargs="?",
        default="all",
        choices=[
            *("all", "producer", "latency", "bursty", "drain", "peer", "sustained", "soak", "nulls", "dashboard"),
            "alerts",
            "security",
        ],
        help="all (default): the whole suite, which stops and restarts local mode; against a running local mode: "
        "producer: events/s vs the librdkafka ceiling; latency: per-event latency at --rate; "
        "bursty: the same under the bursty profile (10x --rate for 5 s a minute); "
        "drain: end-to-end events/s for a backlog of --events; "
        "peer: the job against a plain Python consumer draining the same backlog of --events; "
        "sustained: the highest rate the job keeps up with (a search from --rate, trials of --duration s); "
        "soak: --minutes of steady load, RSS/lag/p99/disk per minute and whether each stays flat; "
        "nulls: what writing null fields (tombstones) costs against leaving them unset, in a keyspace of its own; "
        "dashboard: backlogs of --events drained with the dashboard on and off, its CPU and RSS; "
        "alerts: the failed-login query's alert latency, its cost to backlog drains of --events, its state after "
        "an hour of traffic; security: sustained rate, p99 at --rate and a drain of --events, secured and then "
        "restarted with --insecure (local mode is restarted secured at the end)",
    )
    bench.add_argument("--quick", action="store_true", help="all: a small load, under 5 minutes (full: about 18)")
    bench.add_argument("--events", type=int, default=300_000, help="events per measurement")
    bench.add_argument("--rate", type=float, default=1000, help="latency: events/s; sustained: the first trial's")
    bench.add_argument("--duration", type=float, default=60, help="latency, sustained: seconds of producing")
    bench.add_argument("--minutes", type=int, default=30, help="soak: minutes of load (default 30)")
    chaos = sub.add_parser(
        "chaos", help="kill -9 each part of the pipeline in turn under load, then reconcile topics with tables"
    )
    chaos.add_argument("--rounds", type=int, default=3, help="rounds over every target (default 3)")
    chaos.add_argument("--rate", type=float, help="events/s (default: half the sustained rate `bench` measured)")
    chaos.add_argument(
        "--targets",
        default="driver,executor,worker,broker,registry,cassandra,producer",
        help="comma-separated subset, killed in this order",
    )
    chaos.add_argument("--down", type=float, default=5, help="seconds a killed part stays down (default 5)")
    chaos.add_argument(
        "--recover-timeout", type=float, default=240, help="seconds to recover from one kill before it is a stall"
    )
    reconcile = sub.add_parser(
        "reconcile", help="compare the topics' records with the tables and dead letters, event id by event id"
    )
    reconcile.add_argument("--since", help="from the first record at or after: an age (30m, 2h, 1d) or an ISO time")
    reconcile.add_argument(
        "--topic", action="append", help="a topic (or session, auth, activity); repeat for more; default all three"
    )
    reconcile.add_argument("--sample", type=int, default=20, help="events per topic compared field by field")
    reconcile.add_argument("--json", action="store_true", help="machine-readable output")
    doctor = sub.add_parser("doctor", help="is it wired right? one line per check, then a canary event per topic")
    doctor.add_argument("--no-canary", action="store_true", help="skip the canary (it writes, then deletes, 3 rows)")
    doctor.add_argument("--canary-timeout", type=float, default=60, help="seconds to wait for each canary row")
    add_dead_letter_parsers(sub)
    test = sub.add_parser("test", help="run the whole test suite (starts local mode once, stops it at the end)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    # `produce` hands every flag to the producer's own parser.
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "produce":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.compose and args.command not in COMPOSE_COMMANDS:
        parser.error(
            f"--compose applies to {', '.join(COMPOSE_COMMANDS)} only; the Compose stack has its own tools "
            "(docs/compose.md)"
        )
    if args.command == "produce":
        args.produce_args = argv[argv.index("produce") + 1 :]
    return args


def add_dead_letter_parsers(sub) -> None:
    dead = sub.add_parser("dead-letters", help="list, show and replay the records the job could not decode")
    actions = dead.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="one dead letter: reason, schema id, key, headers, value preview")
    show.add_argument("record_id", metavar="TOPIC:PARTITION:OFFSET", help="as `dead-letters list` prints it")
    for name, text in (
        ("list", "counts by topic, day and reason, and the newest dead letters"),
        ("replay", "re-produce selected dead letters byte for byte to their topic; removed once acknowledged"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--topic", action="append", help="a topic (or session, auth, activity); repeatable")
        action.add_argument("--days", type=int, default=7, help="the last DAYS UTC days, today included (default 7)")
        action.add_argument("--day", help="one UTC day, e.g. 2026-12-04 (instead of --days)")
        action.add_argument("--reason", help="only dead letters whose reason contains this text (any case)")
        action.set_defaults(ids=None, dry_run=False, yes=False, keep=False)
    replay = actions.choices["replay"]
    replay.add_argument("--id", dest="ids", action="append", help="only this TOPIC:PARTITION:OFFSET; repeatable")
    replay.add_argument("--dry-run", action="store_true", help="list what would be sent; send nothing")
    replay.add_argument("--yes", action="store_true", help="no confirmation prompt (needed when not on a terminal)")
    replay.add_argument("--keep", action="store_true", help="keep the dead letters after replaying them")


def show_status(local, as_json: bool, watch_s: float | None) -> None:
    import time

    from local.pipeline_status import format_status, pipeline_status

    while True:
        status = pipeline_status(local)
        text = json.dumps(status, indent=2) if as_json else format_status(status)
        if watch_s is None:
            print(text)
            return
        # Clear the screen and redraw, like `watch`; Ctrl-C ends it.
        print(f"\033[H\033[J{time.strftime('%H:%M:%S')}  every {watch_s:g} s, Ctrl-C to stop\n{text}", flush=True)
        try:
            time.sleep(watch_s)
        except KeyboardInterrupt:
            return


CLUSTER_TESTS = "tests/cluster"
# The host tools that also talk to the Compose stack, through its published ports.
COMPOSE_COMMANDS = ("produce", "doctor", "reconcile", "dead-letters")


def targets_cluster_tests(pytest_args: list[str]) -> bool:
    paths = [a for a in pytest_args if not a.startswith("-")]
    return any(Path(a.split("::")[0]).resolve().is_relative_to(ROOT / CLUSTER_TESTS) for a in paths)


def run_tests(pytest_args: list[str]) -> int:
    """With no arguments, the whole suite in two stages: pytest on single-node local mode (everything but
    tests/cluster/), then the cluster stage in a pytest process started with PIPELINE_CLUSTER=1 (a process reads
    `.env.cluster` only if it starts so), which starts and stops its own cluster. Arguments run one stage:
    the cluster stage if they name tests/cluster, the single-node one otherwise."""
    pytest = [sys.executable, "-m", "pytest"]
    cluster_env = {**os.environ, "PIPELINE_CLUSTER": "1"}
    if targets_cluster_tests(pytest_args):
        return subprocess.run([*pytest, *pytest_args], cwd=ROOT, env=cluster_env).returncode
    if pytest_args:
        return subprocess.run([*pytest, *pytest_args], cwd=ROOT).returncode
    from config.settings import load_settings
    from local import compose_cli
    from local.platform import Platform

    # The Compose checks need Compose built from source (~90 s of CPU): built meanwhile at the lowest priority.
    local_dir = load_settings().local_dir
    prebuild = compose_cli.prebuild_in_background(local_dir, local_dir / "logs" / "compose-prebuild.log")
    try:
        single = subprocess.run([*pytest, *pytest_args], cwd=ROOT).returncode
    finally:
        if prebuild is not None and prebuild.poll() is None:  # the suite stopped before it needed Compose
            os.killpg(prebuild.pid, signal.SIGKILL)
    if Platform.load().supervisor.running():
        # The single-node stage used (and left) the local mode the user had up; the cluster needs its ports.
        print(
            "\ncluster stage NOT run: single-node local mode was up before the tests and is left running. "
            "To run it: `python3 main.py down`, then `python3 main.py test tests/cluster`.",
            file=sys.stderr,
        )
        return single
    print(f"\ncluster stage: {CLUSTER_TESTS} in cluster mode (single-node stage exit code {single})", flush=True)
    cluster = subprocess.run([*pytest, str(CLUSTER_TESTS)], cwd=ROOT, env=cluster_env).returncode
    return single or cluster


INSECURE_WARNING = (
    "WARNING: security is OFF (--insecure): Kafka accepts any client in PLAINTEXT, Cassandra any login. For\n"
    "         measuring its cost and for debugging only; `down`, then `up` without --insecure, secures it again."
)


def select_security_mode(args: argparse.Namespace) -> None:
    """Secured (the default) or `--insecure`, decided before any settings are read, like cluster mode: `up`
    does what it is told, and every other command follows what runs. The first `up` (and the tests) generate
    the passwords into `.local/secrets.env`."""
    from config.security import SECRETS_FILE_NAME, SECURITY_ENV
    from config.settings import insecure_mode_marker, local_dir_before_settings
    from local.errors import LocalModeError
    from local.paths import LocalPaths
    from local.secrets import ensure_secrets
    from local.supervisor import Supervisor

    marker = insecure_mode_marker()
    insecure = marker.exists()
    if args.command == "up":
        wanted = args.insecure or os.environ.get(SECURITY_ENV, "").lower() == "off"
        if insecure != wanted and Supervisor(LocalPaths(marker.parent.parent)).running():
            now, other = ("insecure", "secured") if insecure else ("secured", "insecure")
            raise LocalModeError(f"local mode runs {now}; stop it first (`python3 main.py down`) to start it {other}.")
        insecure = wanted
    if args.command in ("up", "test", "secrets"):
        generated = ensure_secrets(local_dir_before_settings() / SECRETS_FILE_NAME)
        if generated:
            print(f"generated {len(generated)} passwords into .local/{SECRETS_FILE_NAME} (mode 0600)", flush=True)
    if insecure:
        os.environ[SECURITY_ENV] = "off"
        if args.command in ("up", "status"):
            print(INSECURE_WARNING, file=sys.stderr, flush=True)


def show_secrets(name: str | None) -> int:
    """`main.py secrets`: the names (never the values) in the secrets file; `--show NAME` prints one value."""
    from config.security import SECRETS_FILE_NAME, password_variables
    from config.settings import local_dir_before_settings
    from local.secrets import read_secrets

    path = local_dir_before_settings() / SECRETS_FILE_NAME
    values = read_secrets(path)
    if name:
        if name not in password_variables():
            print(f"error: {name} is not one of {', '.join(password_variables())}", file=sys.stderr)
            return 1
        print(os.environ.get(name) or values[name])
        return 0
    print(f"{path} (mode {path.stat().st_mode & 0o777:o}):")
    for variable in password_variables():
        source = "environment" if os.environ.get(variable) else "file"
        print(f"  {variable} ({source})")
    return 0


def select_cluster_mode(args: argparse.Namespace) -> None:
    """Cluster or single-node, decided before any settings are read (`.env.cluster` must load before `.env`):
    `up` does what it is told, and refuses to start one mode over the other; every other command follows
    the mode that runs."""
    from config.settings import CLUSTER_ENV, cluster_mode_marker
    from local.errors import LocalModeError
    from local.paths import LocalPaths
    from local.supervisor import Supervisor

    marker = cluster_mode_marker()
    running = marker.exists()
    if args.command == "up":
        if running != args.cluster and Supervisor(LocalPaths(marker.parent.parent)).running():
            now, other = ("cluster", "single-node") if running else ("single-node", "cluster")
            raise LocalModeError(
                f"local mode runs in {now} mode; stop it first (`python3 main.py down`) to start {other} mode."
            )
        running = args.cluster
    elif args.command == "test" and running and not targets_cluster_tests(args.pytest_args):
        raise LocalModeError(
            "cluster mode is running and the tests start their own local mode: `python3 main.py down` first."
        )
    os.environ[CLUSTER_ENV] = "1" if running else "0"


EXPECTED_FAILURES = (
    ("local.errors", "LocalModeError"),
    ("ops.errors", "OperatorError"),
    ("ops.wire", "KafkaUnreachable"),
    ("database.cassandra_connection", "CassandraUnavailable"),
    ("kafka.schema_registry", "RegistryUnavailable"),
    ("kafka.access", "KafkaAccessError"),
    ("config.security", "CredentialMissing"),
    ("config.settings", "SettingsError"),
)


def expected_failures() -> tuple[type[Exception], ...]:
    """Failures with a one-line message saying what and what to do: printed as `error: ...`, exit 1. The
    producer's image carries only part of the project: what it lacks cannot be raised there."""
    import importlib

    found = []
    for module, name in EXPECTED_FAILURES:
        try:
            found.append(getattr(importlib.import_module(module), name))
        except ImportError:
            continue
    return tuple(found)


def serve_dashboard(probe_services: bool) -> None:
    """`main.py dashboard`: local mode's services from supervisord; Compose's (`--probe-services`) from probes,
    where no .env or supervisord is in the container."""
    import logging

    from config.settings import load_settings
    from dashboard.app import serve
    from dashboard.collector import compose_collector, local_collector
    from local.errors import LocalModeError
    from local.platform import Platform
    from local.ports import holder, port_free

    settings = load_settings()
    if not port_free(settings.dashboard_port, settings.dashboard_host):
        raise LocalModeError(
            f"port {settings.dashboard_host}:{settings.dashboard_port} (dashboard) is already in use by "
            f"{holder(settings.dashboard_port)}: stop that process, or set DASHBOARD_PORT in .env."
        )
    collector = compose_collector(settings) if probe_services else local_collector(Platform.load())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "httpx2"):  # the registry client logs every request at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)
    print(f"dashboard on {settings.dashboard_url} (metrics at /metrics)", flush=True)
    serve(collector, settings.dashboard_host, settings.dashboard_port)


def run(args: argparse.Namespace) -> int:
    # Imported here: these need the virtualenv's packages.
    from local import platform
    from local.errors import LocalModeError
    from local.services import service_names

    # The one switch between the deployments' registry URLs (config/settings.py); never inherited by accident.
    os.environ["PIPELINE_TARGET"] = "compose" if args.compose else "local"
    try:
        select_cluster_mode(args)
        select_security_mode(args)
        if args.command == "test":
            return run_tests(args.pytest_args)
        if args.command == "produce":
            from kafka import kafka_producer

            return kafka_producer.main(args.produce_args)
        if args.command == "bench":
            from bench.cli import run_bench

            if args.what == "soak":
                from bench.cli import run_soak

                return run_soak(args.minutes, args.rate if "--rate" in sys.argv else None)
            return run_bench(args.what, args.events, args.rate, args.duration, args.quick)
        if args.command == "chaos":
            from ops import chaos

            if os.environ.get("PIPELINE_CLUSTER") == "1":
                raise LocalModeError("`chaos` runs against single-node local mode; `python3 main.py down` first")

            targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
            unknown = [t for t in targets if t not in chaos.TARGETS]
            if unknown:
                choices = ", ".join(chaos.TARGETS)
                raise LocalModeError(f"unknown chaos target {', '.join(unknown)}: choose from {choices}")
            return chaos.main(args.rounds, args.rate, targets, args.down, args.recover_timeout)
        if args.command == "secrets":
            return show_secrets(args.show)
        if args.command == "lock":
            from ops import lockfiles

            return lockfiles.main()
        if args.command == "reconcile":
            from config.settings import load_settings
            from ops import reconcile

            progress = sys.stderr.isatty() and not args.json
            return reconcile.main(load_settings(), args.topic, args.since, args.sample, progress, args.json)
        if args.command == "doctor":
            from config.settings import load_settings
            from config.versions import load_versions
            from ops import doctor

            local = None if args.compose else platform.Platform.load()
            return doctor.main(
                load_settings(), load_versions(), args.compose, not args.no_canary, args.canary_timeout, local
            )
        if args.command == "dead-letters":
            from config.settings import load_settings
            from ops import dead_letter_tools

            return dead_letter_tools.main(load_settings(), args)
        if args.command == "dashboard":
            serve_dashboard(args.probe_services)
            return 0
        if args.command == "setup":
            from pipeline_setup import setup

            return setup()
        local = platform.Platform.load()
        if args.command == "up":
            mode = "cluster mode" if args.cluster else "local mode"
            print(f"starting {mode} (Ctrl-C aborts; `python main.py down` stops it):", flush=True)
            if args.cluster:
                platform.up_cluster(local, pipeline=not args.infra_only, producer=not args.no_producer)
            else:
                platform.up(local, pipeline=not args.infra_only, producer=not args.no_producer)
            print("all services ready.")
        elif args.command == "status":
            show_status(local, args.json, args.watch)
        elif args.command == "stream":
            os.execv(*platform.stream_command(local))
        elif args.command == "logs":
            names = service_names(local.settings)
            if args.service not in names:
                raise LocalModeError(f"unknown service {args.service!r}: choose one of {', '.join(names)}")
            log = local.paths.log_file(args.service)
            if not log.exists():
                raise LocalModeError(f"{args.service} has no log yet ({log}): has it been started?")
            os.execvp("tail", ["tail", "-n", str(args.lines), *(["-F"] if args.follow else []), str(log)])
        elif args.command == "down":
            stopped = platform.down(local)
            print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running.")
    except expected_failures() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; services already started keep running (`python main.py down` stops them).", file=sys.stderr)
        return 130
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    reexec_in_venv(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
