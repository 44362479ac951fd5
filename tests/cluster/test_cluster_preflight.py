"""`up --cluster` refusing to start: a port of one node taken on its loopback alias is one `error:` line naming
the node and the holder, exit 1, and nothing left running. Runs before the `cluster` fixture starts the cluster
(this module sorts first), since a running cluster holds these ports itself."""

from __future__ import annotations

import os
import socket

import pytest

from local.platform import Platform
from tests.cluster.conftest import main_py


def test_a_taken_port_of_one_node_stops_up_with_one_clear_error() -> None:
    platform = Platform.load()
    if platform.supervisor.running():
        pytest.skip("local mode is running: this test needs the cluster down")
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.2", 9042))  # cassandra-2's CQL port
        holder.listen()
        done = main_py("up", "--cluster", "--no-producer", timeout_s=120)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "127.0.0.2:9042" in errors[0] and "cassandra-2" in errors[0], errors[0]
    assert f"pid {os.getpid()}" in errors[0], errors[0]
    assert not platform.supervisor.running(), "a refused `up --cluster` left supervisord running"
