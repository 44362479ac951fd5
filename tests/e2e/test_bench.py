"""`main.py bench --quick` end to end on the real stack: every figure present and well-formed, and the
pipeline's own topics and tables exactly as the bench found them (it works in a namespace of its own)."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from database.cassandra_connection import CassandraConnection
from database.schema import KEYSPACE
from kafka.contract import STREAMS
from kafka.offsets import topic_end_offsets
from local.pipeline_status import total_lag
from tests.e2e.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results"


def number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def table_digests(settings) -> dict[str, tuple[int, str]]:
    """Per table of the pipeline's keyspace: rows, and a digest of every row's primary key and write time."""
    digests = {}
    with CassandraConnection.open(settings) as cassandra:
        session = cassandra.session
        columns = session.execute(
            "SELECT table_name, column_name, kind FROM system_schema.columns WHERE keyspace_name = %s", (KEYSPACE,)
        )
        tables: dict[str, tuple[list[str], list[str]]] = {}
        for c in columns:
            keys, regular = tables.setdefault(c.table_name, ([], []))
            (regular if c.kind == "regular" else keys).append(c.column_name)
        for table, (keys, regular) in sorted(tables.items()):
            rows = session.execute(
                f"SELECT {', '.join(keys)}, WRITETIME({sorted(regular)[0]}) AS written FROM {KEYSPACE}.{table}",
                timeout=120,
            )
            lines = sorted(repr(tuple(row)) for row in rows)
            digests[table] = (len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest())
    return digests


def pipeline_data(settings) -> dict:
    """Every topic's and keyspace's name, the pipeline's topics' end offsets and tables' digests. (The
    registry's own topics move whenever a client registers the schemas: they are not the pipeline's.)"""
    with CassandraConnection.open(settings) as cassandra:
        rows = cassandra.session.execute("SELECT keyspace_name FROM system_schema.keyspaces")
        keyspaces = sorted(r.keyspace_name for r in rows)
    return {
        "topics": all_topics(settings),
        "offsets": topic_end_offsets(settings.kafka_client("admin"), [s.topic for s in STREAMS]),
        "keyspaces": keyspaces,
        "tables": table_digests(settings),
    }


def all_topics(settings) -> list[str]:
    admin = AdminClient(settings.kafka_client("admin"))
    return sorted(t for t in admin.list_topics(timeout=30).topics if not t.startswith("__"))


@pytest.mark.lifecycle
def test_bench_quick_reports_every_figure(pipeline) -> None:
    settings = pipeline.settings
    wait_for(lambda: (total_lag(settings) or (1,))[0] == 0, 180, "the pipeline's job to finish what it was given")
    found = pipeline_data(settings)
    before = set(RESULTS.glob("*-quick")) if RESULTS.exists() else set()
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "bench", "--quick"], capture_output=True, text=True, timeout=840
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    left = pipeline_data(settings)
    assert left["topics"] == found["topics"], "the bench left topics"
    assert left["offsets"] == found["offsets"], "the bench wrote to the pipeline's topics"
    assert left["keyspaces"] == found["keyspaces"], "the bench left a keyspace"
    assert left["tables"] == found["tables"], "the bench changed the pipeline's tables"
    (folder,) = set(RESULTS.glob("*-quick")) - before
    results = json.loads((folder / "results.json").read_text())

    producer = results["producer"]
    for key in ("producer_events_per_s", "raw_produce_events_per_s", "bytes_per_event", "producer_vs_raw_ratio"):
        assert number(producer[key]) and producer[key] > 0, key
    assert number(results["cassandra_ceiling"]["rows_per_s"]) and results["cassandra_ceiling"]["rows_per_s"] > 0
    assert all(t["failed"] == 0 for t in results["cassandra_ceiling"]["trials"])
    connector = results["connector_ceiling"]
    assert number(connector["rows_per_s"]) and connector["rows_per_s"] > 0 and connector["rows"] > 0

    sustained = results["sustained"]
    assert len(sustained["trials"]) >= 2 and number(sustained["events_per_s"])
    assert all(t["all_delivered"] for t in sustained["trials"])

    rates = [m["target_rate"] for m in results["latency"]]
    assert {500, 1000, 2000, 5000, sustained["events_per_s"] or 500} == set(rates)
    for measured in results["latency"]:
        assert measured["complete"], measured  # every event produced landed
        lat = measured["latency_ms"]
        assert number(lat["p50"]) and lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]

    for kind in ("cold", "warm"):
        start = results["startup"][kind]
        assert number(start["up_s"]) and start["up_s"] <= start["first_row_s"], kind
    memory = results["memory"]
    assert {"kafka", "cassandra", "registry", "spark-worker", "stream"} <= memory["peak_rss_mb_by_service"].keys()
    assert memory["peak_rss_mb_total"] >= max(memory["peak_rss_mb_by_service"].values())

    assert all(number(v) for v in results["ratios"].values())
    assert len(results["targets"]) == 9 and all(t["measured"] is not None for t in results["targets"])
    bursty = results["latency_bursty"]
    assert bursty["complete"] and bursty["events"] > 0
    peer = results["peer"]
    assert peer["job"]["complete"] and all(p["complete"] for p in peer["peers"]), peer
    assert number(peer["job_vs_peer_ratio"]) and peer["job_vs_peer_ratio"] > 0
    assert "## Targets" in (folder / "summary.md").read_text()
    for plot in ("latency.png", "throughput.png"):
        assert (folder / plot).stat().st_size > 1000
