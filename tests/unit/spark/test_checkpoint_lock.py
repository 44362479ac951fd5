"""One driver per checkpoint: a second one is refused while the first lives, and a killed one leaves no lock."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark.checkpoint_lock import LOCK_NAME, CheckpointLock, CheckpointLocked

HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from spark.checkpoint_lock import CheckpointLock
CheckpointLock(Path({folder!r})).acquire(wait_s=0)
print("locked", flush=True)
time.sleep(60)
"""


def hold_lock(folder: Path) -> subprocess.Popen:
    root = str(Path(__file__).resolve().parents[3])
    script = HOLD.format(root=root, folder=str(folder))
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"locked"
    return holder


def test_a_second_driver_is_refused_with_the_holder_named(tmp_path) -> None:
    holder = hold_lock(tmp_path)
    try:
        with pytest.raises(CheckpointLocked, match=rf"pid {holder.pid} on .*SPARK_CHECKPOINT_DIR"):
            CheckpointLock(tmp_path).acquire(wait_s=0)
    finally:
        holder.kill()
        holder.wait()


def test_a_driver_killed_with_sigkill_leaves_the_checkpoints_free(tmp_path) -> None:
    holder = hold_lock(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    lock = CheckpointLock(tmp_path)
    lock.acquire(wait_s=0)
    assert (tmp_path / LOCK_NAME).exists()
    lock.release()


def test_a_waiting_driver_gets_the_lock_once_the_holder_exits(tmp_path) -> None:
    holder = hold_lock(tmp_path)
    started = time.monotonic()
    subprocess.Popen(["sh", "-c", f"sleep 1; kill -9 {holder.pid}"])
    lock = CheckpointLock(tmp_path)
    lock.acquire(wait_s=20)
    lock.release()
    holder.wait()
    assert time.monotonic() - started < 20


def test_a_second_lock_in_the_same_process_is_refused_too(tmp_path) -> None:
    """flock belongs to the open file: even a second attempt from the same process waits for the first."""
    first = CheckpointLock(tmp_path)
    first.acquire(wait_s=0)
    with pytest.raises(CheckpointLocked):
        CheckpointLock(tmp_path).acquire(wait_s=0)
    first.release()


def test_release_lets_the_next_driver_in(tmp_path) -> None:
    first = CheckpointLock(tmp_path)
    first.acquire(wait_s=0)
    first.release()
    second = CheckpointLock(tmp_path)
    second.acquire(wait_s=0)
    second.release()
