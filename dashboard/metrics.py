"""The dashboard's snapshot in Prometheus text format (pure: a snapshot in, the exposition out).

Names follow Prometheus conventions: a `pipeline_` prefix, base units in the name (`_seconds`, `_records`),
`_total` on counters, and labels for topic, table, query, service and reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _filled(family: Metric, rows: list[tuple[list[str], float | None]]) -> Metric:
    """A sample per row whose value is known: an unknown figure is left out, never reported as 0."""
    for values, value in rows:
        if value is not None:
            family.add_metric(values, float(value))
    return family


def _gauge(name: str, doc: str, labels: list[str], rows: list[tuple[list[str], float | None]]) -> Metric:
    return _filled(GaugeMetricFamily(name, doc, labels=labels), rows)


def _counter(name: str, doc: str, labels: list[str], rows: list[tuple[list[str], float | None]]) -> Metric:
    return _filled(CounterMetricFamily(name, doc, labels=labels), rows)


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def families(snap: dict) -> Iterator[Metric]:
    services, topics, job = snap["services"], snap["topics"], snap["job"]
    yield _gauge(
        "pipeline_service_up", "1 if the service runs and answers its readiness probe.", ["service"],
        [([s["service"]], 1 if s["state"] == "up" else 0) for s in services],
    )  # fmt: skip
    yield _gauge(
        "pipeline_job_healthy", "1 if the streaming job reports itself healthy.", [],
        [([], 1 if job["health"] == "healthy" else 0)],
    )  # fmt: skip
    by_topic = {
        "pipeline_topic_end_offset_records": ("end_offset", "Sum over partitions of the topic's end offset."),
        "pipeline_topic_produced_records_per_second": ("produced_per_s", "Records appended per second (last sample)."),
        "pipeline_job_processed_offset_records": ("processed_offset", "Sum of the job's committed offsets."),
        "pipeline_job_processed_records_per_second": ("processed_per_s", "Records the job committed per second."),
        "pipeline_job_lag_records": ("lag", "Records in the topic the job has not committed yet."),
        "pipeline_job_lag_seconds": ("lag_s", "Age of the oldest record the job has not committed (0 if none)."),
    }
    for name, (key, doc) in by_topic.items():
        yield _gauge(name, doc, ["topic"], [([t["topic"]], t[key]) for t in topics])
    by_query = {
        "pipeline_query_batch_duration_seconds": (
            lambda t: _seconds(t["last_batch_ms"]),
            "Last micro-batch, end to end.",
        ),
        "pipeline_query_input_records_per_second": (lambda t: t["input_rows_per_s"], "Spark's input rate."),
        "pipeline_query_processed_records_per_second": (
            lambda t: t["processed_rows_per_s"],
            "Spark's processing rate.",
        ),
    }
    for name, (value, doc) in by_query.items():
        yield _gauge(name, doc, ["query"], [([t["topic"]], value(t)) for t in topics])
    yield _counter(
        "pipeline_query_restarts", "Restarts of the query since the job started.", ["query"],
        [([t["topic"]], t["restarts"]) for t in topics],
    )  # fmt: skip
    yield _counter(
        "pipeline_table_rows_written", "Rows the job wrote since it started.", ["table"],
        [([t["table"]], t["rows_written"]) for t in topics],
    )  # fmt: skip
    yield _gauge(
        "pipeline_table_freshness_seconds", "Time since the newest row the job wrote.", ["table"],
        [([t["table"]], t["freshness_s"]) for t in topics],
    )  # fmt: skip
    latency = GaugeMetricFamily(
        "pipeline_end_to_end_latency_seconds",
        "WRITETIME of recent rows minus their Kafka record timestamp, by quantile of the last sample.",
        labels=["table", "quantile"],
    )
    for t in topics:
        for quantile, key in (("0.5", "latency_p50_s"), ("0.99", "latency_p99_s")):
            if t[key] is not None:
                latency.add_metric([t["table"], quantile], t[key])
    yield latency
    yield _counter(
        "pipeline_dead_letters", "Records the job sent to the dead-letter table since it started.", ["topic"],
        [([t["topic"]], t["dead_letters"]) for t in topics],
    )  # fmt: skip
    yield _gauge(
        "pipeline_dead_letters_last_day_records", "Dead letters of the last 24 hours, by reason.", ["topic", "reason"],
        [([d["topic"], d["reason"]], d["count"]) for d in snap["dead_letters"]["by_reason"]],
    )  # fmt: skip
    alerts = snap.get("auth_alerts") or {}
    yield _counter(
        "pipeline_auth_alert_rows_written", "Failed-login alert rows written since the job started (rewrites too).", [],
        [([], alerts.get("alerts_written"))],
    )  # fmt: skip
    yield _counter(
        "pipeline_auth_alert_late_events_dropped", "Failed logins that arrived later than the watermark.", [],
        [([], alerts.get("late_dropped"))],
    )  # fmt: skip
    yield _gauge(
        "pipeline_auth_alert_state_rows", "Rows the failed-login query holds in its state.", [],
        [([], alerts.get("state_rows"))],
    )  # fmt: skip
    sources = ("kafka", "cassandra", "latency sample", "dead letters", "alerts")
    yield _gauge(
        "pipeline_dashboard_source_up", "1 if the dashboard's last sample read this source.", ["source"],
        [([s.replace(" ", "_")], 0 if s in snap["sources"] else 1) for s in sources],
    )  # fmt: skip
    yield _gauge(
        "pipeline_dashboard_sample_duration_seconds", "Time the last sample took.", [], [([], snap.get("sample_s"))]
    )
    yield _gauge(
        "pipeline_dashboard_sample_timestamp_seconds", "When the last sample was taken (Unix time).", [],
        [([], snap["generated_at"])],
    )  # fmt: skip


class _SnapshotCollector:
    def __init__(self, snap: dict) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        return families(self.snap)


def render(snap: dict | None) -> bytes:
    """The exposition of one snapshot; before the first sample, no series at all."""
    registry = CollectorRegistry(auto_describe=False)
    if snap is not None:
        registry.register(_SnapshotCollector(snap))
    return generate_latest(registry)
