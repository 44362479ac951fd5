"""How long `python3 main.py up` takes, and how long from typing it until the first row is in Cassandra.

cold: a state folder never used before (Kafka formats its log dirs, Cassandra bootstraps an empty node,
topics, schemas and tables are created, the job has no checkpoint), with the jars already downloaded and
their classpaths resolved: download time depends on the network, not on this box.
warm: `up` again over that folder after a `down`, like a user's second `up` of the day.
Both run in a scratch state folder next to local mode's own, removed afterwards: the generator that `up`
starts writes to the scratch folder's Kafka, never to the user's topics.

The first row is read from the job's own counter, which moves only after the connector's write returned;
the generator that `up` starts feeds it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from config.settings import PROJECT_ROOT, Settings

MAIN_PY = PROJECT_ROOT / "main.py"
UP_TIMEOUT_S = 600
FIRST_ROW_TIMEOUT_S = 300
# Downloaded and resolved once, shared with the cold state folder (read-only there).
SHARED = ("m2", "registry", "classpath")


class StartupError(RuntimeError):
    pass


def base_env() -> dict[str, str]:
    return dict(os.environ)


def _main_py(args: list[str], env: dict[str, str], timeout_s: float) -> None:
    done = subprocess.run(
        [sys.executable, str(MAIN_PY), *args], env=env, capture_output=True, text=True, timeout=timeout_s
    )
    if done.returncode != 0:
        raise StartupError(f"`main.py {' '.join(args)}` failed: {(done.stderr or done.stdout).strip()[-800:]}")


def _rows_written(status_file: Path) -> int:
    try:
        report = json.loads(status_file.read_text())
    except (OSError, ValueError):
        return 0
    return sum(sum(q.get("rows_written", {}).values()) for q in report.get("queries", {}).values())


def timed_up(local_dir: Path, env: dict[str, str]) -> dict:
    """`main.py up` (engines, setup, job, generator): seconds until it returned and until the first row."""
    status_file = local_dir / "run" / "stream-status.json"
    status_file.unlink(missing_ok=True)  # the counters of an earlier job are not this one's
    started = time.monotonic()
    _main_py(["up"], env, UP_TIMEOUT_S)
    ready = time.monotonic() - started
    deadline = time.monotonic() + FIRST_ROW_TIMEOUT_S
    while _rows_written(status_file) == 0:
        if time.monotonic() > deadline:
            raise StartupError(f"no row reached Cassandra within {FIRST_ROW_TIMEOUT_S} s of `up` returning")
        time.sleep(0.5)
    return {"up_s": round(ready, 1), "first_row_s": round(time.monotonic() - started, 1)}


def cold_and_warm_up(settings: Settings) -> dict:
    """`up` into a fresh state folder next to the real one, `down`, `up` again; then `down` and remove it."""
    scratch = settings.local_dir / "bench-cold"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    for name in SHARED:
        (scratch / name).symlink_to(settings.local_dir / name)
    env = {
        **base_env(),
        "PIPELINE_LOCAL_DIR": str(scratch),
        "SPARK_CHECKPOINT_DIR": str(scratch / "data" / "spark" / "checkpoints" / "log-pipeline"),
    }
    try:
        cold = timed_up(scratch, env)
        _main_py(["down"], env, 300)
        return {"cold": cold, "warm": timed_up(scratch, env)}
    finally:
        _main_py(["down"], env, 300)
        shutil.rmtree(scratch, ignore_errors=True)
