import datetime as dt
import uuid

import pytest

from kafka.contract import AUTH, STREAMS
from ops.args import parse_record_id, parse_since, select_streams
from ops.errors import OperatorError
from ops.reconcile import plain, unequal_fields

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - dt.timedelta(seconds=90)),
        ("30m", NOW - dt.timedelta(minutes=30)),
        ("2h", NOW - dt.timedelta(hours=2)),
        ("1d", NOW - dt.timedelta(days=1)),
        ("2026-12-04T05:00", dt.datetime(2026, 12, 4, 5, 0, tzinfo=dt.UTC)),
        ("2026-12-04T07:00+02:00", dt.datetime(2026, 12, 4, 5, 0, tzinfo=dt.UTC)),
    ],
)
def test_since_is_an_age_or_a_time_utc_unless_it_says(text, expected):
    assert parse_since(text, NOW) == int(expected.timestamp() * 1000)


def test_a_since_that_is_neither_says_what_to_give():
    with pytest.raises(OperatorError, match="30m, 2h or 1d"):
        parse_since("yesterday", NOW)


def test_streams_by_topic_or_short_name_and_unknown_names_refused():
    assert select_streams(None) == STREAMS
    assert select_streams(["auth", "user_auth_logs"]) == (AUTH,)
    with pytest.raises(OperatorError, match="unknown topic 'clicks'"):
        select_streams(["clicks"])


def test_values_compare_alike_whichever_client_read_them():
    event_id = uuid.uuid4()
    avro = {"event_id": str(event_id), "timestamp": dt.datetime(2026, 1, 1, 0, 0, 1, 5000, tzinfo=dt.UTC), "n": 1.5}
    row = {"event_id": event_id, "timestamp": dt.datetime(2026, 1, 1, 0, 0, 1, 5000), "n": 1.5, "event_day": None}
    assert plain(avro["timestamp"]) == plain(row["timestamp"]) == 1767225601005
    assert unequal_fields(avro, row) == []
    assert unequal_fields({**avro, "n": 2.0, "missing_column": 1}, row) == ["n", "missing_column"]


def test_record_ids_are_topic_partition_offset():
    assert parse_record_id("auth:2:42") == (AUTH, 2, 42)
    with pytest.raises(OperatorError, match="topic:partition:offset"):
        parse_record_id("user_auth_logs:2")
