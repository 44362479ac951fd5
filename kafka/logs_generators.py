"""Faker-based log generators: pure and deterministic for a seed, no I/O.

One simulated session yields a consistent set of events: the auth events around it (failed attempts,
the login, MFA, the logout), each activity as its own event inside the session window, and the session
log itself. Faker is called only while building value pools; events sample from the pools with one
seeded `random.Random`, which is what makes generation fast (Faker per field per event is ~20x slower).
"""

from __future__ import annotations

from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate
from random import Random

from faker import Faker

from kafka.contract import ACTIVITY, AUTH, SESSION, LogStream

# Device profiles that exist in the wild: (device, os, browser, weight).
DEVICE_PROFILES: tuple[tuple[str, str, str, float], ...] = (
    ("desktop", "Windows 11", "Chrome 131", 18),
    ("desktop", "Windows 11", "Edge 131", 7),
    ("desktop", "Windows 10", "Firefox 133", 4),
    ("desktop", "macOS 14", "Safari 17", 6),
    ("desktop", "macOS 15", "Chrome 131", 5),
    ("desktop", "Ubuntu 24.04", "Firefox 133", 2),
    ("mobile", "Android 14", "Chrome Mobile 131", 16),
    ("mobile", "Android 15", "Samsung Internet 26", 5),
    ("mobile", "iOS 18", "Mobile Safari 18", 17),
    ("mobile", "iOS 17", "Chrome iOS 131", 4),
    ("tablet", "iPadOS 18", "Mobile Safari 18", 5),
    ("tablet", "Android 14", "Chrome Mobile 131", 2),
)

LOGIN_FAILURE_REASONS = (
    ("invalid_password", 70),
    ("unknown_user", 8),
    ("expired_password", 10),
    ("suspicious_location", 12),
)
MFA_FAILURE_REASONS = (("invalid_mfa_code", 70), ("mfa_timeout", 30))
FAILURE_EVENTS = frozenset({"login_failure", "mfa_failure", "account_locked"})

# (event_type, category, weight, content prefix or None)
ACTIVITY_TYPES: tuple[tuple[str, str, float, str | None], ...] = (
    ("page_view", "navigation", 35, None),
    ("click", "navigation", 25, None),
    ("search", "navigation", 10, None),
    ("add_to_cart", "commerce", 7, "prod"),
    ("remove_from_cart", "commerce", 2, "prod"),
    ("purchase", "commerce", 3, "prod"),
    ("video_play", "media", 6, "vid"),
    ("comment", "social", 3, "art"),
    ("share", "social", 3, "art"),
    ("download", "engagement", 3, "doc"),
    ("form_submit", "engagement", 3, None),
)
BUTTONS = ("checkout_button", "menu", "logo", "next_page", "filter", "sort", "banner", "footer_link", "signup", "help")

# Normal users mistype, give up or reset their password: at most this many failed logins of one user fall
# within any FAILURE_SPAN_MS, so normal traffic stays below the alert thresholds (spark/auth_alerts.py,
# 5 per user in 5 minutes by default) and locks no account. Brute force comes from kafka/attacks.py.
NORMAL_FAILURES_PER_SPAN = 3
FAILURE_SPAN_MS = 5 * 60_000
# Version 4 and the RFC 4122 variant, as uuid.UUID(version=4) sets them.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)
MIN_SESSION_S, MAX_SESSION_S = 10.0, 3 * 3600.0


class _Weighted:
    """Fast weighted choice over a fixed table (bisect over cumulative weights)."""

    def __init__(self, items: list, weights: list[float]) -> None:
        self.items = items
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def pick(self, rng: Random):
        return self.items[bisect(self.cumulative, rng.random() * self.total)]


@dataclass(frozen=True)
class User:
    user_id: str
    device: str
    os: str
    browser: str
    location: str | None
    ip_address: str


@dataclass(frozen=True)
class Event:
    """One record to produce: the stream it belongs to, its key (user_id) and its Avro value."""

    stream: LogStream
    key: str
    value: dict


class LogGenerator:
    """Generates sessions of events. Deterministic for a given seed and sequence of `session(end_ms)` calls."""

    def __init__(self, seed: int | None = None, users: int = 5000, pages: int = 400, user_prefix: str = "user") -> None:
        self.rng = Random(seed)
        faker = Faker()
        faker.seed_instance(seed if seed is not None else self.rng.getrandbits(32))
        locations = [f"{faker.city()}, {faker.country_code()}" for _ in range(300)]
        profile = _Weighted(list(DEVICE_PROFILES), [p[3] for p in DEVICE_PROFILES])
        self.users = []
        for i in range(users):
            device, os_name, browser, _ = profile.pick(self.rng)
            ip = faker.ipv6() if self.rng.random() < 0.3 else faker.ipv4_public()
            location = self.rng.choice(locations) if self.rng.random() < 0.97 else None
            self.users.append(User(f"{user_prefix}_{i:06d}", device, os_name, browser, location, ip))
        base = faker.url().rstrip("/")
        self.pages = [(f"page_{i:04d}", f"{base}/{faker.uri_path()}") for i in range(pages)]
        self.search_terms = [faker.word() for _ in range(500)]
        self.activity = _Weighted(list(ACTIVITY_TYPES), [a[2] for a in ACTIVITY_TYPES])
        self.login_reason = _Weighted(*zip(*LOGIN_FAILURE_REASONS, strict=True))
        self.mfa_reason = _Weighted(*zip(*MFA_FAILURE_REASONS, strict=True))
        self._failures: dict[str, list[int]] = {}  # user id -> times of their recent failed logins

    def _uuid(self) -> str:
        """A random (version 4) uuid string from the seeded RNG; the same text as `str(uuid.UUID(int=n,
        version=4))`, without building the object (a third of generation time otherwise)."""
        n = (self.rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _auth(
        self, user: User, at_ms: int, event_type: str, session_id: str | None, reason: str | None = None
    ) -> Event:
        value = {
            "event_id": self._uuid(),
            "user_id": user.user_id,
            "session_id": session_id,
            "timestamp": at_ms,
            "ip_address": user.ip_address,
            "device": user.device,
            "event_type": event_type,
            "failure_reason": reason,
        }
        return Event(AUTH, user.user_id, value)

    def _failed_attempts(self, user: User, before_ms: int, attempts: int) -> list[Event]:
        """Failed logins ending `before_ms`, a few seconds apart; the user gives up at the first attempt that
        would exceed NORMAL_FAILURES_PER_SPAN."""
        events, at = [], before_ms - attempts * self.rng.randint(3_000, 30_000)
        for _ in range(attempts):
            if not self._may_fail(user.user_id, at):
                break
            events.append(self._auth(user, at, "login_failure", None, self.login_reason.pick(self.rng)))
            at += self.rng.randint(2_000, 20_000)
        return events

    def _may_fail(self, user_id: str, at: int) -> bool:
        """Record a failure of the user at `at` unless that would put more than NORMAL_FAILURES_PER_SPAN of
        theirs within some FAILURE_SPAN_MS (checked against every failure less than a span away)."""
        times = self._failures.setdefault(user_id, [])
        if sum(1 for t in times if abs(t - at) < FAILURE_SPAN_MS) >= NORMAL_FAILURES_PER_SPAN:
            return False
        if len(times) >= 8:  # sessions end now and start at most MAX_SESSION_S ago: older failures are done
            horizon = at - int(MAX_SESSION_S * 1000) - 2 * FAILURE_SPAN_MS
            times[:] = [t for t in times if t >= horizon]
        times.append(at)
        return True

    def _activities(self, user: User, session_id: str, login_ms: int, logout_ms: int) -> list[Event]:
        count = min(1 + int(self.rng.expovariate(1 / 7)), 40)
        span, random = logout_ms - login_ms, self.rng.random
        times = sorted(login_ms + int(random() * span) for _ in range(count))
        events = []
        for at in times:
            event_type, category, _, content_prefix = self.activity.pick(self.rng)
            page_id, url = self.rng.choice(self.pages)
            content_id = f"{content_prefix}_{self.rng.randrange(20_000):05d}" if content_prefix else None
            if event_type == "click":
                action = f"clicked:{self.rng.choice(BUTTONS)}"
            elif event_type == "search":
                action = f"searched:{self.rng.choice(self.search_terms)}"
            elif event_type == "purchase":
                action = f"purchased:qty={self.rng.randint(1, 4)}"
            else:
                action = event_type
            value = {
                "event_id": self._uuid(),
                "user_id": user.user_id,
                "session_id": session_id,
                "event_type": event_type,
                "timestamp": at,
                "url": url,
                "device": user.device,
                "location": user.location,
                "event_category": category,
                "page_id": page_id,
                "content_id": content_id,
                "action_taken": action,
            }
            events.append(Event(ACTIVITY, user.user_id, value))
        return events

    def session(self, end_ms: int) -> list[Event]:
        """One simulated session ending at `end_ms`, its events in time order (the session log last).

        About 3% of attempts never open a session: failed logins, no session_id."""
        user = self.rng.choice(self.users)
        if self.rng.random() < 0.03:
            return self._failed_attempts(user, end_ms, self.rng.randint(1, 3))

        duration_s = min(max(self.rng.lognormvariate(5.5, 1.1), MIN_SESSION_S), MAX_SESSION_S)
        logout_ms = end_ms
        login_ms = logout_ms - int(duration_s * 1000)
        session_id = self._uuid()
        events: list[Event] = []
        if self.rng.random() < 0.12:
            events += self._failed_attempts(user, login_ms, self.rng.randint(1, 2))
        events.append(self._auth(user, login_ms, "login_success", session_id))
        if self.rng.random() < 0.3:
            at = login_ms + self.rng.randint(1_000, 5_000)
            if self.rng.random() < 0.1:
                events.append(self._auth(user, at, "mfa_failure", session_id, self.mfa_reason.pick(self.rng)))
            events.append(self._auth(user, min(at + 2_000, logout_ms), "mfa_success", session_id))
        if self.rng.random() < 0.04:
            events.append(self._auth(user, self.rng.randint(login_ms, logout_ms), "device_registered", session_id))
        if self.rng.random() < 0.02:
            events.append(self._auth(user, self.rng.randint(login_ms, logout_ms), "password_reset", session_id))
        events += self._activities(user, session_id, login_ms, logout_ms)
        events.append(self._auth(user, logout_ms, "logout", session_id))
        events.sort(key=lambda e: e.value["timestamp"])
        session_log = {
            "event_id": self._uuid(),
            "user_id": user.user_id,
            "session_id": session_id,
            "login_time": login_ms,
            "logout_time": logout_ms,
            "duration_seconds": (logout_ms - login_ms) / 1000.0,
            "device": user.device,
            "os": user.os,
            "browser": user.browser,
            "location": user.location,
            "ip_address": user.ip_address,
        }
        events.append(Event(SESSION, user.user_id, session_log))
        return events
