"""The Prometheus exposition of a dashboard snapshot: names, units, labels, counters and gaps."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from dashboard.metrics import render


def _topic(topic: str, table: str, **overrides) -> dict:
    row = {
        "topic": topic, "table": table, "end_offset": 1200, "processed_offset": 1100, "lag": 100, "lag_s": 1.5,
        "produced_per_s": 40.0, "processed_per_s": 39.5, "rows_written": 1000, "dead_letters": 3,
        "restarts": 1, "last_batch_ms": 850, "input_rows_per_s": 41.0, "processed_rows_per_s": 120.0,
        "freshness_s": 0.8, "latency_p50_s": 1.2, "latency_p99_s": 2.4,
    }  # fmt: skip
    return row | overrides


def _snapshot(**overrides) -> dict:
    snap = {
        "generated_at": 1_700_000_000.0,
        "sample_s": 0.25,
        "services": [
            {"service": "kafka", "state": "up"},
            {"service": "cassandra", "state": "down"},
        ],
        "job": {"health": "healthy"},
        "topics": [
            _topic("user_auth_logs", "auth_logs"),
            _topic("user_session_logs", "session_logs", lag_s=None, latency_p50_s=None, latency_p99_s=None),
        ],
        "dead_letters": {"by_reason": [{"topic": "user_auth_logs", "reason": "not a uuid: event_id", "count": 3}]},
        "sources": {"cassandra": "NoHostAvailable"},
    }
    return snap | overrides


def _samples(text: bytes) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_every_figure_is_exposed_with_its_labels_and_units() -> None:
    samples = _samples(render(_snapshot()))
    assert samples[("pipeline_service_up", (("service", "kafka"),))] == 1
    assert samples[("pipeline_service_up", (("service", "cassandra"),))] == 0
    assert samples[("pipeline_job_healthy", ())] == 1
    assert samples[("pipeline_job_lag_records", (("topic", "user_auth_logs"),))] == 100
    assert samples[("pipeline_job_lag_seconds", (("topic", "user_auth_logs"),))] == 1.5
    assert samples[("pipeline_topic_end_offset_records", (("topic", "user_auth_logs"),))] == 1200
    assert samples[("pipeline_query_batch_duration_seconds", (("query", "user_auth_logs"),))] == 0.85
    assert samples[("pipeline_table_rows_written_total", (("table", "auth_logs"),))] == 1000
    assert samples[("pipeline_query_restarts_total", (("query", "user_auth_logs"),))] == 1
    assert samples[("pipeline_end_to_end_latency_seconds", (("quantile", "0.99"), ("table", "auth_logs")))] == 2.4
    reason = (("reason", "not a uuid: event_id"), ("topic", "user_auth_logs"))
    assert samples[("pipeline_dead_letters_last_day_records", reason)] == 3
    assert samples[("pipeline_dashboard_source_up", (("source", "cassandra"),))] == 0
    assert samples[("pipeline_dashboard_source_up", (("source", "kafka"),))] == 1


def test_counters_carry_total_and_types_follow_prometheus_conventions() -> None:
    text = render(_snapshot()).decode()
    assert "# TYPE pipeline_table_rows_written_total counter" in text
    assert "# TYPE pipeline_dead_letters_total counter" in text
    assert "# TYPE pipeline_job_lag_records gauge" in text
    types = [line.split()[2:] for line in text.splitlines() if line.startswith("# TYPE")]
    assert all(name.endswith("_total") for name, kind in types if kind == "counter")
    assert not any(name.endswith("_total") for name, kind in types if kind == "gauge")


def test_an_unknown_figure_is_left_out_rather_than_reported_as_zero() -> None:
    samples = _samples(render(_snapshot()))
    assert ("pipeline_job_lag_seconds", (("topic", "user_session_logs"),)) not in samples
    assert not any(
        name == "pipeline_end_to_end_latency_seconds" and ("table", "session_logs") in labels
        for name, labels in samples
    )


def test_before_the_first_sample_the_exposition_is_empty_but_valid() -> None:
    assert list(text_string_to_metric_families(render(None).decode())) == []


def test_label_values_are_escaped() -> None:
    snap = _snapshot(
        dead_letters={"by_reason": [{"topic": "t", "reason": 'bad "quote"\nnewline', "count": 1}]},
    )
    samples = _samples(render(snap))
    labels = (("reason", 'bad "quote"\nnewline'), ("topic", "t"))
    assert samples[("pipeline_dead_letters_last_day_records", labels)] == 1
