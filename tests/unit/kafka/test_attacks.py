"""Brute-force patterns for `produce --attack` (kafka/attacks.py): pure, seeded, and paced on a fake clock."""

from __future__ import annotations

import itertools
from collections import Counter

from kafka.attacks import LOCK_EVERY, Attack, with_attack
from kafka.contract import AUTH
from kafka.logs_generators import LogGenerator


def test_a_user_attack_fails_one_victim_from_a_few_addresses_and_locks_it_every_ten() -> None:
    attack = Attack("user", LogGenerator(seed=1, users=50), seed=2)
    events = [e for n in range(25) for e in attack.next(1_000 * n)]
    failures = [e.value for e in events if e.value["event_type"] == "login_failure"]
    locks = [e.value for e in events if e.value["event_type"] == "account_locked"]
    assert len(failures) == 25 and len(locks) == 25 // LOCK_EVERY
    assert {f["user_id"] for f in failures} == {attack.victim.user_id}
    assert len({f["ip_address"] for f in failures}) == 3
    assert all(e.stream is AUTH and e.value["session_id"] is None for e in events)
    assert len({e.value["event_id"] for e in events}) == len(events)
    assert attack.describe().startswith(f"attack on user {attack.victim.user_id}")


def test_an_ip_attack_tries_many_users_from_one_address() -> None:
    attack = Attack("ip", LogGenerator(seed=1, users=500), seed=3)
    events = [e for n in range(60) for e in attack.next(n)]
    assert len(events) == 60 and {e.value["ip_address"] for e in events} == set(attack.addresses)
    reasons = Counter(e.value["failure_reason"] for e in events)
    assert len({e.value["user_id"] for e in events}) > 30 and reasons["unknown_user"] > 0


def test_the_same_seed_makes_the_same_attack() -> None:
    def ids(seed):
        attack = Attack("ip", LogGenerator(seed=1, users=50), seed=seed)
        return [e.value["event_id"] for n in range(5) for e in attack.next(n)]

    assert ids(7) == ids(7) != ids(8)


def test_attempts_come_at_the_rate_between_normal_events_up_to_the_limit() -> None:
    ticks = itertools.count()
    clock = lambda: next(ticks) * 0.1  # noqa: E731  (each look at the clock: 0.1 s later)
    normal = iter(LogGenerator(seed=1, users=50).session(0) * 40)
    attack = Attack("user", LogGenerator(seed=1, users=50), seed=2)
    mixed = list(itertools.islice(with_attack(normal, attack, rate=2.0, limit=5, clock=clock, wall_ms=lambda: 9), 60))
    attempts = [e for e in mixed if e.value.get("ip_address") in attack.addresses and e.value["timestamp"] == 9]
    assert len([e for e in attempts if e.value["event_type"] == "login_failure"]) == 5
