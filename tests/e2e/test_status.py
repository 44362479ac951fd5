"""`main.py status --json` against the running pipeline: offsets, lag and the job's counters add up."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from kafka.contract import STREAMS
from kafka.kafka_producer import LogProducer
from tests.e2e.helpers import unique_events, wait_for

ROOT = Path(__file__).resolve().parents[2]


def status() -> dict:
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "status", "--json"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def caught_up(report: dict) -> bool:
    return report["job"]["state"] == "running" and all(
        t["lag"] == 0 and t["processed_offset"] is not None for t in report["topics"]
    )


def test_status_json_reflects_a_known_produced_count(pipeline) -> None:
    latest: dict = {}

    def settled() -> bool:
        latest.update(status())
        return caught_up(latest)

    wait_for(settled, 240, "the job to catch up before producing")
    before = {t["topic"]: t for t in latest["topics"]}

    events = unique_events(sessions=150)
    produced = Counter(e.stream.topic for e in events)
    tally = LogProducer(pipeline.settings).run(events, rate=0, progress=False)
    assert tally.all_delivered

    def counted() -> bool:
        latest.update(status())
        rows = {t["topic"]: t["rows_written"] - before[t["topic"]]["rows_written"] for t in latest["topics"]}
        return caught_up(latest) and rows == dict(produced)

    wait_for(counted, 240, f"status to count the {len(events)} events produced")
    after = {t["topic"]: t for t in latest["topics"]}
    for stream in STREAMS:
        old, new = before[stream.topic], after[stream.topic]
        assert new["end_offset"] - old["end_offset"] == produced[stream.topic], stream.topic
        assert new["processed_offset"] == new["end_offset"], stream.topic
        assert new["dead_letters"] == old["dead_letters"], stream.topic
        assert new["table"] == stream.table
        assert new["freshness_s"] is not None and new["last_batch_ms"] is not None
    assert latest["job"]["lag"] == 0
    assert {s["service"]: s["state"] for s in latest["services"]}["stream"] == "up"
