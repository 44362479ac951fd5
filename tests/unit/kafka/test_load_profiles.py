import io
import random
import struct

import fastavro
import pytest

from kafka.contract import ACTIVITY, SESSION
from kafka.load_profiles import (
    EVOLVING_STREAM,
    MALFORMED_KINDS,
    NEW_FIELD,
    UNKNOWN_SCHEMA_ID,
    BurstyPacer,
    Malformer,
    break_record,
    evolved_events,
    late_events,
    make_late,
    next_version,
)
from kafka.logs_generators import LogGenerator
from kafka.schema_registry import explain_incompatibility

END_MS = 1_767_225_600_000


def events(n: int):
    generator = LogGenerator(seed=3)
    out = []
    while len(out) < n:
        out += generator.session(END_MS)
    return out[:n]


def encoder(stream):
    schema = fastavro.parse_schema(stream.schema)

    def encode(value: dict) -> bytes:
        out = io.BytesIO()
        out.write(b"\x00" + struct.pack(">I", 7))
        fastavro.schemaless_writer(out, schema, value)
        return out.getvalue()

    return encode


def test_bursty_sends_ten_times_the_rate_for_five_seconds_each_minute():
    pacer = BurstyPacer(rate=100, clock=lambda: 0.0)
    assert pacer.due(0) == 0
    assert pacer.due(5000) == pytest.approx(5.0)  # 1,000/s for the first 5 s
    assert pacer.due(5100) == pytest.approx(6.0)  # then 100/s
    per_minute = 5000 + 100 * 55
    assert pacer.due(per_minute) == pytest.approx(60.0)
    assert pacer.due(per_minute + 2500) == pytest.approx(62.5)


def test_a_late_event_keeps_its_duration_and_moves_back_whole():
    session = next(e for e in events(60) if e.stream is SESSION)
    late = make_late(session, 3_600_000)
    assert late.value["login_time"] == session.value["login_time"] - 3_600_000
    assert (
        late.value["logout_time"] - late.value["login_time"]
        == session.value["logout_time"] - session.value["login_time"]
    )
    assert late.value["event_id"] == session.value["event_id"]


def test_a_share_of_events_is_late_by_a_minute_to_three_hours():
    sample = events(4000)
    moved = [
        (a.value[a.stream.event_time_field] - b.value[b.stream.event_time_field])
        for a, b in zip(sample, late_events(iter(sample), 0.25, random.Random(1)), strict=True)
    ]
    late = [d for d in moved if d]
    assert 0.2 < len(late) / len(moved) < 0.3
    assert all(60_000 <= d <= 3 * 3_600_000 for d in late)


def test_each_kind_of_malformed_record_is_what_its_dead_letter_reason_says():
    event = next(e for e in events(10) if e.stream is ACTIVITY)
    encode = encoder(ACTIVITY)
    good = encode(event.value)
    broken = {kind: break_record(kind, event, encode) for kind in MALFORMED_KINDS}
    assert broken["null value"] is None
    assert len(broken["record shorter than the header"]) < 5
    assert broken["bad magic byte"][0] == 1 and broken["bad magic byte"][1:] == good[1:]
    assert struct.unpack(">I", broken["unknown schema id"][1:5])[0] == UNKNOWN_SCHEMA_ID
    with pytest.raises((EOFError, IndexError, ValueError)):  # no record in it
        fastavro.schemaless_reader(
            io.BytesIO(broken["corrupt Avro payload"][5:]), fastavro.parse_schema(ACTIVITY.schema)
        )
    assert broken["not a uuid"][:5] == good[:5] and b"not-a-uuid-" in broken["not a uuid"]


def test_the_malformer_breaks_its_share_kind_after_kind_and_counts_them():
    malformer = Malformer(0.1, random.Random(5))
    sample = [e for e in events(3000) if e.stream is ACTIVITY]
    kinds = [malformer(e, encoder(ACTIVITY))[1] for e in sample]
    broken = [k for k in kinds if k]
    assert 0.07 < len(broken) / len(sample) < 0.13
    assert broken[: len(MALFORMED_KINDS)] == list(MALFORMED_KINDS)
    assert sum(malformer.counts.values()) == len(broken)


def test_evolve_switches_activity_events_to_the_next_version_after_the_first_n():
    originals = events(400)
    evolved = list(evolved_events(iter(originals), switch_after=150, rng=random.Random(1)))
    assert len(evolved) == len(originals)
    for i, (before, after) in enumerate(zip(originals, evolved, strict=True)):
        switched = i >= 150 and before.stream.name == EVOLVING_STREAM
        assert (after.stream.schema_file != before.stream.schema_file) == switched, i
        assert (NEW_FIELD in after.value) == switched, i
        assert {k: v for k, v in after.value.items() if k != NEW_FIELD} == before.value
        assert after.stream.topic == before.stream.topic and after.key == before.key
    assert any(NEW_FIELD in e.value for e in evolved)


def test_the_next_version_adds_one_optional_field_and_reads_every_older_record():
    older, newer = ACTIVITY.schema, next_version(ACTIVITY).schema
    added = [f for f in newer["fields"] if f["name"] not in ACTIVITY.field_names]
    assert [f["name"] for f in added] == [NEW_FIELD]
    assert added[0]["default"] is None and "null" in added[0]["type"]
    assert explain_incompatibility(older, newer) == []
    activity = next(e for e in events(50) if e.stream.name == EVOLVING_STREAM)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(older), activity.value)
    buffer.seek(0)
    read = fastavro.schemaless_reader(buffer, fastavro.parse_schema(older), fastavro.parse_schema(newer))
    assert read[NEW_FIELD] is None
