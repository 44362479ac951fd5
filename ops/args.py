"""Arguments the operator tools share: which topics, since when, which day, which record."""

from __future__ import annotations

import datetime as dt
import re

from kafka.contract import BY_NAME, BY_TOPIC, STREAMS, LogStream
from ops.errors import OperatorError


def parse_since(text: str, now: dt.datetime) -> int:
    """`--since` as epoch milliseconds: an age (`90s`, `30m`, `2h`, `1d`) or an ISO time (UTC unless it says)."""
    age = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if age:
        seconds = float(age.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[age.group(2)]
        return int((now.timestamp() - seconds) * 1000)
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise OperatorError(
            f"--since {text!r}: give an age such as 30m, 2h or 1d, or an ISO time such as 2026-12-04T05:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def select_streams(names: list[str] | None) -> tuple[LogStream, ...]:
    """Streams by topic (`user_auth_logs`) or short name (`auth`); all three without names."""
    if not names:
        return STREAMS
    chosen = []
    for name in names:
        stream = BY_TOPIC.get(name) or BY_NAME.get(name)
        if stream is None:
            choices = ", ".join(s.topic for s in STREAMS)
            raise OperatorError(f"unknown topic {name!r}: choose from {choices} (or session, auth, activity)")
        chosen.append(stream)
    return tuple(dict.fromkeys(chosen))


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise OperatorError(f"--day {text!r}: give a UTC day such as 2026-12-04") from None


def parse_record_id(text: str) -> tuple[LogStream, int, int]:
    """`topic:partition:offset` (as `dead-letters list` prints it) -> (stream, partition, offset)."""
    parts = text.strip().split(":")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise OperatorError(f"{text!r} is not a record id: give topic:partition:offset, e.g. user_auth_logs:0:42")
    (stream,) = select_streams([parts[0]])
    return stream, int(parts[1]), int(parts[2])
