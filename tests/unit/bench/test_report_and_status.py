"""Pure parts of `bench` and `status`: ratios, targets, the summary and plots, lag arithmetic."""

from __future__ import annotations

import json

from bench import report
from bench.sustained import lag_growth_per_s
from kafka.contract import STREAMS
from kafka.offsets import processed_offsets
from local.pipeline_status import topic_rows


def latency(rate: float, p99: int) -> dict:
    return {
        "target_rate": rate,
        "events": int(rate * 10),
        "complete": True,
        "end_to_end_events_per_s": rate * 0.9,
        "latency_ms": {"p50": p99 // 2, "p95": p99 - 100, "p99": p99, "max": p99 + 500},
    }


def sample_results() -> dict:
    results = {
        "mode": "quick",
        "started_at": "2026-11-26T15:00:00+0000",
        "duration_s": 250.0,
        "machine": {"cpus": 2, "cpu_model": "x", "memory_gb": 23.5, "python": "3.11.7", "platform": "Linux"},
        "settings": {"topic_partitions": 3},
        "startup": {"cold": {"up_s": 60.0, "first_row_s": 85.0}, "warm": {"up_s": 45.0, "first_row_s": 70.0}},
        "producer": {"producer_events_per_s": 16_000.0, "raw_produce_events_per_s": 140_000.0},
        "cassandra_ceiling": {
            "rows_per_s": 3_000.0,
            "trials": [{"processes": 1, "in_flight": 256, "rows_per_s": 3_000.0, "failed": 0}],
        },
        "connector_ceiling": {"rows_per_s": 8_000.0, "rows": 80_000, "cores": 3, "seconds": 10.0},
        "sustained": {
            "events_per_s": 2_000.0,
            "trials": [{"rate": 2000.0, "kept_up": True, "max_lag_after_settling": 5000, "lag_growth_per_s": 3.0}],
        },
        "latency": [latency(500, 2500), latency(1000, 3500), latency(2000, 6000), latency(5000, 40_000)],
        "latency_bursty": latency(1000, 4200),
        "peer": {
            "events": 300_000,
            "job": {"end_to_end_events_per_s": 9_000.0, "complete": True},
            "peers": [
                {"processes": 1, "in_flight": 256, "end_to_end_events_per_s": 4_000.0, "complete": True},
                {"processes": 2, "in_flight": 256, "end_to_end_events_per_s": 6_000.0, "complete": True},
            ],
            "job_vs_peer_ratio": 1.5,
        },
        "memory": {"peak_rss_mb_by_service": {"cassandra": 1500, "kafka": 450}, "peak_rss_mb_total": 3900},
    }
    results["ratios"] = report.ratios(results)
    results["targets"] = report.targets(results)
    return results


def test_ratios_divide_by_the_ceilings_of_the_same_run() -> None:
    ratios = sample_results()["ratios"]
    assert ratios == {
        "end_to_end_vs_cassandra_ceiling": 0.667,
        "end_to_end_vs_connector_ceiling": 0.25,
        "producer_vs_raw_produce": 0.114,
    }


def test_targets_report_what_was_measured_and_whether_it_was_met() -> None:
    met = {t["target"]: (t["measured"], t["met"]) for t in sample_results()["targets"]}
    assert met["producer events/s (one process)"] == (16_000.0, False)
    assert met["end-to-end sustained events/s"] == (2_000.0, False)
    assert met["end-to-end / Cassandra ceiling (cassandra-driver)"] == (0.667, True)
    assert met["end-to-end / connector-alone ceiling"] == (0.25, False)
    assert met["p99 latency at 1,000 events/s (ms)"] == (3500, False)
    assert met["p99 latency at 5,000 events/s (ms)"] == (40_000, False)
    assert met["job / best peer drain rate"] == (1.5, True)
    assert met["warm `up` to first row (s)"] == (70.0, True)
    assert met["whole stack peak RSS (MB)"] == (3900, True)


def test_report_writes_summary_and_plots(tmp_path) -> None:
    results = sample_results()
    report.write(results, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "| p99 latency at 1,000 events/s (ms) | <= 1,500 | 3,500 | no |" in summary
    assert "| peer, 2 process(es) x 256 in flight | 6,000 | yes |" in summary
    assert "Job / best peer: **1.50**" in summary
    assert "Under the `bursty` profile" in summary and "p99 4,200 ms" in summary
    assert "end-to-end / Cassandra ceiling (cassandra-driver) **0.67**" in summary
    for plot in ("latency.png", "throughput.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(results)  # what bench writes as results.json


def test_a_missed_p99_says_what_the_box_was_doing_at_that_rate() -> None:
    results = sample_results()
    results["latency"][1]["cpu"] = {
        "box_busy_share": 0.82,
        "pct_of_one_core_by_service": {"stream": 66, "spark-worker": 40, "cassandra": 26, "bench (producer)": 19},
    }
    results["producer"]["cpu"] = {"box_busy_share": 0.9, "pct_of_one_core_by_service": {"stream": 95, "kafka": 0}}
    why = {t["target"]: t.get("why") for t in report.targets(results)}
    assert why["producer events/s (one process)"] == "box 90 % busy: job driver 95 % of a core (docs/performance.md)"
    assert why["p99 latency at 1,000 events/s (ms)"] == (
        "box 82 % busy: job driver 66 %, executor 40 %, cassandra 26 %, producer 19 % of a core (docs/performance.md)"
    )
    assert why["p99 latency at 5,000 events/s (ms)"] is None  # measured without the CPU split
    assert why["job / best peer drain rate"] is None  # met


def test_lag_growth_is_the_least_squares_slope() -> None:
    assert lag_growth_per_s([(0, 0), (2, 200), (4, 400)]) == 100
    assert lag_growth_per_s([(0, 500), (2, 100), (4, 500), (6, 100)]) < 0  # a sawtooth is not growth
    assert lag_growth_per_s([(0, 1)]) == 0


def test_status_lag_is_end_minus_processed_per_partition() -> None:
    session, auth, activity = (s.topic for s in STREAMS)
    progress = {"batchId": 7, "sources": [{"endOffset": json.dumps({session: {"0": 10, "1": 5}})}]}
    report_ = {"queries": {session: {"last_progress": progress, "rows_written": {"session_logs": 15}}}}
    ends = {session: {0: 12, 1: 5}, auth: {0: 3}, activity: {0: 0}}
    rows = {r["topic"]: r for r in topic_rows(ends, report_, now=0)}
    assert rows[session]["lag"] == 2 and rows[session]["processed_offset"] == 15
    assert rows[session]["rows_written"] == 15 and rows[session]["last_batch_id"] == 7
    assert rows[auth]["lag"] == 3 and rows[auth]["processed_offset"] is None  # never processed: all of it lags
    assert topic_rows(None, None, now=0)[0]["lag"] is None  # Kafka away: unknown, not zero
    assert processed_offsets(progress, auth) is None
