"""One snapshot of the whole pipeline every DASHBOARD_REFRESH_S seconds, kept with its history.

The figures are `status`'s (local/pipeline_status.py: one source of truth), plus what only a page needs: rates
over time, latency measured on recent rows, lag in seconds and the recent dead letters (dashboard/sources.py).
A source that does not answer is named with its error in the snapshot; the rest of the page stays live.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from cassandra.cluster import NoHostAvailable
from confluent_kafka import KafkaException
from confluent_kafka.schema_registry.error import SchemaRegistryError
from requests import RequestException

from cassandra import DriverException
from config.settings import Settings
from dashboard import sources
from dashboard.history import History, Point
from database.cassandra_connection import CassandraConnection, CassandraUnavailable
from kafka.contract import streams
from kafka.schema_registry import RegistryUnavailable
from local import probes
from local.pipeline_status import STALE_AFTER_S, read_job_report, status_of
from local.platform import Platform, status_rows
from local.topology import topology
from ops.errors import OperatorError
from ops.wire import WireDecoder

log = logging.getLogger(__name__)

T = TypeVar("T")
ROWS_EVERY = 2
DEAD_LETTERS_EVERY = 3

# What a source that is down or slow raises; anything else is a bug and is logged with its traceback.
SOURCE_ERRORS = (
    OperatorError, KafkaException, TimeoutError, OSError, NoHostAvailable, DriverException, CassandraUnavailable,
    SchemaRegistryError, RegistryUnavailable, RequestException, KeyError,
)  # fmt: skip


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}"[:300] if text else exc.__class__.__name__


def probed_services(settings: Settings) -> list[dict]:
    """Service rows from each engine's own probe (Compose, where no supervisord knows the containers)."""
    nodes = topology(settings)
    checks = [
        *(
            (n.name, n.bootstrap, lambda n=n: probes.kafka_node_ready(settings, n.bootstrap, n.node_id))
            for n in nodes.kafka
        ),
        ("registry", settings.schema_registry_url, lambda: probes.registry_ready(settings)),
        *(
            (n.name, f"{n.host}:{settings.cassandra_port}", lambda n=n: probes.cassandra_node_ready(settings, n.host))
            for n in nodes.cassandra
        ),
        ("spark-master", settings.spark_master_ui_url, lambda: probes.spark_master_ready(settings)),
        ("stream", f"spark app {settings.job_name}", lambda: probes.stream_job_ready(settings)),
    ]
    rows = []
    for name, address, check in checks:
        reason = check()
        rows.append(
            {"service": name, "state": "up" if reason is None else "down", "address": address,
             "pid": None, "uptime": None, "detail": reason or ""}
        )  # fmt: skip
    return rows


def links(settings: Settings) -> dict[str, str]:
    """Where to look further: DASHBOARD_LINKS (`name=url;...`, Compose's host-facing addresses), else local mode's."""
    if settings.dashboard_links:
        pairs = (item.split("=", 1) for item in settings.dashboard_links.split(";") if "=" in item)
        return {name.strip(): url.strip() for name, url in pairs}
    return {
        "Spark job UI": "http://127.0.0.1:4040",
        "Spark master": settings.spark_master_ui_url,
        "Schema Registry": f"{settings.schema_registry_url}/subjects",
        "Prometheus metrics": f"{settings.dashboard_url}/metrics",
    }


class Collector:
    """Samples the pipeline in a background thread; `latest` is the newest snapshot (None before the first)."""

    def __init__(self, settings: Settings, services: Callable[[], list[dict]]) -> None:
        self.settings = settings
        self.services = services
        self.streams = list(streams(settings.topic_prefix))
        self.history = History()
        self.decoder = WireDecoder(self.settings.registry_client("admin"), retry_s=2)
        self.rows = sources.RowSampler(self.settings, self.decoder)
        self.cassandra: CassandraConnection | None = None
        self.latest: dict | None = None
        self.samples = 0
        self._rows: dict[str, sources.TopicSample] | None = None
        self._letters: sources.DeadLetterSummary | None = None
        self._alerts: list[dict] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-collector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.rows.close()
        self._drop_session()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.latest = self.collect()
                self.samples += 1
            except Exception:  # the page must outlive any one bad sample; the traceback goes to the log
                log.exception("dashboard sample failed")
            self._stop.wait(max(self.settings.dashboard_refresh_s - (time.monotonic() - started), 0.5))

    def _session(self) -> CassandraConnection:
        if self.cassandra is None:
            self.cassandra = CassandraConnection.open(self.settings, retry_s=0)
        return self.cassandra

    def _drop_session(self) -> None:
        if self.cassandra is not None:
            self.cassandra.cluster.shutdown()
            self.cassandra = None

    def _rows_sample(self, report: dict | None, kafka_up: bool, errors: dict) -> dict[str, sources.TopicSample]:
        if report is None or not kafka_up:
            return {}
        queries = report.get("queries", {})
        progress = {s: queries.get(s.topic, {}).get("last_progress") for s in self.streams}
        return self._guarded("latency sample", lambda: self.rows.sample(self._session(), progress), errors) or {}

    def _dead_letters(self, errors: dict) -> sources.DeadLetterSummary | None:
        keyspace = self.settings.cassandra_keyspace
        return self._guarded(
            "dead letters", lambda: sources.dead_letter_summary(self._session(), keyspace, self.streams), errors
        )

    def _guarded(self, source: str, read: Callable[[], T], errors: dict) -> T | None:
        """`read()`, or None with the failure named under its source (Cassandra's, which also drops the session)."""
        try:
            return read()
        except (NoHostAvailable, DriverException, CassandraUnavailable) as exc:
            self._drop_session()
            errors["cassandra"] = _error(exc)
        except SOURCE_ERRORS as exc:
            errors[source] = _error(exc)
        return None

    def collect(self) -> dict:
        started = time.monotonic()
        status = status_of(self.settings, self.services())
        errors: dict[str, str] = {}
        if status["topics"] and all(t["end_offset"] is None for t in status["topics"]):
            errors["kafka"] = f"no end offsets from Kafka at {self.settings.kafka_bootstrap_servers}"
        report = read_job_report(self.settings.job_status_file)
        if report is not None and status["generated_at"] - report.get("updated_at", 0) > STALE_AFTER_S:
            report = None  # a stopped job's offsets say nothing about recent rows
        # The row sample and the dead letters cost Cassandra reads: taken every few refreshes (bench dashboard).
        if self.samples % ROWS_EVERY == 0 or self._rows is None:
            self._rows = self._rows_sample(report, "kafka" not in errors, errors)
        if self.samples % DEAD_LETTERS_EVERY == 0 or self._letters is None:
            self._letters = self._dead_letters(errors)
            if status.get("auth_alerts") is not None:
                keyspace = self.settings.cassandra_keyspace
                self._alerts = self._guarded("alerts", lambda: sources.recent_alerts(self._session(), keyspace), errors)
        samples, letters = self._rows, self._letters
        point = Point(
            at=status["generated_at"],
            end_offset={t["topic"]: t["end_offset"] for t in status["topics"]},
            processed_offset={t["topic"]: t["processed_offset"] for t in status["topics"]},
            lag={t["topic"]: t["lag"] for t in status["topics"]},
            lag_s={topic: s.lag_s for topic, s in samples.items()},
            p50_s={t["table"]: samples[t["topic"]].p50_s for t in status["topics"] if t["topic"] in samples},
            p99_s={t["table"]: samples[t["topic"]].p99_s for t in status["topics"] if t["topic"] in samples},
        )
        self.history.add(point)
        return snapshot(status, point, self.history, samples, letters, errors, links(self.settings)) | {
            "auth_alerts": status.get("auth_alerts") and status["auth_alerts"] | {"newest": self._alerts or []},
            "refresh_s": self.settings.dashboard_refresh_s,
            "sample_s": round(time.monotonic() - started, 3),
        }


def snapshot(status, point, history, samples, letters, errors, link_map) -> dict:
    """The page's and /metrics's view: `status`'s figures, each topic and table completed with rates,
    lag in seconds, latency and dead letters by reason."""
    by_reason = letters.by_reason if letters is not None else {}
    topics = []
    for t in status["topics"]:
        sample = samples.get(t["topic"])
        topics.append(
            t
            | {
                "produced_per_s": history.latest_rate("end_offset", t["topic"]),
                "processed_per_s": history.latest_rate("processed_offset", t["topic"]),
                "lag_s": sample.lag_s if sample else None,
                "dead_letters_by_reason": {r: n for (topic, r), n in sorted(by_reason.items()) if topic == t["topic"]},
                "latency_p50_s": sample.p50_s if sample else None,
                "latency_p99_s": sample.p99_s if sample else None,
                "latency_samples": len(sample.latencies_s) if sample else 0,
            }
        )
    topic_names = [t["topic"] for t in topics]
    table_names = [t["table"] for t in topics]
    return {
        "generated_at": point.at,
        "services": status["services"],
        "job": status["job"],
        "topics": topics,
        "dead_letters": {
            "by_reason": [{"topic": topic, "reason": r, "count": n} for (topic, r), n in sorted(by_reason.items())],
            "newest": letters.newest if letters is not None else [],
        },
        "sources": errors,
        "links": link_map,
        "history": history.series(topic_names, table_names),
    }


def local_collector(platform: Platform) -> Collector:
    """Local mode: services as supervisord runs them (what `status` shows)."""
    return Collector(platform.settings, lambda: status_rows(platform))


def compose_collector(settings: Settings) -> Collector:
    """Compose: no supervisord; each service is probed at its in-network address."""
    return Collector(settings, lambda: probed_services(settings))
