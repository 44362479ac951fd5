"""One driver per checkpoint: the job holds an exclusive lock next to its checkpoints while it runs.

Two drivers on the same checkpoints would both commit batches through the rename-based checkpoint file
manager, which does not keep two writers apart. The lock is `flock` on a file in the checkpoint folder:
the kernel releases it when the holding process exits, however it exits (kill -9 included), so a crashed
job never blocks its successor.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_NAME = ".driver.lock"


class CheckpointLocked(RuntimeError):
    """Another live driver holds the checkpoints."""


class CheckpointLock:
    def __init__(self, checkpoint_dir: Path) -> None:
        self.path = checkpoint_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, wait_s: float = 30) -> None:
        """Take the lock, waiting up to `wait_s` (a driver killed a moment ago may still be exiting)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s
        while not _try_lock(fd):
            holder = os.pread(fd, 4096, 0).decode(errors="replace")
            if time.monotonic() < deadline:
                log.info("checkpoints locked by %s; waiting up to %.0f s", describe(holder), wait_s)
                time.sleep(min(2.0, wait_s))
                continue
            os.close(fd)
            raise CheckpointLocked(
                f"another streaming job already runs on the checkpoints in {self.path.parent} ({describe(holder)}); "
                "two drivers on one checkpoint corrupt it. Stop that job first (local mode: `python3 main.py down`, "
                "or `python3 main.py logs stream` to see it), or give this one its own SPARK_CHECKPOINT_DIR."
            ) from None
        os.ftruncate(fd, 0)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def describe(holder_text: str) -> str:
    try:
        holder = json.loads(holder_text)
        return f"pid {holder['pid']} on {holder['host']}, since {holder['since']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"
