"""Where the CPU went during a measurement: each local-mode service's CPU time (its whole process tree, as
bench/memory.py counts memory) and how busy the box was, between the start and the end of a `with` block.

Percentages are of one core, as `top` shows them: 200 % is both cores of a 2-core box.
"""

from __future__ import annotations

import time

import psutil

from bench.memory import service_trees
from local.platform import Platform


def service_cpu_seconds(platform: Platform) -> dict[str, float]:
    """User + system CPU seconds so far per running service, its live children included."""
    seconds = {}
    for name, _root, tree in service_trees(platform):
        total = 0.0
        for proc in tree:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        seconds[name] = total
    # The bench's own process produces the load (the producer runs in it).
    own = psutil.Process().cpu_times()
    seconds["bench (producer)"] = own.user + own.system
    return seconds


def busy_share(before: psutil._common.scputimes, after: psutil._common.scputimes) -> float:
    """The fraction of the box's CPU time, all cores together, that was not idle or waiting on I/O."""
    spent = {field: getattr(after, field) - getattr(before, field) for field in after._fields}
    total = sum(spent.values())
    idle = spent.get("idle", 0.0) + spent.get("iowait", 0.0)
    return (total - idle) / total if total > 0 else 0.0


class CpuUsage:
    """CPU use of every service and of the box over a `with` block."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._started = 0.0
        self._before: dict[str, float] = {}
        self._box_before = None
        self.result: dict = {}

    def __enter__(self) -> CpuUsage:
        self._started = time.monotonic()
        self._before = service_cpu_seconds(self.platform)
        self._box_before = psutil.cpu_times()
        return self

    def __exit__(self, *_exc) -> None:
        wall = time.monotonic() - self._started
        after = service_cpu_seconds(self.platform)
        box = busy_share(self._box_before, psutil.cpu_times())
        # A service restarted in between (a new pid tree) would count from zero: never negative.
        used = {name: max(0.0, after[name] - self._before.get(name, 0.0)) for name in after}
        cores = psutil.cpu_count() or 1
        self.result = {
            "seconds": round(wall, 1),
            "cores": cores,
            "box_busy_pct": round(100 * box * cores),
            "box_busy_share": round(box, 3),
            "pct_of_one_core_by_service": {
                name: round(100 * seconds / wall) for name, seconds in sorted(used.items()) if wall > 0
            },
        }


def format_cpu(result: dict) -> str:
    by_service = ", ".join(
        f"{name} {pct}%"
        for name, pct in sorted(result["pct_of_one_core_by_service"].items(), key=lambda kv: -kv[1])
        if pct >= 1
    )
    return (
        f"cpu over {result['seconds']:.0f} s: box {result['box_busy_pct']}% of {result['cores'] * 100}% "
        f"({100 * result['box_busy_share']:.0f} % busy); by service: {by_service}"
    )
