"""A stop signal ends the streaming job cleanly, whichever of its processes receives it.

`spark-submit` is the JVM; the Python driver is its child. Compose's stop (SIGTERM from the container's init
to its one child) reaches the JVM only; supervisord in local mode (and a terminal's Ctrl-C) signal the whole
process group. Either way the job must stop its queries, report "stopped" and exit 0 within Compose's
stop_grace_period, with no query failing under a SparkContext stopped too early.

A second job of its own (own checkpoints, own status folder, starting at the latest offsets) runs next to
the pipeline's, on the free worker slot the pipeline leaves for ad-hoc submits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from local.java import find_java17
from local.platform import Platform, described_services
from tests.e2e.helpers import wait_for

STOP_BOUND_S = 60  # docker-compose.yml's stop_grace_period for spark-driver


def status_of(local_dir: Path) -> dict | None:
    try:
        return json.loads((local_dir / "run" / "stream-status.json").read_text())
    except (OSError, ValueError):
        return None


def every_query_ran_a_batch(local_dir: Path) -> bool:
    status = status_of(local_dir)
    return bool(
        status
        and status["state"] == "running"
        and status["queries"]
        and all(q.get("last_progress") for q in status["queries"].values())
    )


@pytest.mark.parametrize("receiver", ["jvm", "process-group"])
def test_stop_signal_stops_the_job_cleanly(pipeline: Platform, tmp_path: Path, receiver: str) -> None:
    service = next(s for s in described_services(pipeline, find_java17()) if s.name == "stream")
    local_dir = tmp_path / "local"
    env = {
        **os.environ,
        **service.env,
        "SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "PIPELINE_LOCAL_DIR": str(local_dir),
        "SPARK_STARTING_OFFSETS": "latest",
    }
    log_path = tmp_path / "job.log"
    with log_path.open("w") as log:
        # A session of its own, as under a container's init or supervisord: signals reach only what we send.
        job = subprocess.Popen(service.command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: every_query_ran_a_batch(local_dir), 240, "the second job's queries running")
        if receiver == "jvm":
            assert Path(f"/proc/{job.pid}/exe").resolve().name == "java", "spark-submit should exec into its JVM"
            job.send_signal(signal.SIGTERM)
        else:
            os.killpg(job.pid, signal.SIGTERM)
        started = time.monotonic()
        exit_code = job.wait(timeout=STOP_BOUND_S + 30)
        took = time.monotonic() - started
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait(timeout=30)
    output = log_path.read_text(errors="replace")
    assert exit_code == 0, output[-3000:]
    assert took <= STOP_BOUND_S, f"stopping took {took:.0f} s"
    assert "stopping the queries" in output
    assert "stopped cleanly" in output
    assert "stopped SparkContext" not in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert status_of(local_dir)["state"] == "stopped"
