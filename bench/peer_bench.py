"""The project's job against the peer (bench/peer.py, the plain Python consumer) on the same backlog.

In the bench's namespace: the job (warmed) drains a backlog produced at full speed; then, with the job
stopped, each peer configuration of the grid (processes x requests in flight) drains the same events (same
seed: the same ids and keys) into a keyspace of its own. Each rate is the end-to-end one of
bench/e2e_bench.py: events over the time from the first record produced to the last row written (WRITETIME),
read from the rows themselves. The best peer configuration counts, and the ratio is job / best peer.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from bench import e2e_bench
from bench.namespace import BenchNamespace, NamespaceError, create_keyspace, drop_keyspace
from config.settings import PROJECT_ROOT, Settings
from kafka.contract import streams
from kafka.offsets import topic_end_offsets

PEER_KEYSPACE = "bench_peer_logs"
READY_TIMEOUT_S = 90
STOP_WAIT_S = 30
SEED = 4242


def commit_end_offsets(settings: Settings, group: str, topics: list[str]) -> None:
    """Start the group at the topics' current ends: the peer reads only what is produced from now on."""
    ends = topic_end_offsets(settings.kafka_client("admin"), topics)
    if ends is None:
        raise NamespaceError("Kafka did not answer for the bench's topics")
    consumer = Consumer({**settings.kafka_client("admin"), "group.id": group})
    try:
        offsets = [TopicPartition(t, p, end) for t, parts in ends.items() for p, end in parts.items()]
        consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()


class PeerProcesses:
    """`processes` peer consumers of one group, started and waited for (partitions assigned), then stopped."""

    def __init__(self, settings: Settings, keyspace: str, processes: int, in_flight: int) -> None:
        self.settings, self.keyspace = settings, keyspace
        self.processes, self.in_flight = processes, in_flight
        self.group = f"bench-peer-{uuid.uuid4().hex[:8]}"
        self.folder = Path(tempfile.mkdtemp(prefix="bench-peer-"))
        self.running: list[subprocess.Popen] = []

    def __enter__(self) -> PeerProcesses:
        commit_end_offsets(self.settings, self.group, [s.topic for s in streams(self.settings.topic_prefix)])
        env_prefix = {"PIPELINE_TOPIC_PREFIX": self.settings.topic_prefix}
        for i in range(self.processes):
            cmd = [
                sys.executable, "-m", "bench.peer", "--keyspace", self.keyspace, "--group", self.group,
                "--in-flight", str(self.in_flight), "--ready", str(self.folder / f"ready-{i}"),
            ]  # fmt: skip
            with (self.folder / f"peer-{i}.log").open("w") as log:
                self.running.append(
                    subprocess.Popen(cmd, cwd=PROJECT_ROOT, env={**os.environ, **env_prefix}, stdout=log, stderr=log)
                )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while sum((self.folder / f"ready-{i}").exists() for i in range(self.processes)) < self.processes:
            dead = [p for p in self.running if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join((self.folder / f"peer-{i}.log").read_text()[-1500:] for i in range(self.processes))
                self.__exit__()
                raise NamespaceError(f"the peer consumers did not get their partitions:\n{logs}")
            time.sleep(0.5)
        time.sleep(2)  # the group's last rebalance settles (committed offsets keep it exact either way)
        return self

    def __exit__(self, *_exc) -> None:
        for process in self.running:
            process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.running = []
        shutil.rmtree(self.folder, ignore_errors=True)


def peer_trial(settings: Settings, processes: int, in_flight: int, events: int) -> dict:
    keyspace = f"{PEER_KEYSPACE}_{processes}x{in_flight}"
    peer_settings = dataclasses.replace(settings, cassandra_keyspace=keyspace)
    create_keyspace(peer_settings)
    try:
        with PeerProcesses(settings, keyspace, processes, in_flight):
            measured = e2e_bench.measure(peer_settings, rate=0, duration_s=None, count=events, seed=SEED)
    finally:
        drop_keyspace(peer_settings)
    return {"processes": processes, "in_flight": in_flight, **measured}


def run(namespace: BenchNamespace, grid: list[tuple[int, int]], events: int) -> dict:
    """The job's drain, then every peer configuration's; the namespace's job is stopped for the peers."""
    settings = namespace.settings
    job = e2e_bench.measure(settings, rate=0, duration_s=None, count=events, seed=SEED)
    namespace.stop_job()
    peers = [peer_trial(settings, processes, in_flight, events) for processes, in_flight in grid]
    best = max(peers, key=lambda p: p["end_to_end_events_per_s"])
    return {
        "events": events,
        "job": job,
        "peers": peers,
        "best_peer": {k: best[k] for k in ("processes", "in_flight", "end_to_end_events_per_s")},
        "job_vs_peer_ratio": round(job["end_to_end_events_per_s"] / best["end_to_end_events_per_s"], 2),
    }


def format_results(results: dict) -> str:
    job = results["job"]
    lines = [f"the same {results['events']:,} events drained, first produced to last written:"]
    lines.append(
        f"  job (Spark):       {job['end_to_end_events_per_s']:>9,.0f} events/s"
        f"{'' if job['complete'] else '  NOT ALL LANDED'}"
    )
    for peer in results["peers"]:
        lines.append(
            f"  peer {peer['processes']} x {peer['in_flight']:>4} in flight: {peer['end_to_end_events_per_s']:>9,.0f} "
            f"events/s{'' if peer['complete'] else '  NOT ALL LANDED'}"
        )
    lines.append(f"job / best peer: {results['job_vs_peer_ratio']:.2f}")
    return "\n".join(lines)
