"""The generators against the contract: schema validity, determinism, and the domain's invariants."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict

import fastavro
import pytest

from kafka.contract import ACTIVITY, AUTH, SESSION, STREAMS
from kafka.logs_generators import (
    DEVICE_PROFILES,
    FAILURE_EVENTS,
    FAILURE_SPAN_MS,
    NORMAL_FAILURES_PER_SPAN,
    LogGenerator,
)

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def generate(seed: int, per_type: int) -> dict[str, list[dict]]:
    """At least `per_type` events of every type, from consecutive sessions one second apart."""
    generator = LogGenerator(seed=seed)
    out: dict[str, list[dict]] = defaultdict(list)
    i = 0
    while min(len(out[s.name]) for s in STREAMS) < per_type:
        for event in generator.session(START_MS + i * 1000):
            out[event.stream.name].append(event.value)
        i += 1
    return out


@pytest.fixture(scope="module")
def events() -> dict[str, list[dict]]:
    """10k+ events of each type from one seed."""
    return generate(seed=1234, per_type=10_000)


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.name)
def test_every_event_validates_against_its_schema(events, stream) -> None:
    parsed = fastavro.parse_schema(stream.schema)
    records = events[stream.name]
    assert len(records) >= 10_000
    for record in records:
        fastavro.validation.validate(record, parsed, raise_errors=True)


def test_same_seed_same_events_other_seed_other_events() -> None:
    assert generate(seed=7, per_type=200) == generate(seed=7, per_type=200)
    assert generate(seed=7, per_type=200)[SESSION.name] != generate(seed=8, per_type=200)[SESSION.name]


def test_event_ids_are_unique_uuids(events) -> None:
    ids = [e["event_id"] for s in STREAMS for e in events[s.name]]
    assert len(ids) == len(set(ids))
    assert all(uuid.UUID(i).version == 4 for i in ids[:1000])


def test_sessions_end_after_they_begin(events) -> None:
    for s in events[SESSION.name]:
        assert s["logout_time"] >= s["login_time"]
        assert s["duration_seconds"] == pytest.approx((s["logout_time"] - s["login_time"]) / 1000)


def test_activities_fall_inside_their_session(events) -> None:
    windows = {s["session_id"]: (s["login_time"], s["logout_time"], s["user_id"]) for s in events[SESSION.name]}
    for activity in events[ACTIVITY.name]:
        if activity["session_id"] not in windows:  # the last session may be cut off by the per-type count
            continue
        login, logout, user = windows[activity["session_id"]]
        assert login <= activity["timestamp"] <= logout
        assert activity["user_id"] == user


def test_failure_reason_is_set_exactly_on_failures(events) -> None:
    for auth in events[AUTH.name]:
        assert (auth["failure_reason"] is not None) == (auth["event_type"] in FAILURE_EVENTS), auth


def test_failed_logins_carry_no_session(events) -> None:
    for auth in events[AUTH.name]:
        if auth["event_type"] in ("login_failure", "account_locked"):
            assert auth["session_id"] is None
        elif auth["event_type"] in ("login_success", "logout"):
            assert auth["session_id"] is not None


def test_distributions_are_plausible(events) -> None:
    outcomes = Counter(a["event_type"] for a in events[AUTH.name])
    assert outcomes["login_success"] > outcomes["login_failure"] > 0
    assert outcomes["account_locked"] == 0, "normal traffic locks no account (attacks do: kafka/attacks.py)"
    kinds = Counter(a["event_type"] for a in events[ACTIVITY.name])
    assert kinds.most_common(1)[0][0] == "page_view" and kinds["purchase"] > 0
    ips = [s["ip_address"] for s in events[SESSION.name]]
    assert any(":" in ip for ip in ips) and any("." in ip for ip in ips), "both IPv6 and IPv4"


def test_device_os_browser_combinations_exist(events) -> None:
    known = {(d, o, b) for d, o, b, _ in DEVICE_PROFILES}
    for s in events[SESSION.name]:
        assert (s["device"], s["os"], s["browser"]) in known


def test_session_events_share_user_and_session(events) -> None:
    generator = LogGenerator(seed=99)
    for i in range(200):
        batch = generator.session(START_MS + i)
        users = {e.value["user_id"] for e in batch}
        keys = {e.key for e in batch}
        assert users == keys and len(users) == 1
        sessions = {e.value["session_id"] for e in batch if e.value["session_id"]}
        assert len(sessions) <= 1
        times = [e.value.get("timestamp", e.value.get("login_time")) for e in batch[:-1]]
        assert times == sorted(times)


END_MS = 1_767_225_600_000


def test_no_user_fails_more_than_the_normal_budget_within_any_span() -> None:
    """Normal traffic stays below the failed-login alert thresholds: few users, many sessions, busy users."""
    generator = LogGenerator(seed=5, users=20)
    failures: dict[str, list[int]] = {}
    for i in range(3_000):
        for event in generator.session(END_MS + i * 200):
            if event.value.get("event_type") == "login_failure":
                failures.setdefault(event.key, []).append(event.value["timestamp"])
    assert sum(map(len, failures.values())) > 100
    for times in failures.values():
        times.sort()
        for i, start in enumerate(times):
            within = [t for t in times[i:] if t < start + FAILURE_SPAN_MS]
            assert len(within) <= NORMAL_FAILURES_PER_SPAN
