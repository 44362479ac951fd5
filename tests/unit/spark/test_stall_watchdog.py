"""The stall watchdog's decisions (pure logic: the query, the session guard and Kafka's lag are stand-ins)."""

from __future__ import annotations

import dataclasses
import time

import pytest

from config.settings import load_settings
from kafka.contract import AUTH
from spark import diagnostics, spark_streaming
from spark.spark_streaming import JobStalled, TopicBatchWriter, TopicQuery

BOUND_S = 10


class FakeQuery:
    isActive = True
    lastProgress = None

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True
        self.isActive = False

    def exception(self) -> None:
        return None


class FakeGuard:
    def __init__(self) -> None:
        self.replaced: list[str] = []

    def replace_session(self, why: str) -> None:
        self.replaced.append(why)


@pytest.fixture
def watched(monkeypatch) -> TopicQuery:
    """A query that started, finished one batch, and has been quiet for longer than the stall bound."""
    settings = dataclasses.replace(load_settings(), spark_stall_timeout_s=BOUND_S, spark_stall_exit_s=BOUND_S)
    query = TopicQuery(None, settings, TopicBatchWriter(AUTH, None, None, None), FakeGuard())
    query.query = FakeQuery()
    query.started_at = query.writer.last_batch_done = time.monotonic() - BOUND_S - 1
    monkeypatch.setattr(spark_streaming.diagnostics, "jvm_thread_dump", lambda _spark: "jvm threads")
    monkeypatch.setattr(TopicQuery, "start", lambda self: setattr(self, "query", FakeQuery()))
    return query


def test_a_quiet_query_with_nothing_to_read_is_left_alone(watched, monkeypatch) -> None:
    monkeypatch.setattr(TopicQuery, "current_lag", lambda self: 0)
    watched.tend()
    assert watched.health() == ("healthy", None) and not watched.query.stopped


def test_a_query_that_is_merely_slow_is_left_alone(watched, monkeypatch) -> None:
    monkeypatch.setattr(TopicQuery, "current_lag", lambda self: 500)
    watched.writer.last_batch_done = time.monotonic() - BOUND_S + 3  # a batch finished within the bound
    watched.tend()
    assert watched.health() == ("healthy", None) and not watched.query.stopped


def test_data_arriving_after_a_quiet_spell_is_not_a_stall(watched, monkeypatch) -> None:
    monkeypatch.setattr(TopicQuery, "current_lag", lambda self: 500)
    watched.tend()  # quiet past the bound and records waiting: the wait starts counting now
    assert watched.health() == ("healthy", None) and not watched.query.stopped
    watched.waiting_since = time.monotonic() - BOUND_S - 1  # ...and no batch started for the bound
    watched.tend()
    assert "stalled" in watched.health()[1]


def test_a_stalled_query_is_dumped_and_restarted_then_the_job_exits(watched, monkeypatch, caplog) -> None:
    monkeypatch.setattr(TopicQuery, "current_lag", lambda self: 500)
    watched.writer.batch_started = time.monotonic() - BOUND_S - 1
    stalled = watched.query
    watched.tend()  # stall seen: dump, replace the session, release the batch, stop the query
    assert watched.health()[0] == "unhealthy" and "stalled" in watched.health()[1]
    assert watched.guard.replaced and watched.writer.released.is_set()
    watched._stopper.join(5)
    assert stalled.stopped
    watched.tend()  # stopped: started again
    assert watched.query is not stalled and watched.stall_restarts == 1
    assert "500 records behind (a batch running for" in caplog.text and "jvm threads" in caplog.text
    # No batch since: once the second bound passes with lag, the job gives up.
    watched.started_at = watched.stall_restarted_at = time.monotonic() - BOUND_S - 1
    watched.writer.batch_started = watched.started_at
    with pytest.raises(JobStalled, match="still stalled"):
        watched.tend()


def test_a_batch_after_the_restart_clears_the_stall(watched, monkeypatch) -> None:
    monkeypatch.setattr(TopicQuery, "current_lag", lambda self: 500)
    watched.writer.batch_started = time.monotonic() - BOUND_S - 1
    watched.tend()
    watched._stopper.join(5)
    watched.tend()
    watched.writer.batch_started, watched.writer.last_batch_done = None, time.monotonic()
    watched.tend()
    assert watched.health() == ("healthy", None) and watched.stalled_lag is None


def test_a_failed_batch_is_unhealthy_until_one_succeeds(watched) -> None:
    watched.last_failure, watched.last_error = time.monotonic(), "CassandraUnreachableError: down"
    assert watched.health() == ("unhealthy", "failing: CassandraUnreachableError: down")
    watched.writer.last_batch_done = time.monotonic()
    assert watched.health() == ("healthy", None)


def test_the_driver_jvm_thread_dump_is_jcmds(spark) -> None:
    """The dump written on a stall is the JVM's full one (what `jcmd <pid> Thread.print` prints)."""
    dump = diagnostics.jvm_thread_dump(spark)
    assert dump.count("java.lang.Thread.State") > 5 and "Full thread dump" in dump
