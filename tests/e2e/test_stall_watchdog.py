"""The stall watchdog on the real job: a micro-batch blocked on purpose (spark/faults.py) is seen as a stall
(lag and no batch for the bound), reported by `status`, answered with thread dumps and a query restart, and,
when the restart does not help, by the job exiting for its supervisor to start it afresh. Every event
lands exactly once either way."""

from __future__ import annotations

import json

import pytest

from config.settings import FAULTS_DIR_ENV
from kafka.contract import AUTH
from kafka.kafka_producer import LogProducer
from local import platform as local_platform
from local.pipeline_status import pipeline_status
from tests.e2e.helpers import job_restarted_with, log_since, unique_events, wait_for, wait_until_landed
from tests.e2e.test_pipeline import assert_exactly

# Short bounds, yet well above a batch of a caught-up job (1-3 s here): only the injected block trips them.
STALL_ENV = {"SPARK_STALL_TIMEOUT_S": "40", "SPARK_STALL_EXIT_S": "30"}


def job_report(platform: local_platform.Platform) -> dict:
    return json.loads((platform.paths.run / "stream-status.json").read_text())


@pytest.fixture
def stall_prone_job(pipeline, tmp_path):
    """The job restarted with short stall bounds and a fault folder; put back as configured afterwards."""
    faults = tmp_path / "faults"
    faults.mkdir()
    with job_restarted_with({**STALL_ENV, FAULTS_DIR_ENV: str(faults)}) as platform:
        yield platform, faults


@pytest.mark.lifecycle
def test_a_blocked_batch_is_restarted_or_the_job_exits_and_nothing_is_lost(stall_prone_job, cassandra) -> None:
    platform, faults = stall_prone_job
    log = platform.paths.log_file("stream")
    warm_up = unique_events(sessions=20)  # the restarted job's first batches (slow, fresh JVMs) come first
    assert LogProducer(platform.settings).run(warm_up, rate=0, progress=False).all_delivered
    wait_until_landed(cassandra, warm_up, timeout_s=180)
    pid = platform.supervisor.info("stream")["pid"]

    # 1. A block that the query restart releases: the same driver carries on.
    offset = log.stat().st_size
    (faults / f"block-{AUTH.topic}").write_text("until-restart")
    first = unique_events(sessions=150)
    assert LogProducer(platform.settings).run(first, rate=0, progress=False).all_delivered
    wait_for(lambda: job_report(platform)["queries"][AUTH.topic]["stall_restarts"] >= 1, 150, "a stall restart")
    assert_exactly(first, wait_until_landed(cassandra, first, timeout_s=180))
    text = log_since(log, offset)
    assert "STALLED" in text and "stream execution thread for log-pipeline-auth" in text, "thread dump in the log"
    assert platform.supervisor.info("stream")["pid"] == pid, "a query restart, not a process restart"
    wait_for(lambda: job_report(platform)["health"] == "healthy", 60, "the job to be healthy again")

    # 2. A block that ignores the restart: status shows the stall, the job exits, its supervisor restarts it.
    offset = log.stat().st_size
    (faults / f"block-{AUTH.topic}").write_text("until-exit")
    second = unique_events(sessions=150)
    assert LogProducer(platform.settings).run(second, rate=0, progress=False).all_delivered

    def reported_stalled() -> bool:
        auth = next(t for t in pipeline_status(platform)["topics"] if t["topic"] == AUTH.topic)
        return auth["query_state"] == "stalled" and auth["query_health"] == "unhealthy"

    wait_for(reported_stalled, 150, "status to report the auth query stalled", every_s=1)
    wait_for(lambda: platform.supervisor.info("stream")["pid"] not in (pid, 0), 180, "the job to be restarted")
    assert_exactly(second, wait_until_landed(cassandra, second, timeout_s=240))
    assert "exiting (status 70)" in log_since(log, offset)
