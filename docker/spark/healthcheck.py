#!/usr/bin/env python3
"""Healthcheck of the Spark containers (standard library only).

spark-healthcheck master   the master's web UI reports status ALIVE
spark-healthcheck worker   the worker's web UI names the master it registered with
spark-healthcheck job      the streaming job's status file says healthy (every query running, none failing
                           or stalled) and was rewritten recently
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

# The job rewrites its status file every 2 s; a file this old means its loop is stuck or gone.
STATUS_MAX_AGE_S = 30


def ui_state(port_variable: str, default_port: str) -> dict:
    port = os.environ.get(port_variable, default_port)
    with urllib.request.urlopen(f"http://localhost:{port}/json/", timeout=5) as response:
        return json.load(response)


def master() -> str | None:
    status = ui_state("SPARK_MASTER_WEBUI_PORT", "8080").get("status")
    return None if status == "ALIVE" else f"master status is {status!r}"


def worker() -> str | None:
    state = ui_state("SPARK_WORKER_WEBUI_PORT", "8082")
    return None if state.get("masterurl") else "worker not registered with a master yet"


def job() -> str | None:
    path = Path(os.environ.get("PIPELINE_LOCAL_DIR", "/var/lib/pipeline")) / "run" / "stream-status.json"
    if not path.exists():
        return f"no status file {path} yet"
    status = json.loads(path.read_text())
    age = time.time() - status["updated_at"]
    if age > STATUS_MAX_AGE_S:
        return f"job state {status['state']!r}, status written {age:.0f} s ago"
    if status.get("health") != "healthy":
        return f"job {status.get('health', 'health unknown')}: {'; '.join(status.get('problems', []))}"
    return None


CHECKS = {"master": master, "worker": worker, "job": job}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: spark-healthcheck {{{'|'.join(CHECKS)}}}")
    try:
        problem = CHECKS[sys.argv[1]]()
    except (OSError, ValueError, KeyError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        print(problem)
        sys.exit(1)
    print("healthy")
