"""Failed-login alerts on the real pipeline: the job's fourth query (spark/auth_alerts.py) against Kafka,
the registry, Spark and Cassandra of local mode.

Each test owns its subjects (fresh user names and addresses) and compares the `auth_alerts` rows of those
subjects with what an independent Python reading of the same rules expects from the events it produced:
the same windows, counts, first and last failures, distinct sources and lockouts; nothing more."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from config.settings import AuthAlertRules
from kafka.contract import AUTH
from kafka.kafka_producer import LogProducer
from kafka.logs_generators import Event
from kafka.offsets import processed_offsets, topic_end_offsets
from local.pipeline_status import read_job_report
from tests.e2e.helpers import wait_for

SUBJECT_COLUMNS = "window_start, subject_type, subject, reason, failures, first_failure, last_failure, " + (
    "distinct_ips, distinct_users, lockouts"
)


def job_report(platform) -> dict:
    """The job's report ({} until the job has written its first)."""
    return read_job_report(platform.settings.job_status_file) or {}


def alerts_status(platform) -> dict:
    return job_report(platform).get("auth_alerts") or {}


def starting_offsets(platform) -> dict[int, int] | None:
    """Where the alerts query started reading, per partition: Spark writes it to the checkpoint when it first
    resolves AUTH_ALERT_STARTING_OFFSETS (latest: the topic's end then). None until it has."""
    initial = platform.settings.spark_checkpoint_dir / f"{AUTH.topic}.alerts" / "sources" / "0" / "0"
    if not initial.exists():
        return None
    lines = initial.read_text().splitlines()
    return {int(p): o for p, o in json.loads(lines[-1]).get(AUTH.topic, {}).items()} if len(lines) > 1 else None


def caught_up(platform) -> bool:
    """The alerts query has taken in every record now in the auth topic (past where it started reading)."""
    settings = platform.settings
    start = starting_offsets(platform)
    ends = (topic_end_offsets(settings.kafka_client("admin"), [AUTH.topic]) or {}).get(AUTH.topic)
    if start is None or not ends:
        return False
    done = processed_offsets(alerts_status(platform).get("last_progress"), AUTH.topic) or {}
    return all(done.get(p, start.get(p, 0)) >= o for p, o in ends.items())


@pytest.fixture
def alerts_job(pipeline):
    """The pipeline with its alerts query running and caught up. The first time it runs, it starts at the
    topic's end: nothing is produced here before it has resolved that end (records after it are its own)."""
    wait_for(lambda: alerts_status(pipeline).get("state") == "running", 120, "the auth-alerts query to run")
    wait_for(lambda: caught_up(pipeline), 180, "the auth-alerts query to catch up")
    return pipeline


def attempt(user: str, ip: str, at_ms: int, event_type: str = "login_failure") -> Event:
    value = {
        "event_id": str(uuid.uuid4()),
        "user_id": user,
        "session_id": None,
        "timestamp": at_ms,
        "ip_address": ip,
        "device": "desktop",
        "event_type": event_type,
        "failure_reason": "too_many_attempts" if event_type == "account_locked" else "invalid_password",
    }
    return Event(AUTH, user, value)


def produce(settings, events: list[Event]) -> None:
    tally = LogProducer(settings).run(events, rate=0, progress=False)
    assert tally.all_delivered, tally


def naive(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).replace(tzinfo=None, microsecond=(ms % 1000) * 1000)


def expected_alerts(events: list[Event], rules: AuthAlertRules) -> set[tuple]:
    """The rules read independently: every slide-aligned window holding a subject's events, and its alert."""
    window_ms, slide_ms = rules.window_s * 1000, rules.slide_s * 1000
    by_subject: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for event in events:
        v = event.value
        by_subject[("user", v["user_id"])].append(v)
        if v["event_type"] == "login_failure":
            by_subject[("ip", v["ip_address"])].append(v)
    alerts = set()
    for (kind, subject), values in by_subject.items():
        starts = {t // slide_ms * slide_ms - k * slide_ms for t in (v["timestamp"] for v in values)
                  for k in range(window_ms // slide_ms)}  # fmt: skip
        for start in starts:
            inside = [v for v in values if start <= v["timestamp"] < start + window_ms]
            failures = [v for v in inside if v["event_type"] == "login_failure"]
            locks = [v["timestamp"] for v in inside if v["event_type"] == "account_locked"]
            crossed = len(failures) >= (rules.user_threshold if kind == "user" else rules.ip_threshold)
            first = min((v["timestamp"] for v in failures), default=None)
            locked = kind == "user" and bool(locks) and first is not None and max(locks) >= first
            if not (crossed or locked):
                continue
            reason = "failures+lockout" if crossed and locked else "failures" if crossed else "lockout"
            others = {v["ip_address"] if kind == "user" else v["user_id"] for v in failures}
            alerts.add((
                naive(start), kind, subject, reason, len(failures), naive(first),
                naive(max(v["timestamp"] for v in failures)),
                len(others) if kind == "user" else None, len(others) if kind == "ip" else None, len(locks),
            ))  # fmt: skip
    return alerts


def stored_alerts(cassandra, subjects: set[str]) -> set[tuple]:
    query = cassandra.prepare(f"SELECT {SUBJECT_COLUMNS} FROM user_logs.auth_alerts WHERE subject = ?")
    return {tuple(row) for subject in subjects for row in cassandra.session.execute(query, (subject,))}


def assert_alerts_exactly(cassandra, events: list[Event], rules: AuthAlertRules, timeout_s: float = 120) -> set:
    """Waits (bounded) for the expected rows, then checks nothing else is there for these subjects."""
    expected = expected_alerts(events, rules)
    subjects = {e.value["user_id"] for e in events} | {e.value["ip_address"] for e in events}
    found: set = set()

    def landed() -> bool:
        found.clear()
        found.update(stored_alerts(cassandra, subjects))
        return expected <= found

    try:
        wait_for(landed, timeout_s, f"{len(expected)} alert rows")
    finally:
        missing, extra = sorted(expected - found), sorted(found - expected)
        print(f"expected {len(expected)}, found {len(found)}; missing {missing[:3]}, extra {extra[:3]}")
    assert found == expected
    return expected


def address(run: str, n: int) -> str:
    """A source address of this run only (documentation range 2001:db8::/32), so runs never share windows."""
    return f"2001:db8:{run[:4]}:{run[4:8]}::{n:x}"


def now_ms() -> int:
    return int(time.time() * 1000)


def test_an_attack_raises_exactly_the_expected_alerts_and_the_near_misses_none(alerts_job, cassandra) -> None:
    rules, run = alerts_job.settings.auth_alerts, uuid.uuid4().hex[:8]
    start = now_ms()
    victim, spray_ip = f"victim_{run}", address(run, 100)
    events = [attempt(victim, address(run, i % 3), start + 1_500 * i) for i in range(rules.user_threshold + 2)]
    events.append(attempt(victim, address(run, 1), start + 1_500 * (rules.user_threshold + 2), "account_locked"))
    events += [attempt(f"sprayed_{run}_{i}", spray_ip, start + 700 * i) for i in range(rules.ip_threshold + 1)]
    # Near misses: one failure short of each threshold, and a lockout that comes before the failures.
    events += [attempt(f"near_{run}", address(run, 11), start + 900 * i) for i in range(rules.user_threshold - 1)]
    near_ip = address(run, 101)
    events += [attempt(f"near_ip_{run}_{i}", near_ip, start + 500 * i) for i in range(rules.ip_threshold - 1)]
    events.append(attempt(f"early_lock_{run}", address(run, 22), start, "account_locked"))
    events.append(attempt(f"early_lock_{run}", address(run, 22), start + 2_000))
    produce(alerts_job.settings, events)
    expected = assert_alerts_exactly(cassandra, events, rules)
    kinds = {(kind, subject, reason) for _, kind, subject, reason, *_ in expected}
    # A window that starts inside the attack holds its lockout and only its later failures: "lockout" alone.
    assert {("user", victim, "failures+lockout"), ("ip", spray_ip, "failures")} <= kinds
    assert {subject for _, subject, _ in kinds} == {victim, spray_ip}


def test_late_events_within_the_watermark_count_and_later_ones_are_dropped_and_counted(alerts_job, cassandra) -> None:
    rules, run = alerts_job.settings.auth_alerts, uuid.uuid4().hex[:8]
    pace = now_ms()
    produce(alerts_job.settings, [attempt(f"pace_{run}", address(run, 33), pace)])
    watermark_ms = pace - rules.watermark_s * 1000

    def watermark_reached() -> bool:
        mark = alerts_status(alerts_job).get("watermark")
        return bool(mark) and dt.datetime.fromisoformat(mark.replace("Z", "+00:00")).timestamp() * 1000 >= watermark_ms

    wait_for(watermark_reached, 60, "the watermark to follow the pace event")
    status = alerts_status(alerts_job)
    dropped_before, mark = status["late_dropped"], status["watermark"]
    watermark_ms = int(dt.datetime.fromisoformat(mark.replace("Z", "+00:00")).timestamp() * 1000)
    # Within the watermark: half a minute after it (behind the newest event); beyond it: ten minutes before it.
    n = rules.user_threshold
    in_time = [attempt(f"late_ok_{run}", address(run, 44), watermark_ms + 30_000 + i) for i in range(n)]
    too_late = [attempt(f"too_late_{run}", address(run, 55), watermark_ms - 600_000 + i) for i in range(n)]
    produce(alerts_job.settings, in_time + too_late)
    assert_alerts_exactly(cassandra, in_time, rules)
    wait_for(lambda: caught_up(alerts_job), 60, "the alerts query to take in the late events")
    wait_for(lambda: alerts_status(alerts_job)["late_dropped"] >= dropped_before + len(too_late), 30, "the count")
    assert alerts_status(alerts_job)["late_dropped"] == dropped_before + len(too_late)
    assert stored_alerts(cassandra, {f"too_late_{run}", address(run, 55)}) == set()


def test_a_driver_killed_mid_window_keeps_its_count_exact(alerts_job, cassandra) -> None:
    rules, run = alerts_job.settings.auth_alerts, uuid.uuid4().hex[:8]
    start, victim = now_ms(), f"mid_window_{run}"
    half = rules.user_threshold // 2 + 1
    first = [attempt(victim, address(run, 66), start + 1_000 * i) for i in range(half)]
    produce(alerts_job.settings, first)
    wait_for(lambda: caught_up(alerts_job), 60, "the first failures in the window state")
    assert stored_alerts(cassandra, {victim}) == set(), "below the threshold: no alert yet"
    supervisor = alerts_job.supervisor
    pid = supervisor.info("stream")["pid"]
    assert pid > 0, "the job is not running"
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: supervisor.info("stream")["statename"] == "RUNNING" and supervisor.info("stream")["pid"] != pid,
        60,
        "the job to be restarted",
    )
    rest = [attempt(victim, address(run, 67), start + 1_000 * (half + i)) for i in range(rules.user_threshold - half)]
    produce(alerts_job.settings, rest)
    # Only state carried across the kill reaches the threshold: the restarted query saw just `rest` itself.
    expected = assert_alerts_exactly(cassandra, first + rest, rules, timeout_s=240)
    assert {row[4] for row in expected} == {rules.user_threshold}


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"AUTH_ALERT_SLIDE_S": "70"}, "AUTH_ALERT_SLIDE_S=70 must divide AUTH_ALERT_WINDOW_S=300"),
        ({"CASSANDRA_KEYSPACE": "no_such_keyspace"}, "auth_alerts missing in keyspace no_such_keyspace: run"),
    ],
)
def test_a_misconfigured_rule_or_a_missing_table_stops_the_job_at_start_with_one_line(
    pipeline, tmp_path, env: dict, says: str
) -> None:
    job = Path(__file__).resolve().parents[2] / "spark" / "spark_streaming.py"
    done = subprocess.run(
        [sys.executable, str(job)],
        env={**os.environ, "SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints"), **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert says in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
