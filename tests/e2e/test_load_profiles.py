"""`produce --profile malformed`: every record broken on purpose is a dead letter with the reason its kind
names, every good event lands, and `reconcile` accounts for both (nothing missing). `--profile evolve`: the
job reads both versions of a schema switched mid-run, in a namespace of the test's own (its own topics,
subjects, keyspace and run of the job), so the pipeline's subjects keep the contract's version."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter

from confluent_kafka.schema_registry import SchemaRegistryClient

from bench.namespace import BenchNamespace
from cassandra import InvalidRequest
from config.settings import PROJECT_ROOT
from database import dead_letters
from kafka.contract import STREAMS, streams
from kafka.load_profiles import MALFORMED_KINDS, NEW_FIELD, UNKNOWN_SCHEMA_ID, next_version
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


def main_py(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_malformed_records_are_dead_letters_by_kind_and_reconcile_accounts_for_all(pipeline, cassandra) -> None:
    settings = pipeline.settings
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
    before = topic_end_offsets(settings.kafka_client("admin"))
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
    after = topic_end_offsets(settings.kafka_client("admin"))

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


def test_evolve_switches_a_schema_mid_run_and_the_job_writes_both_versions(pipeline, cassandra) -> None:
    run = uuid.uuid4().hex[:8]
    with BenchNamespace(pipeline, topic_prefix=f"evolve_{run}_", keyspace=f"evolve_{run}") as settings:
        activity = next(s for s in streams(settings.topic_prefix) if s.name == "activity")
        produced = main_py(
            "produce", "--profile", "evolve", "--count", "3000", "--switch-after", "1200", "--rate", "0",
            "--seed", str(int(run, 16) % 10_000), "--no-progress",
            env={"PIPELINE_TOPIC_PREFIX": settings.topic_prefix},
        )  # fmt: skip
        assert produced.returncode == 0, produced.stdout + produced.stderr
        line = next(x for x in produced.stdout.splitlines() if x.startswith("evolved:"))
        evolved, schema_id = (int(n) for n in re.findall(r"evolved: (\d+) records .* \(id (\d+)\)", line)[0])
        acked = {m[0]: int(m[1]) for m in re.findall(r"^(\S+)\s+\d+\s+(\d+)", produced.stdout, re.MULTILINE)}
        assert evolved > 0 and acked[activity.topic] > evolved

        registry = SchemaRegistryClient({"url": settings.schema_registry_url})
        latest = registry.get_latest_version(activity.subject)
        assert (latest.version, latest.schema_id) == (2, schema_id)
        assert json.loads(latest.schema.schema_str) == next_version(activity).schema
        assert registry.get_latest_version("user_activity_logs-value").version == 1  # the pipeline's untouched

        table = f"{settings.cassandra_keyspace}.{activity.table}"

        def rows() -> list:
            try:
                return list(cassandra.session.execute(f"SELECT {NEW_FIELD} FROM {table}", timeout=60))
            except InvalidRequest:  # the job adds the column with the first batch it reads in the new version
                return []

        wait_for(lambda: len(rows()) >= acked[activity.topic], 240, f"{acked[activity.topic]} activity rows")
        values = Counter(row[0] is not None for row in rows())
        assert values == {True: evolved, False: acked[activity.topic] - evolved}
        dead = cassandra.session.execute(f"SELECT count(*) FROM {settings.cassandra_keyspace}.dead_letters").one()
        assert dead[0] == 0
    assert activity.subject not in registry.get_subjects()  # the namespace took its subjects with it
