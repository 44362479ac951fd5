"""Produce through the real producer, read back from the real tables: every event exactly once."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from kafka.contract import STREAMS
from kafka.kafka_producer import LogProducer
from local import platform as local_platform
from tests.e2e.helpers import as_cassandra, unique_events, wait_for, wait_until_landed

LINEAGE = ("kafka_partition", "kafka_offset", "produced_at")


def assert_exactly(events, found) -> None:
    """Each table holds exactly the produced events, field by field, with their lineage."""
    for stream in STREAMS:
        produced = {e.value["event_id"]: as_cassandra(stream, e.value) for e in events if e.stream is stream}
        rows = found[stream.name]
        assert len(rows) == len(produced), f"{stream.table}: {len(rows)} rows for {len(produced)} events"
        by_id = {str(row["event_id"]): row for row in rows}
        assert by_id.keys() == produced.keys(), f"{stream.table}: other event ids than produced"
        for event_id, expected in produced.items():
            row = by_id[event_id]
            assert {k: row[k] for k in expected} == {k: v for k, v in expected.items()}, event_id
            assert all(row[k] is not None for k in LINEAGE), row


def test_every_event_lands_exactly_once_field_by_field(pipeline, cassandra) -> None:
    events = unique_events(sessions=400)
    tally = LogProducer(pipeline.settings).run(events, rate=0, progress=False)
    assert tally.all_delivered
    assert_exactly(events, wait_until_landed(cassandra, events))


@pytest.mark.lifecycle
def test_kill_9_of_the_driver_mid_stream_loses_and_doubles_nothing(pipeline, cassandra) -> None:
    """The job is killed hard while events flow; supervisord restarts it and it resumes from its checkpoint."""
    local_platform.up(pipeline, pipeline=True, producer=False)  # earlier lifecycle tests may have stopped it
    events = unique_events(sessions=1500)
    producer = LogProducer(pipeline.settings)
    outcome = {}
    sending = threading.Thread(target=lambda: outcome.update(tally=producer.run(events, rate=1500, progress=False)))
    sending.start()
    supervisor = pipeline.supervisor
    first_pid = supervisor.info("stream")["pid"]
    assert first_pid > 0, "the job is not running"  # os.kill(0, ...) would hit our own process group
    time.sleep(8)
    os.kill(first_pid, signal.SIGKILL)
    wait_for(
        lambda: supervisor.info("stream")["statename"] == "RUNNING" and supervisor.info("stream")["pid"] != first_pid,
        60,
        "the job to be restarted",
    )
    sending.join(timeout=120)
    assert outcome["tally"].all_delivered
    assert_exactly(events, wait_until_landed(cassandra, events, timeout_s=300))
