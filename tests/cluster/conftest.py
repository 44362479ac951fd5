"""Cluster mode, started once for these tests with the project's own command (`main.py up --cluster`) and
stopped at the end. This pytest process runs with PIPELINE_CLUSTER=1 (`main.py test` starts it so), so every
setting comes from `.env.cluster` over `.env`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from config.settings import PROJECT_ROOT
from database.cassandra_connection import CassandraConnection
from local.platform import Platform

UP_TIMEOUT_S = 900


def main_py(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=PROJECT_ROOT,
    )


@pytest.fixture(scope="session")
def cluster() -> Platform:
    platform = Platform.load()
    assert platform.settings.cluster, "run the cluster tests through `python3 main.py test` (PIPELINE_CLUSTER=1)"
    was_running = platform.paths.mode_file.exists() and platform.supervisor.running()
    done = main_py("up", "--cluster", "--no-producer", timeout_s=UP_TIMEOUT_S)
    assert done.returncode == 0, f"`up --cluster` failed:\n{done.stdout}\n{done.stderr}"
    yield platform
    if not was_running:
        down = main_py("down")
        assert down.returncode == 0, down.stderr


@pytest.fixture(scope="session")
def cassandra(cluster: Platform) -> CassandraConnection:
    connection = CassandraConnection.open(cluster.settings)
    yield connection
    connection.close()
