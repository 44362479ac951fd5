"""Cassandra goes away mid-stream: batches fail and are retried from the checkpoint, nothing is committed
that was not written, and once Cassandra is back every event is there exactly once."""

from __future__ import annotations

import json
import time

import pytest

from database.cassandra_connection import CassandraConnection
from local import platform as local_platform
from tests.e2e.helpers import producing, unique_events, wait_for, wait_until_landed
from tests.e2e.test_pipeline import assert_exactly


@pytest.mark.lifecycle
def test_cassandra_down_mid_stream_loses_nothing(pipeline) -> None:
    local_platform.up(pipeline, pipeline=True, producer=False)
    events = unique_events(sessions=800)
    status_file = pipeline.paths.run / "stream-status.json"

    def a_query_restarted() -> bool:
        queries = json.loads(status_file.read_text()).get("queries", {}).values()
        return any(q["restarts"] > 0 for q in queries)

    with producing(pipeline.settings, events, rate=800, join_s=120):
        time.sleep(5)
        pipeline.supervisor.stop("cassandra")
        try:
            wait_for(a_query_restarted, 120, "a batch to fail and its query to be restarted")
        finally:
            local_platform.up(pipeline, pipeline=True, producer=False)  # Cassandra back (and the job, if it left)
    with CassandraConnection.open(pipeline.settings) as cassandra:
        assert_exactly(events, wait_until_landed(cassandra, events, timeout_s=300))
    assert "batch failed, nothing committed" in pipeline.paths.log_file("stream").read_text()
