"""Optional fields left null by the producer are left unset in Cassandra, not written as null: a traced read
of a partition that holds such rows meets no tombstone cell (a null written by the connector is a tombstone,
and enough of them make filtering scans fail with READ_TOO_MANY_TOMBSTONES)."""

from __future__ import annotations

import re

from kafka.contract import AUTH
from tests.e2e.helpers import producing, unique_events, wait_until_landed

READ_LINE = re.compile(r"Read (\d+) live rows and (\d+) tombstone cells")


def test_null_fields_leave_no_tombstones(pipeline, cassandra) -> None:
    events = unique_events(sessions=40)
    with producing(pipeline.settings, events, rate=0):
        pass
    found = wait_until_landed(cassandra, events, timeout_s=180)
    with_nulls = [r for r in found[AUTH.name] if r["failure_reason"] is None or r["session_id"] is None]
    assert with_nulls, "no auth row with an empty optional field: the test would prove nothing"
    query = cassandra.prepare(f"SELECT * FROM user_logs.{AUTH.table} WHERE user_id = ?")
    for user in sorted({r["user_id"] for r in with_nulls})[:5]:
        result = cassandra.session.execute(query, (user,), trace=True)
        assert result.all(), user
        trace = result.get_query_trace(max_wait_sec=15)
        reads = [READ_LINE.search(e.description) for e in trace.events]
        counts = [(int(m[1]), int(m[2])) for m in reads if m]
        assert counts, f"no read line in the trace of {user}: {[e.description for e in trace.events]}"
        assert all(tombstones == 0 for _, tombstones in counts), f"{user}: (live rows, tombstone cells) {counts}"
