"""Brute-force patterns on demand (`produce --attack user|ip`), mixed into the normal generated traffic.

- `user`: one victim (a user of the generator's pool) fails to log in again and again from a few addresses;
  after every LOCK_EVERY failures the account is locked (an `account_locked` event), and the attacker goes on.
- `ip`: one address tries many users (pool users and names that do not exist), one failed login each.

Pure and seeded like the generator: `Attack.next(at_ms)` gives the next attempt at that event time; the
producer's `with_attack` places attempts at the attack's rate on the wall clock between normal events.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from random import Random

from kafka.contract import AUTH
from kafka.logs_generators import Event, LogGenerator, User

ATTACKS = ("user", "ip")
LOCK_EVERY = 10  # failures of the victim between two lockouts (a user attack)
ATTACKER_ADDRESSES = 3  # a user attack rotates through this many source addresses
UNKNOWN_USER_SHARE = 0.3  # an IP attack: the share of attempts on user names that do not exist


class Attack:
    def __init__(self, kind: str, generator: LogGenerator, seed: int | None = None) -> None:
        if kind not in ATTACKS:
            raise ValueError(f"unknown attack {kind!r}: choose from {', '.join(ATTACKS)}")
        self.kind = kind
        self.generator = generator
        self.rng = Random(seed)
        self.victim: User = self.rng.choice(generator.users)
        self.addresses = [self._address() for _ in range(ATTACKER_ADDRESSES if kind == "user" else 1)]
        self.counts: Counter = Counter()  # event type -> attempts made
        self.subjects: set[str] = set()

    def _address(self) -> str:
        first = self.rng.choice((5, 31, 45, 77, 91, 103, 185, 193))
        return f"{first}.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"

    def next(self, at_ms: int) -> list[Event]:
        """The next failed login at `at_ms` (and the lockout it triggers, a user attack's every LOCK_EVERY)."""
        if self.kind == "user":
            user, reason = self.victim, "invalid_password"
            address = self.addresses[self.counts["login_failure"] % len(self.addresses)]
        else:
            address = self.addresses[0]
            if self.rng.random() < UNKNOWN_USER_SHARE:
                name = f"admin{self.rng.randrange(10_000):04d}"
                user, reason = User(name, "desktop", "", "", None, address), "unknown_user"
            else:
                user, reason = self.rng.choice(self.generator.users), "invalid_password"
        events = [self._failure(user, address, at_ms, reason)]
        self.subjects.add(user.user_id)
        if self.kind == "user" and self.counts["login_failure"] % LOCK_EVERY == 0:
            events.append(self._event(user, address, at_ms, "account_locked", "too_many_attempts"))
        return events

    def _failure(self, user: User, address: str, at_ms: int, reason: str) -> Event:
        return self._event(user, address, at_ms, "login_failure", reason)

    def _event(self, user: User, address: str, at_ms: int, event_type: str, reason: str) -> Event:
        self.counts[event_type] += 1
        value = {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "user_id": user.user_id,
            "session_id": None,
            "timestamp": at_ms,
            "ip_address": address,
            "device": user.device,
            "event_type": event_type,
            "failure_reason": reason,
        }
        return Event(AUTH, user.user_id, value)

    def describe(self) -> str:
        """What to look for in `auth_alerts` afterwards."""
        made = f"{self.counts['login_failure']:,} failed logins"
        if self.kind == "user":
            return (
                f"attack on user {self.victim.user_id} from {', '.join(self.addresses)}: {made}, "
                f"{self.counts['account_locked']:,} lockouts"
            )
        return f"attack from {self.addresses[0]}: {made} against {len(self.subjects):,} users"


def with_attack(
    events: Iterable[Event],
    attack: Attack,
    rate: float,
    limit: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
) -> Iterator[Event]:
    """The normal `events`, with the attack's attempts placed between them at `rate` failed logins/s (due at
    start + n/rate, stamped with the wall clock when sent), up to `limit` attempts."""
    start, made = clock(), 0
    for event in events:
        while (limit is None or made < limit) and clock() >= start + made / rate:
            yield from attack.next(wall_ms())
            made += 1
        yield event
