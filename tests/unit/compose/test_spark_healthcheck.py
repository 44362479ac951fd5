"""The spark-driver container's healthcheck reads the job's health, not just that it writes a report."""

from __future__ import annotations

import json
import runpy
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "docker" / "spark" / "healthcheck.py"


@pytest.fixture
def job_check(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_LOCAL_DIR", str(tmp_path))
    (tmp_path / "run").mkdir()
    checks = runpy.run_path(str(SCRIPT))["CHECKS"]

    def check(**report) -> str | None:
        status = {"state": "running", "updated_at": time.time(), "health": "healthy", "problems": [], **report}
        (tmp_path / "run" / "stream-status.json").write_text(json.dumps(status))
        return checks["job"]()

    return check


def test_a_healthy_recent_report_passes(job_check) -> None:
    assert job_check() is None


def test_a_stalled_or_failing_query_is_unhealthy(job_check) -> None:
    problem = job_check(health="unhealthy", problems=["user_auth_logs: stalled for 130 s, 4,200 records behind"])
    assert problem == "job unhealthy: user_auth_logs: stalled for 130 s, 4,200 records behind"


def test_a_report_not_rewritten_is_unhealthy(job_check) -> None:
    assert "written 120 s ago" in job_check(updated_at=time.time() - 120)
