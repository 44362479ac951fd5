"""`python3 main.py status`: is the pipeline keeping up, from generator to table?

Services come from supervisord and their probes; topic end offsets from Kafka itself; the job's processed
offsets, rows written, dead letters, batch timings and freshness from the job's own report
(`.local/run/stream-status.json`, rewritten every few seconds by spark/spark_streaming.py). Nothing here
scans a table.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from config.settings import Settings
from kafka.contract import STREAMS, LogStream, streams
from kafka.offsets import lag as topic_lag
from kafka.offsets import processed_offsets, topic_end_offsets
from local.platform import Platform, status_rows
from local.topology import topology

DEAD_LETTERS_TABLE = "dead_letters"
# The job rewrites its report every 2 s; older than this, the numbers are no longer live.
STALE_AFTER_S = 30


def read_job_report(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def total_lag(settings: Settings) -> tuple[int, int] | None:
    """(lag, processed) summed over the three topics (of the settings' namespace); None while the job has no
    report or Kafka is away."""
    topics = streams(settings.topic_prefix)
    ends = topic_end_offsets(settings.kafka_client("admin"), [s.topic for s in topics])
    report = read_job_report(settings.job_status_file)
    if ends is None or report is None:
        return None
    lag = processed_total = 0
    for stream in topics:
        query = report.get("queries", {}).get(stream.topic, {})
        done = processed_offsets(query.get("last_progress"), stream.topic) or {}
        lag += topic_lag(ends.get(stream.topic, {}), done)
        processed_total += sum(done.values())
    return lag, processed_total


def topic_rows(
    ends: dict[str, dict[int, int]] | None, report: dict | None, now: float, topics: tuple[LogStream, ...] = STREAMS
) -> list[dict]:
    """One row per topic: end offset, processed offset and lag (sums over partitions), the job's counters."""
    queries = (report or {}).get("queries", {})
    rows = []
    for stream in topics:
        query = queries.get(stream.topic, {})
        progress = query.get("last_progress") or {}
        topic_ends = (ends or {}).get(stream.topic)
        processed = processed_offsets(progress, stream.topic)
        lag = topic_lag(topic_ends, processed) if topic_ends is not None else None
        newest = query.get("newest_written_ms")
        durations = progress.get("durationMs") or {}
        rows.append(
            {
                "topic": stream.topic,
                "table": stream.table,
                "end_offset": sum(topic_ends.values()) if topic_ends is not None else None,
                "processed_offset": sum(processed.values()) if processed is not None else None,
                "lag": lag,
                "rows_written": query.get("rows_written", {}).get(stream.table, 0),
                "dead_letters": query.get("rows_written", {}).get(DEAD_LETTERS_TABLE, 0),
                "query_state": query.get("state"),
                "query_health": query.get("health"),
                "problem": query.get("problem"),
                "idle_s": query.get("idle_s"),
                "restarts": query.get("restarts", 0),
                "last_error": query.get("last_error"),
                "last_batch_id": progress.get("batchId"),
                "last_batch_rows": progress.get("numInputRows"),
                "last_batch_ms": durations.get("triggerExecution"),
                "input_rows_per_s": progress.get("inputRowsPerSecond"),
                "processed_rows_per_s": progress.get("processedRowsPerSecond"),
                "freshness_s": round(now - newest / 1000, 1) if newest else None,
            }
        )
    return rows


def pipeline_status(platform: Platform) -> dict:
    """Local mode's status: services as supervisord runs them."""
    return status_of(platform.settings, status_rows(platform))


def status_of(settings: Settings, services: list[dict]) -> dict:
    """The services given (supervisord's view in local mode; each engine's probe in Compose's dashboard),
    the job's own report while it is live, and the topics' end offsets from Kafka."""
    now = time.time()
    running = {r["service"] for r in services if r["state"] != "down"}
    report = read_job_report(settings.job_status_file)
    job_state, health, problems = "not running", "unhealthy", ["the streaming job is not running"]
    if report is not None and "stream" in running:
        age = now - report.get("updated_at", 0)
        if age <= STALE_AFTER_S:
            job_state, health, problems = report.get("state", "unknown"), report.get("health"), report.get("problems")
        else:
            job_state, problems = f"no report for {age:.0f} s", [f"the job has not reported for {age:.0f} s"]
    else:
        report = None  # counters of a job that has stopped are not live
    kafka_up = any(node.name in running for node in topology(settings).kafka)
    watched = streams(settings.topic_prefix)
    ends = topic_end_offsets(settings.kafka_client("admin"), [s.topic for s in watched]) if kafka_up else None
    topics = topic_rows(ends, report, now, watched)
    return {
        "generated_at": now,
        "services": services,
        "job": {
            "state": job_state,
            "health": health,
            "problems": problems or [],
            "rows_written": sum(t["rows_written"] for t in topics),
            "dead_letters": sum(t["dead_letters"] for t in topics),
            "lag": sum(t["lag"] for t in topics) if all(t["lag"] is not None for t in topics) else None,
        },
        "topics": topics,
        "auth_alerts": alerts_row((report or {}).get("auth_alerts")),
    }


def alerts_row(query: dict | None) -> dict | None:
    """The failed-login query's line: alerts written, late events dropped, state held, its watermark."""
    if not query:
        return None
    progress = query.get("last_progress") or {}
    return {
        "state": query.get("state"),
        "health": query.get("health"),
        "problem": query.get("problem"),
        "alerts_written": query.get("rows_written", {}).get("auth_alerts", 0),
        "late_dropped": query.get("late_dropped", 0),
        "state_rows": query.get("state_rows"),
        "state_bytes": query.get("state_bytes"),
        "watermark": query.get("watermark"),
        "last_batch_id": progress.get("batchId"),
        "last_batch_ms": (progress.get("durationMs") or {}).get("triggerExecution"),
        "restarts": query.get("restarts", 0),
        "last_error": query.get("last_error"),
    }


def _cell(value, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def format_status(status: dict) -> str:
    lines = [f"{'SERVICE':<13} {'STATE':<9} {'PID':>7} {'UPTIME':>10}  ADDRESS"]
    for r in status["services"]:
        detail = f"  ({r['detail']})" if r["detail"] and r["service"] != "stream" else ""
        lines.append(
            f"{r['service']:<13} {r['state']:<9} {_cell(r['pid']):>7} {_cell(r['uptime']):>10}  {r['address']}{detail}"
        )
    job = status["job"]
    lines += [
        "",
        f"streaming job: {job['state']}, {job['health']}; rows written since start {job['rows_written']:,}, "
        f"dead letters {job['dead_letters']:,}, total lag {_cell(job['lag'], ',')}",
        f"{'TOPIC':<20} {'END':>10} {'PROCESSED':>10} {'LAG':>8} {'ROWS':>10} {'DEAD':>6} "
        f"{'BATCH':>7} {'LAST ms':>8} {'IN/s':>8} {'DONE/s':>8} {'FRESH s':>8}",
    ]
    for t in status["topics"]:
        lines.append(
            f"{t['topic']:<20} {_cell(t['end_offset'], ','):>10} {_cell(t['processed_offset'], ','):>10} "
            f"{_cell(t['lag'], ','):>8} {t['rows_written']:>10,} {t['dead_letters']:>6,} "
            f"{_cell(t['last_batch_id']):>7} {_cell(t['last_batch_ms'], ','):>8} "
            f"{_cell(t['input_rows_per_s'], ',.0f'):>8} {_cell(t['processed_rows_per_s'], ',.0f'):>8} "
            f"{_cell(t['freshness_s'], '.1f'):>8}"
        )
        lines += _trouble(t["topic"], t)
    if alerts := status.get("auth_alerts"):
        state_kb = _cell(alerts["state_bytes"] and round(alerts["state_bytes"] / 1024), ",")
        lines.append(
            f"auth alerts: {alerts['state']}, {alerts['alerts_written']:,} alert rows written, "
            f"{alerts['late_dropped']:,} late events dropped, state {_cell(alerts['state_rows'], ',')} rows "
            f"({state_kb} KB), watermark {alerts['watermark'] or '-'}, batch {_cell(alerts['last_batch_id'])} "
            f"in {_cell(alerts['last_batch_ms'], ',')} ms"
        )
        lines += _trouble("auth alerts", alerts)
    return "\n".join(lines)


def _trouble(name: str, query: dict) -> list[str]:
    """A query's problem and restarts, indented under its line."""
    lines = [f"  {name}: {query['problem']}"] if query["problem"] else []
    if query["restarts"]:
        lines.append(f"  {name}: {query['restarts']} restarts, last error: {query['last_error']}")
    return lines
