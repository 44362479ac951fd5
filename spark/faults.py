"""Faults the tests inject on purpose; inert unless PIPELINE_FAULTS_DIR is set (never in production).

A file `block-<topic>` in that folder makes the topic's next micro-batch block at its start (the file is
consumed), to prove the stall watchdog: with the content `until-restart` the block ends, failing the batch,
when the watchdog restarts the query; with `until-exit` it ignores that, so only the watchdog's second step
(the job exiting for its supervisor to start it afresh) ends it. `block-after-write-<topic>` blocks a batch
after its rows are written and before Spark commits it, so that a driver killed there replays a batch that
was written in full.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from config.settings import FAULTS_DIR_ENV

log = logging.getLogger(__name__)

BLOCK_AT_MOST_S = 900  # a forgotten fault still ends


class InjectedFaultAborted(RuntimeError):
    """A blocked batch released by the stall watchdog's query restart (or by the safety bound)."""


def block_if_asked(topic: str, released: threading.Event, point: str = "block") -> None:
    directory = os.environ.get(FAULTS_DIR_ENV)
    if not directory:
        return
    path = Path(directory) / f"{point}-{topic}"
    try:
        mode = path.read_text().strip() or "until-restart"
        path.unlink()
    except FileNotFoundError:
        return
    log.warning("fault injected (%s): this %s batch blocks %s", point, topic, mode)
    deadline = time.monotonic() + BLOCK_AT_MOST_S
    while time.monotonic() < deadline:
        if released.wait(1) and mode == "until-restart":
            raise InjectedFaultAborted(f"injected block of a {topic} batch released by the stall watchdog")
    raise InjectedFaultAborted(f"injected block of a {topic} batch ended after {BLOCK_AT_MOST_S} s")
