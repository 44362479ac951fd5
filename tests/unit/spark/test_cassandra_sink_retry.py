"""The sink's in-batch retry, decided on the error alone (the write itself is faked: no engine here)."""

from __future__ import annotations

import pytest

from spark import cassandra_sink
from spark.cassandra_sink import WRITE_ATTEMPTS, CassandraSink


class FailingSave:
    def __init__(self, *errors: str) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, rows, table) -> None:
        self.calls += 1
        if self.errors:
            raise RuntimeError(self.errors.pop(0))


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cassandra_sink.time, "sleep", lambda _s: None)


def sink_with(save: FailingSave, replaced: list[str]) -> CassandraSink:
    sink = CassandraSink(connection=None, replace_session=replaced.append)
    sink._save = save
    return sink


def test_a_wedged_session_is_replaced_and_the_write_done_again() -> None:
    replaced: list[str] = []
    save = FailingSave(
        "java.lang.IllegalStateException: Control channel not available, aborting schema refresh",
        "com.datastax.oss.driver.api.core.DriverExecutionException",
    )
    sink_with(save, replaced).write(rows=None, table="auth_logs")
    assert save.calls == 3
    assert replaced == ["a write failed: Control channel not available"]


def test_cassandra_refusing_fails_the_batch_at_once() -> None:
    replaced: list[str] = []
    save = FailingSave("IOException: Failed to write statements ... Not enough replicas available for query")
    with pytest.raises(RuntimeError, match="Not enough replicas"):
        sink_with(save, replaced).write(rows=None, table="auth_logs")
    assert save.calls == 1 and replaced == []


def test_the_retries_are_bounded() -> None:
    save = FailingSave(*["java.lang.IllegalStateException: Cluster is closed"] * (WRITE_ATTEMPTS + 1))
    with pytest.raises(RuntimeError, match="Cluster is closed"):
        sink_with(save, []).write(rows=None, table="auth_logs")
    assert save.calls == WRITE_ATTEMPTS
