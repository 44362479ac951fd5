"""The failed-login windows and alert rules (spark/auth_alerts.py) on a local SparkSession.

Streaming-only behaviour (the watermark dropping late events, state across restarts) is tested against the
real job in tests/e2e/test_auth_alerts.py; here the same transforms run on static DataFrames."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException

from config.settings import AuthAlertRules
from kafka.contract import AUTH
from kafka.logs_generators import LogGenerator
from spark import auth_alerts
from spark.schema_resolver import SubjectSchemas
from tests.unit.spark.test_transforms import avro, kafka_rows, wire

RULES = AuthAlertRules(enabled=True, window_s=300, slide_s=60, watermark_s=120, user_threshold=5, ip_threshold=20)
AT = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
SCHEMA_ID = 3
AT_MS = int(AT.timestamp() * 1000)


def auth_event(n: int, user: str, ip: str, at: datetime, event_type: str = "login_failure") -> dict:
    return {
        "event_id": f"00000000-0000-4000-8000-{n:012d}",
        "user_id": user,
        "session_id": None,
        "timestamp": int(at.timestamp() * 1000),
        "ip_address": ip,
        "device": "desktop",
        "event_type": event_type,
        "failure_reason": "too_many_attempts" if event_type == "account_locked" else "invalid_password",
    }


class ListedResolver:
    """The registry's answer for the auth subject: one version (pure logic: no registry in unit tests)."""

    def __init__(self, ids=(SCHEMA_ID,)) -> None:
        self.ids = ids

    def for_batch(self, stream):
        text = json.dumps(AUTH.schema)
        return SubjectSchemas(text, AUTH.schema["fields"], {sid: text for sid in self.ids})


def alerts(spark, events: list[dict], extra_values=()) -> list:
    values = [wire(SCHEMA_ID, avro(AUTH.schema, e)) for e in events] + list(extra_values)
    plan = auth_alerts.AlertPlan(AUTH, ListedResolver(), RULES)
    updated = plan.build(kafka_rows(spark, values, AUTH.topic))
    return sorted(auth_alerts.alert_rows(updated, RULES).collect(), key=lambda r: (r.subject_type, r.window_start))


def test_five_failures_of_a_user_alert_in_every_window_holding_them(spark) -> None:
    failures = [auth_event(i, "victim", f"10.0.0.{i % 2}", AT + timedelta(seconds=10 * i)) for i in range(5)]
    rows = alerts(spark, failures + [failures[0]])  # the same event twice counts once
    # The five fall within 10:00:00-10:00:40: in each of the five windows starting 09:56 ... 10:00.
    assert [r.window_start for r in rows] == [datetime(2026, 12, 4, 10) - timedelta(minutes=4 - i) for i in range(5)]
    first = rows[0]
    assert (first.subject_type, first.subject, first.reason, first.failures) == ("user", "victim", "failures", 5)
    assert (first.distinct_ips, first.distinct_users, first.lockouts) == (2, None, 0)
    assert (first.first_failure, first.last_failure) == (datetime(2026, 12, 4, 10), datetime(2026, 12, 4, 10, 0, 40))
    assert first.window_end == datetime(2026, 12, 4, 10, 1) and str(first.day) == "2026-12-04"


def test_four_failures_raise_nothing_and_an_ip_needs_twenty(spark) -> None:
    four = [auth_event(i, "user_a", "10.1.1.1", AT + timedelta(seconds=i)) for i in range(4)]
    assert alerts(spark, four) == []
    spray = [auth_event(100 + i, f"user_{i:03d}", "203.0.113.9", AT + timedelta(seconds=i)) for i in range(20)]
    rows = alerts(spark, spray)
    assert {(r.subject_type, r.subject, r.failures, r.distinct_users) for r in rows} == {("ip", "203.0.113.9", 20, 20)}
    assert len(rows) == 5


def test_a_lockout_after_failures_alerts_and_one_before_them_does_not(spark) -> None:
    after = [auth_event(1, "u1", "10.0.0.1", AT), auth_event(2, "u1", "10.0.0.1", AT + timedelta(seconds=5))]
    after.append(auth_event(3, "u1", "10.0.0.1", AT + timedelta(seconds=9), "account_locked"))
    rows = alerts(spark, after)
    assert {(r.reason, r.failures, r.lockouts) for r in rows} == {("lockout", 2, 1)} and len(rows) == 5
    before = [auth_event(4, "u2", "10.0.0.2", AT, "account_locked"), auth_event(5, "u2", "10.0.0.2", AT + timedelta(1))]
    assert alerts(spark, before) == []


def test_records_that_do_not_decode_never_reach_the_windows(spark) -> None:
    failures = [auth_event(i, "victim", "10.0.0.1", AT + timedelta(seconds=i)) for i in range(4)]
    broken = [b"\x01garbage", None, wire(SCHEMA_ID, b"\xff\xff\xff")]
    assert alerts(spark, failures, broken) == []


def test_a_schema_id_outside_the_plan_fails_the_batch_naming_the_id(spark) -> None:
    value = wire(99, avro(AUTH.schema, auth_event(1, "u", "10.0.0.1", AT)))
    plan = auth_alerts.AlertPlan(AUTH, ListedResolver(), RULES)
    with pytest.raises((Py4JJavaError, PySparkException)) as failure:
        plan.build(kafka_rows(spark, [value], AUTH.topic)).collect()
    assert auth_alerts.unplanned_id(str(failure.value)) == 99


def test_an_id_the_registry_does_not_place_is_skipped_and_a_new_version_joins_the_plan(spark) -> None:
    plan = auth_alerts.AlertPlan(AUTH, ListedResolver(ids=(SCHEMA_ID, 8)), RULES)
    assert plan.absorb("... schema id 8 is not in the auth-alerts plan ...") and plan.skipped == set()
    assert plan.absorb("schema id 99 is not in the auth-alerts plan") and plan.skipped == {99}
    assert not plan.absorb("Cassandra is not answering")
    value = wire(99, avro(AUTH.schema, auth_event(1, "u", "10.0.0.1", AT)))
    assert plan.build(kafka_rows(spark, [value], AUTH.topic)).collect() == []


def test_late_drops_are_summed_once_per_batch() -> None:
    def progress(batch: int, dropped: int) -> dict:
        operators = [{"operatorName": "stateStoreSave", "numRowsDroppedByWatermark": 50}]
        operators.append({"operatorName": auth_alerts.DEDUPE_OPERATOR, "numRowsDroppedByWatermark": dropped})
        return {"batchId": batch, "stateOperators": operators}

    counter = auth_alerts.LateCounter()
    assert counter.add([progress(0, 1), progress(1, 2)]) == 3
    assert counter.add([progress(1, 2), progress(2, 4)]) == 7
    assert auth_alerts.state_size({"stateOperators": [{"numRowsTotal": 3, "memoryUsedBytes": 10}] * 2}) == {
        "state_rows": 6,
        "state_bytes": 20,
        "watermark": None,
    }


def test_ten_minutes_of_normal_traffic_at_the_default_rate_raise_no_alert(spark) -> None:
    """Seeded traffic as `produce` makes it at PRODUCER_RATE, every failed login counted (a static
    DataFrame has no watermark, so none is dropped as late: stricter than the stream)."""
    generator, rate, span_ms = LogGenerator(seed=2026), 200, 600_000
    auth, produced, at = [], 0, AT_MS
    while at < AT_MS + span_ms:
        session = generator.session(at)
        produced += len(session)
        auth += [e.value for e in session if e.stream is AUTH]
        at += int(1000 * len(session) / rate)
    failures = [v for v in auth if v["event_type"] == "login_failure"]
    assert produced > 0.9 * rate * span_ms / 1000 and len(failures) > 200
    assert alerts(spark, auth) == []
