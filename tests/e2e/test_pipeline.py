"""Produce through the real producer, read back from the real tables: every event exactly once."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest

from config.settings import FAULTS_DIR_ENV
from kafka.contract import AUTH, STREAMS
from kafka.kafka_producer import LogProducer
from tests.e2e.helpers import (
    as_cassandra,
    batch_offset_range,
    job_restarted_with,
    log_since,
    unique_events,
    wait_for,
    wait_until_landed,
)

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
def test_kill_9_of_the_driver_mid_stream_replays_a_batch_harmlessly(pipeline, cassandra, tmp_path) -> None:
    """The job is killed hard while events flow, with one batch written in full but not yet committed (held
    there on purpose). supervisord restarts it; the batch is replayed, which the log and the rows' WRITETIME
    show, and every event is in its table exactly once."""
    faults = tmp_path / "faults"
    faults.mkdir()
    with job_restarted_with({FAULTS_DIR_ENV: str(faults)}) as platform:
        log = platform.paths.log_file("stream")
        events = unique_events(sessions=1500)
        producer = LogProducer(platform.settings)
        outcome = {}
        sending = threading.Thread(target=lambda: outcome.update(tally=producer.run(events, rate=1500, progress=False)))
        sending.start()
        supervisor = platform.supervisor
        first_pid = supervisor.info("stream")["pid"]
        assert first_pid > 0, "the job is not running"  # os.kill(0, ...) would hit our own process group
        time.sleep(5)
        offset = log.stat().st_size
        (faults / f"block-after-write-{AUTH.topic}").write_text("until-exit")
        written = re.compile(rf"{AUTH.topic} batch (\d+): (\d+) rows written")
        wait_for(lambda: "fault injected (block-after-write)" in log_since(log, offset), 60, "a written batch held")
        held_batch, held_rows = map(int, written.findall(log_since(log, offset))[-1])
        os.kill(first_pid, signal.SIGKILL)
        killed_at = time.time()
        offset = log.stat().st_size
        wait_for(
            lambda: supervisor.info("stream")["statename"] == "RUNNING"
            and supervisor.info("stream")["pid"] != first_pid,
            60,
            "the job to be restarted",
        )
        sending.join(timeout=120)
        assert outcome["tally"].all_delivered
        # The replay happens: the new driver writes the held batch again, every one of its rows. Waited for
        # before counting, since every event may have landed before the kill (the held batch was written).
        wait_for(
            lambda: (str(held_batch), str(held_rows)) in written.findall(log_since(log, offset)),
            180,
            f"the held batch {held_batch} to be replayed by the new driver",
        )
        found = wait_until_landed(cassandra, events, timeout_s=300)
        assert_exactly(events, found)

        checkpoint = platform.settings.spark_checkpoint_dir / AUTH.topic
        held = batch_offset_range(checkpoint, AUTH.topic, held_batch)
        ours = [r for r in found[AUTH.name] if in_range(held, r["kafka_partition"], r["kafka_offset"])]
        assert ours, "the held batch carried none of this test's events"
        rewritten = write_times(cassandra, ours)
        # WRITETIME shows it too: written before the kill, then again after it, and no row is doubled.
        assert all(t > killed_at for t in rewritten), "rows of the replayed batch not rewritten after the kill"


def in_range(ranges: dict[int, tuple[int, int]], partition: int, offset: int) -> bool:
    start, end = ranges.get(partition, (0, 0))
    return start <= offset < end


def write_times(cassandra, rows: list[dict]) -> list[float]:
    """Seconds since the epoch at which Cassandra last wrote each auth row."""
    query = cassandra.prepare(
        f"SELECT WRITETIME(produced_at) AS written FROM user_logs.{AUTH.table} "
        "WHERE user_id = ? AND timestamp = ? AND event_id = ?"
    )
    return [
        cassandra.session.execute(query, (r["user_id"], r["timestamp"], r["event_id"])).one().written / 1e6
        for r in rows
    ]
