"""Load profiles for the generator (`produce --profile ...`): how fast events come, and what they look like.

- `steady`: the rate, paced evenly (what `produce` always did);
- `bursty`: ten times the rate for the first 5 s of every minute, the rate otherwise;
- `late`: a share of events (`--share`) with every time field moved back by a minute to three hours, so
  they arrive late and out of order;
- `malformed`: a share of records broken in each way the job's dead letters name but one, in turn, counted
  per kind in the report. The missing required value is left out: the contract's own schema cannot encode it
  (tests/e2e/test_schema_versions.py makes one on a subject of its own);
- `evolve`: after `--switch-after` events (half of `--count` by default), activity events are written with the
  schema's next version, `kafka/schemas/next/activity_log.avsc` (a new optional field, set), which the
  producer registers under the topic's subject at that moment. The registry keeps that version: on the
  pipeline's own topics it is an evolution of the contract (`doctor` then reports the subject ahead of its
  `.avsc` until the next version is adopted as the contract).

Pure functions and a pacer: the producer applies them (kafka/kafka_producer.py).
"""

from __future__ import annotations

import dataclasses
import random
import struct
import time
from collections.abc import Callable, Iterator

from kafka.contract import LogStream
from kafka.logs_generators import Event

PROFILES = ("steady", "bursty", "late", "malformed", "evolve")
BURST_FACTOR = 10
BURST_S = 5
CYCLE_S = 60
LATE_MIN_S = 60
LATE_MAX_S = 3 * 3600
UNKNOWN_SCHEMA_ID = 2**31 - 1  # never handed out by a registry that counts up from 1
EVOLVING_STREAM = "activity"
NEXT_SCHEMA_FILE = "next/activity_log.avsc"
NEW_FIELD = "app_version"
APP_VERSIONS = ("5.2.0", "5.2.1", "5.3.0", "6.0.0-beta")
EVOLVE_AFTER_DEFAULT = 10_000  # events, when there is no --count to halve

# Each kind of malformed record, as the job's dead-letter reason begins (spark/transforms.py).
MALFORMED_KINDS = (
    "null value",
    "record shorter than the header",
    "bad magic byte",
    "unknown schema id",
    "corrupt Avro payload",
    "not a uuid",
)


class BurstyPacer:
    """The same interface as kafka_producer.Pacer: after `produced` events, how long to wait. The allowed
    count grows at `BURST_FACTOR x rate` during the first BURST_S of each minute and at `rate` after."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.perf_counter) -> None:
        self.rate = rate
        self.clock = clock
        self.start = clock()

    def due(self, produced: int) -> float:
        """Seconds after the start at which event number `produced` may go."""
        burst_events = BURST_FACTOR * self.rate * BURST_S
        per_cycle = burst_events + self.rate * (CYCLE_S - BURST_S)
        cycles, rest = divmod(produced, per_cycle)
        within = (
            rest / (BURST_FACTOR * self.rate) if rest <= burst_events else BURST_S + (rest - burst_events) / self.rate
        )
        return cycles * CYCLE_S + within

    def delay(self, produced: int) -> float:
        if self.rate <= 0:
            return 0.0
        return max(0.0, self.start + self.due(produced) - self.clock())


def make_late(event: Event, behind_ms: int) -> Event:
    """The event with every time field moved back by `behind_ms` (a session keeps its duration)."""
    value = dict(event.value)
    for name in event.stream.timestamp_fields:
        if value.get(name) is not None:
            value[name] -= behind_ms
    return dataclasses.replace(event, value=value)


def late_events(events: Iterator[Event], share: float, rng: random.Random) -> Iterator[Event]:
    for event in events:
        if rng.random() < share:
            yield make_late(event, rng.randint(LATE_MIN_S * 1000, LATE_MAX_S * 1000))
        else:
            yield event


def break_record(kind: str, event: Event, encode: Callable[[dict], bytes]) -> bytes | None:
    """The value bytes of `event` broken the way `kind` names."""
    if kind == "null value":
        return None
    if kind == "not a uuid":
        return encode({**event.value, "event_id": f"not-a-uuid-{event.value['event_id'][:8]}"})
    good = encode(event.value)
    if kind == "record shorter than the header":
        return good[:3]
    if kind == "bad magic byte":
        return b"\x01" + good[1:]
    if kind == "unknown schema id":
        return good[:1] + struct.pack(">I", UNKNOWN_SCHEMA_ID) + good[5:]
    if kind == "corrupt Avro payload":
        return good[:5] + b"\xff"  # a string length of -1 where the first field starts
    raise ValueError(f"unknown kind of malformed record: {kind}")


class Malformer:
    """Decides, record by record, whether to break it (a share, the kinds in turn) and counts what it broke."""

    def __init__(self, share: float, rng: random.Random) -> None:
        self.share, self.rng = share, rng
        self.counts: dict[str, int] = {kind: 0 for kind in MALFORMED_KINDS}
        self._next = 0

    def __call__(self, event: Event, encode: Callable[[dict], bytes]) -> tuple[bytes | None, str | None]:
        """(value bytes, kind) for a broken record, (encoded value, None) for a good one."""
        if self.rng.random() >= self.share:
            return encode(event.value), None
        kind = MALFORMED_KINDS[self._next % len(MALFORMED_KINDS)]
        self._next += 1
        self.counts[kind] += 1
        return break_record(kind, event, encode), kind


def next_version(stream: LogStream) -> LogStream:
    """The stream with its next schema version (same topic and subject)."""
    return dataclasses.replace(stream, schema_file=NEXT_SCHEMA_FILE)


def evolved_events(events: Iterator[Event], switch_after: int, rng: random.Random) -> Iterator[Event]:
    """The events, with every activity event after the first `switch_after` events of its next version: the
    new field set (an older client's null stays possible in the schema, but every evolved event has one)."""
    for produced, event in enumerate(events):
        if produced >= switch_after and event.stream.name == EVOLVING_STREAM:
            value = {**event.value, NEW_FIELD: rng.choice(APP_VERSIONS)}
            yield Event(next_version(event.stream), event.key, value)
        else:
            yield event
