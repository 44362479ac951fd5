"""The registry, then Kafka, killed under the running job: batches wait or fail and are retried, never turning
good records into dead letters, and once the service is back every event is in its table exactly once."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime

import pytest

from database import dead_letters
from kafka.contract import STREAMS
from kafka.kafka_producer import LogProducer
from local import platform as local_platform
from tests.e2e.helpers import log_since, producing, unique_events, wait_until_landed
from tests.e2e.test_pipeline import assert_exactly


def dead_letter_keys(cassandra) -> set[bytes]:
    """Kafka keys of today's dead letters (the events' keys are their user ids, unique to each test run)."""
    day = datetime.now(UTC).date()
    return {row.raw_key for s in STREAMS for row in dead_letters.read_day(cassandra.session, s.topic, day, "raw_key")}


def kill_under_load(pipeline, cassandra, service: str, down_s: float) -> None:
    """Produce steadily, kill -9 `service` a few seconds in, bring it back with `up` after `down_s`."""
    local_platform.up(pipeline, pipeline=True, producer=False)
    warm_up = unique_events(sessions=20)  # a running job: past its first batches, its schemas fetched
    assert LogProducer(pipeline.settings).run(warm_up, rate=0, progress=False).all_delivered
    wait_until_landed(cassandra, warm_up, timeout_s=180)
    events = unique_events(sessions=700)
    with producing(pipeline.settings, events, rate=700):
        time.sleep(4)
        pid = pipeline.supervisor.info(service)["pid"]
        assert pid > 0, f"{service} is not running"
        try:
            os.kill(pid, signal.SIGKILL)
            time.sleep(down_s)
        finally:
            local_platform.up(pipeline, pipeline=True, producer=False)
    assert_exactly(events, wait_until_landed(cassandra, events, timeout_s=300))
    keys = {e.key.encode() if isinstance(e.key, str) else e.key for e in events}
    assert not keys & dead_letter_keys(cassandra), "good records were dead-lettered during the outage"


@pytest.mark.lifecycle
def test_registry_killed_mid_stream_loses_nothing_and_dead_letters_nothing(pipeline, cassandra) -> None:
    log = pipeline.paths.log_file("stream")
    offset = log.stat().st_size
    kill_under_load(pipeline, cassandra, "registry", down_s=20)
    assert "decodes with its cached versions" in log_since(log, offset), "the job never saw the registry away"


@pytest.mark.lifecycle
def test_kafka_killed_under_the_job_loses_nothing(pipeline, cassandra) -> None:
    kill_under_load(pipeline, cassandra, "kafka", down_s=15)
