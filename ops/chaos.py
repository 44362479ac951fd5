"""`python3 main.py chaos`: kill -9 every part of the running pipeline in turn under a steady produce, bring
each back the way an operator would (`up`), and prove with an independent reconciliation that nothing was
lost or doubled.

Per round, in order: the driver, an executor, the Spark worker, the Kafka broker, the registry, Cassandra and
the producer. After each kill it waits `down_s`, restarts what died (`up`; a new producer process for the
producer) and waits, bounded, until the job is healthy and has caught up. One line per kill: what, time to
recover, the lag's peak. Then it stops producing, waits for the job to drain, reads the three topics with
its own consumer and compares them with the tables by event id (ops/selection_reconcile.py), and checks that every
record the producer logged as acknowledged is in Kafka with its event id. Exit 0 only if nothing is missing,
doubled or extra, every acknowledged record is there, and every kill recovered within its bound.

The chaos producer's users are named `chaos_<run id>_*`, so the reconciliation looks at this run's events
only, whatever else flows through the pipeline meanwhile. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.measured import default_rate
from config.settings import PROJECT_ROOT
from kafka.kafka_producer import acked_records
from kafka.offsets import topic_end_offsets
from local import platform as local_platform
from local.errors import LocalModeError
from local.pipeline_status import read_job_report, total_lag
from ops.selection_reconcile import Reconciliation, format_reconciliation, reconcile

TARGETS = ("driver", "executor", "worker", "broker", "registry", "cassandra", "producer")
SAMPLE_EVERY_S = 1.0
DRAIN_TIMEOUT_S = 300


class ChaosError(RuntimeError):
    """The run cannot go on (a service that does not come back, nothing to kill): say which and why."""


class ChaosProducer:
    """`main.py produce` as a process of its own (so it can be killed), logging every acknowledged record."""

    def __init__(self, folder: Path, prefix: str, rate: float) -> None:
        self.folder, self.prefix, self.rate = folder, prefix, rate
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def ack_logs(self) -> list[Path]:
        return sorted(self.folder.glob("acked-*.tsv"))

    def start(self) -> None:
        self.starts += 1
        seed = uuid.uuid4().int % 2**31  # a fresh seed per start: new event ids, same users
        command = [
            sys.executable, str(PROJECT_ROOT / "main.py"), "produce", "--rate", str(self.rate), "--seed", str(seed),
            "--user-prefix", self.prefix, "--ack-log", str(self.folder / f"acked-{self.starts}.tsv"), "--no-progress",
        ]  # fmt: skip
        with (self.folder / f"producer-{self.starts}.log").open("w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
        time.sleep(3)  # registration and the first deliveries
        if self.process.poll() is not None:
            raise ChaosError(f"the producer exited at once (see {self.folder / f'producer-{self.starts}.log'})")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> int:
        pid = self.process.pid
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        return pid

    def stop(self, timeout_s: float = 180) -> None:
        """SIGTERM: it stops generating, flushes, reports."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise ChaosError(f"the producer did not flush within {timeout_s:.0f} s") from None


@dataclass
class KillResult:
    round: int
    target: str
    pid: int
    recovered_s: float | None  # None: not within the bound
    lag_peak: int


@dataclass
class ChaosReport:
    kills: list[KillResult] = field(default_factory=list)
    reconciliation: Reconciliation | None = None
    acked: int = 0
    acked_missing: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            all(k.recovered_s is not None for k in self.kills)
            and self.reconciliation is not None
            and self.reconciliation.clean
            and not self.acked_missing
        )


def _pid_of(platform: local_platform.Platform, service: str) -> int:
    info = platform.supervisor.info(service)
    if info["statename"] != "RUNNING" or not info["pid"]:
        raise ChaosError(f"{service} is not running (state {info['statename']}): nothing to kill")
    return info["pid"]


def _executor_pid(platform: local_platform.Platform) -> int:
    work = platform.paths.data / "spark" / "work"
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        cmdline, cwd = proc.info["cmdline"] or [], proc.info["cwd"] or ""
        if any("CoarseGrainedExecutorBackend" in part for part in cmdline) and Path(cwd).is_relative_to(work):
            return proc.pid
    raise ChaosError("no Spark executor of the job is running: nothing to kill")


def killer(platform: local_platform.Platform, producer: ChaosProducer, target: str) -> Callable[[], int]:
    """The kill -9 of one target; returns the pid it killed."""
    if target == "producer":
        return producer.kill
    if target == "executor":
        pid_of = lambda: _executor_pid(platform)  # noqa: E731
    else:
        service = {"driver": "stream", "worker": "spark-worker", "broker": "kafka"}.get(target, target)
        pid_of = lambda: _pid_of(platform, service)  # noqa: E731

    def kill() -> int:
        pid = pid_of()
        os.kill(pid, signal.SIGKILL)
        return pid

    return kill


class LagWatch:
    """The job's total lag, sampled; its peak since the last reset."""

    def __init__(self, platform: local_platform.Platform) -> None:
        self.platform = platform
        self.peak = 0

    def sample(self) -> int | None:
        lag = total_lag(self.platform.settings)
        if lag is not None:
            self.peak = max(self.peak, lag[0])
        return None if lag is None else lag[0]

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sample()
            time.sleep(SAMPLE_EVERY_S)


def recovered(platform: local_platform.Platform, lag: int | None, small: int) -> bool:
    report = read_job_report(platform.paths.run / "stream-status.json") or {}
    fresh = time.time() - report.get("updated_at", 0) < 10
    return fresh and report.get("health") == "healthy" and lag is not None and lag <= small


def bring_back(platform: local_platform.Platform, producer: ChaosProducer, target: str) -> None:
    try:
        local_platform.up(platform, pipeline=True, producer=False)
    except LocalModeError as exc:
        raise ChaosError(f"could not restart the pipeline after killing the {target}: {exc}") from None
    if not producer.running():
        producer.start()


def kill_and_recover(
    platform: local_platform.Platform, producer: ChaosProducer, round_no: int, target: str, down_s: float,
    recover_timeout_s: float, small_lag: int,
) -> KillResult:  # fmt: skip
    watch = LagWatch(platform)
    watch.sample()
    pid = killer(platform, producer, target)()
    killed_at = time.monotonic()
    watch.wait(down_s)
    bring_back(platform, producer, target)
    deadline = killed_at + recover_timeout_s
    while not recovered(platform, watch.sample(), small_lag):
        if time.monotonic() > deadline:
            return KillResult(round_no, target, pid, None, watch.peak)
        time.sleep(SAMPLE_EVERY_S)
    return KillResult(round_no, target, pid, time.monotonic() - killed_at, watch.peak)


def format_kill(k: KillResult, rounds: int, recover_timeout_s: float) -> str:
    back = f"recovered in {k.recovered_s:5.1f} s" if k.recovered_s is not None else (
        f"NOT recovered within {recover_timeout_s:.0f} s (stall)"
    )  # fmt: skip
    return f"round {k.round}/{rounds}  kill -9 {k.target:<9} pid {k.pid:<7}  {back}  lag peak {k.lag_peak:>8,}"


def check_acked(producer: ChaosProducer, result: Reconciliation) -> tuple[int, list[str]]:
    """Every record the producer logged as acknowledged is in Kafka where it was acknowledged, with its id."""
    acked, missing = 0, []
    for path in producer.ack_logs:
        for topic, partition, offset, event_id in acked_records(path):
            acked += 1
            if result.positions.get((topic, partition, offset)) != event_id:
                missing.append(f"{topic}/{partition}@{offset} ({event_id})")
    return acked, missing


def drain(platform: local_platform.Platform, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while (lag := total_lag(platform.settings)) is None or lag[0] > 0:
        if time.monotonic() > deadline:
            raise ChaosError(f"the job did not catch up within {timeout_s:.0f} s after producing stopped (lag {lag})")
        time.sleep(SAMPLE_EVERY_S)


def run(
    rounds: int, rate: float, targets: tuple[str, ...], down_s: float, recover_timeout_s: float,
    say: Callable[[str], None] = print,
) -> ChaosReport:  # fmt: skip
    platform = local_platform.Platform.load()
    settings = platform.settings
    run_id = uuid.uuid4().hex[:8]
    folder = platform.paths.root / "chaos" / run_id
    folder.mkdir(parents=True)
    say(f"chaos run {run_id}: {rounds} round(s) of {', '.join(targets)} at {rate:,.0f} events/s; files in {folder}")
    try:
        local_platform.up(platform, pipeline=True, producer=False)
    except LocalModeError as exc:
        raise ChaosError(f"the pipeline does not start: {exc}") from None
    start = topic_end_offsets(settings.kafka_client("admin"))
    if start is None:
        raise ChaosError(f"Kafka at {settings.kafka_bootstrap_servers} does not answer")
    producer = ChaosProducer(folder, f"chaos_{run_id}", rate)
    report = ChaosReport()
    small_lag = max(int(rate * 3), 300)  # caught up: at most ~3 s of input behind
    producer.start()
    try:
        for round_no in range(1, rounds + 1):
            for target in targets:
                kill = kill_and_recover(platform, producer, round_no, target, down_s, recover_timeout_s, small_lag)
                report.kills.append(kill)
                say(format_kill(kill, rounds, recover_timeout_s))
                if kill.recovered_s is None:
                    raise ChaosError(f"the pipeline did not recover from the kill of the {target}")
        producer.stop()
        say("producing stopped; waiting for the job to catch up ...")
        drain(platform)
    finally:
        if producer.running():
            producer.process.kill()
    end = topic_end_offsets(settings.kafka_client("admin"))
    say("reconciling the topics with the tables by event id ...")
    prefix = f"chaos_{run_id}_"
    report.reconciliation = reconcile(settings, start, end, select=lambda v: str(v["user_id"]).startswith(prefix))
    report.acked, report.acked_missing = check_acked(producer, report.reconciliation)
    return report


def format_verdict(report: ChaosReport) -> str:
    lines = [format_reconciliation(report.reconciliation)] if report.reconciliation else []
    lines.append(f"acknowledged records in Kafka: {report.acked - len(report.acked_missing):,} of {report.acked:,}")
    lines += [f"  not in Kafka as acknowledged: {m}" for m in report.acked_missing[:5]]
    recovered_s = [k.recovered_s for k in report.kills if k.recovered_s is not None]
    if recovered_s:
        lines.append(f"recovery: {len(recovered_s)} kills, slowest {max(recovered_s):.1f} s")
    lines.append("verdict: PASS (nothing lost, nothing doubled, no stall)" if report.passed else "verdict: FAIL")
    return "\n".join(lines)


def main(rounds: int, rate: float | None, targets: tuple[str, ...], down_s: float, recover_timeout_s: float) -> int:
    if rate is None:
        rate, why = default_rate()
        print(f"rate {rate:,.0f} events/s: {why}")
    try:
        report = run(rounds, rate, targets, down_s, recover_timeout_s)
    except ChaosError as exc:
        print(f"error: {exc}; stopping local mode (`python3 main.py up` starts it again)", file=sys.stderr)
        local_platform.down(local_platform.Platform.load())
        return 1
    print(format_verdict(report))
    return 0 if report.passed else 1
