"""`main.py bench --quick` end to end on the real stack: every figure present and well-formed."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results"


def number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


@pytest.mark.lifecycle
def test_bench_quick_reports_every_figure(pipeline) -> None:
    before = set(RESULTS.glob("*-quick")) if RESULTS.exists() else set()
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "bench", "--quick"], capture_output=True, text=True, timeout=840
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
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
    assert len(results["targets"]) == 7 and all(t["measured"] is not None for t in results["targets"])
    assert "## Targets" in (folder / "summary.md").read_text()
    for plot in ("latency.png", "throughput.png"):
        assert (folder / plot).stat().st_size > 1000
