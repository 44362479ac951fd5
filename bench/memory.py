"""Resident memory of each local-mode service (its whole process tree: the Spark worker's executors, the
job's driver JVM under spark-submit), sampled in the background to keep the peaks. The bench's own run of
the job (bench/namespace.py) counts as the `stream` service while the pipeline's is paused."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psutil

from local.platform import Platform

BENCH_JOB_PID_FILE = "bench-stream.pid"  # written by bench/namespace.py while its job runs

MB = 2**20
# Hadoop forks `chmod` for each checkpoint file it writes; for its first milliseconds such a child still
# maps all of its parent's pages, and counting it would double the driver. Children this young are skipped.
TRANSIENT_S = 1.0


def service_trees(platform: Platform) -> Iterator[tuple[str, psutil.Process, list[psutil.Process]]]:
    """Each running service's root process and its whole tree (root first)."""
    pids = {
        name: info["pid"]
        for name, info in platform.supervisor.all_info().items()
        if info.get("statename") == "RUNNING" and info.get("pid")
    }
    bench_job = platform.paths.run / BENCH_JOB_PID_FILE
    if "stream" not in pids and bench_job.exists():
        pids["stream"] = int(bench_job.read_text())
    for name, pid in pids.items():
        try:
            root = psutil.Process(pid)
            yield name, root, [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue


def service_rss(platform: Platform) -> dict[str, int]:
    """Bytes resident per running service, children included."""
    rss = {}
    for name, root, tree in service_trees(platform):
        total = 0
        now = time.time()
        for proc in tree:
            try:
                if proc is root or now - proc.create_time() >= TRANSIENT_S:
                    total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        rss[name] = total
    return rss


class PeakMemory:
    """Samples every `interval_s` until stopped; keeps each service's peak and the peak of their sum."""

    def __init__(self, platform: Platform, interval_s: float = 1.0) -> None:
        self.platform = platform
        self.interval_s = interval_s
        self.peak_by_service: dict[str, int] = {}
        self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def sample(self) -> None:
        try:
            rss = service_rss(self.platform)
        except OSError:  # supervisord restarting between samples
            return
        for name, value in rss.items():
            self.peak_by_service[name] = max(self.peak_by_service.get(name, 0), value)
        self.peak_total = max(self.peak_total, sum(rss.values()))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def results(self) -> dict:
        return {
            "peak_rss_mb_by_service": {name: round(v / MB) for name, v in sorted(self.peak_by_service.items())},
            "peak_rss_mb_total": round(self.peak_total / MB),
        }
