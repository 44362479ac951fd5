"""`produce --profile malformed`: every record broken on purpose is a dead letter with the reason its kind
names, every good event lands, and `reconcile` accounts for both (nothing missing)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
import uuid
from collections import Counter

from config.settings import PROJECT_ROOT
from database import dead_letters
from kafka.contract import STREAMS
from kafka.load_profiles import MALFORMED_KINDS, UNKNOWN_SCHEMA_ID
from kafka.offsets import topic_end_offsets
from tests.e2e.helpers import wait_for

# The start of each kind's dead-letter reason (spark/transforms.py).
REASONS = {
    "null value": "null value: no Confluent wire-format header",
    "record shorter than the header": "record of 3 bytes is shorter than the 5-byte wire-format header",
    "bad magic byte": "bad magic byte 0x01",
    "unknown schema id": f"schema id {UNKNOWN_SCHEMA_ID} is not a registered version",
    "corrupt Avro payload": "corrupt Avro payload",
    "not a uuid": "not a uuid: event_id",
}


def main_py(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), *args], capture_output=True, text=True, timeout=300
    )


def test_malformed_records_are_dead_letters_by_kind_and_reconcile_accounts_for_all(pipeline, cassandra) -> None:
    settings = pipeline.settings
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
    before = topic_end_offsets(settings.kafka_bootstrap_servers)
    run = uuid.uuid4().hex[:8]
    produced = main_py(
        "produce", "--profile", "malformed", "--share", "0.2", "--count", "600", "--rate", "0",
        "--seed", str(int(run, 16) % 10_000), "--user-prefix", f"malformed_{run}", "--no-progress",
    )  # fmt: skip
    assert produced.returncode == 0, produced.stdout + produced.stderr
    line = next(x for x in produced.stdout.splitlines() if x.startswith("malformed on purpose:"))
    counted = {kind: int(n) for kind, n in re.findall(r"([a-zA-Z ]+?) x(\d+)", line.split("(", 1)[1])}
    counted = {kind.strip(" ,"): n for kind, n in counted.items()}
    assert set(counted) == set(MALFORMED_KINDS), line
    total = sum(counted.values())
    after = topic_end_offsets(settings.kafka_bootstrap_servers)

    def reconciled() -> dict | None:
        done = main_py("reconcile", "--since", since, "--json")
        report = json.loads(done.stdout) if done.stdout.startswith("{") else None
        if report and sum(t["dead_letters"] for t in report["topics"]) >= total:
            return report
        return None

    wait_for(lambda: reconciled() is not None, 180, f"{total} dead letters")
    report = reconciled()
    assert report["clean"], report
    assert sum(t["dead_letters"] for t in report["topics"]) == total
    assert sum(t["missing"] for t in report["topics"]) == 0

    today = dt.datetime.now(dt.UTC).date()
    hours = [(day, hour) for day in (today - dt.timedelta(days=1), today) for hour in dead_letters.HOURS]
    reasons: Counter = Counter()
    for stream in STREAMS:
        for row in dead_letters.read_hours(cassandra.session, stream.topic, hours):
            start, end = before[stream.topic].get(row.kafka_partition, 0), after[stream.topic][row.kafka_partition]
            if start <= row.kafka_offset < end:
                kind = next(k for k, prefix in REASONS.items() if row.reason.startswith(prefix))
                reasons[kind] += 1
    assert dict(reasons) == counted
