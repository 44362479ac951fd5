"""`python3 main.py status`: is the pipeline keeping up, from generator to table?

Services come from supervisord and their probes; topic end offsets from Kafka itself; the job's processed
offsets, rows written, dead letters, batch timings and freshness from the job's own report
(`.local/run/stream-status.json`, rewritten every few seconds by spark/spark_streaming.py). Nothing here
scans a table.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition

from config.settings import Settings
from kafka.contract import STREAMS
from local.platform import Platform, status_rows

KAFKA_TIMEOUT_S = 5
DEAD_LETTERS_TABLE = "dead_letters"
# The job rewrites its report every 2 s; older than this, the numbers are no longer live.
STALE_AFTER_S = 30
QUIET_LOGGER = logging.getLogger("pipeline-status.kafka")
QUIET_LOGGER.setLevel(logging.CRITICAL)


def topic_end_offsets(settings: Settings) -> dict[str, dict[int, int]] | None:
    """Per topic, per partition: the offset the next record will get. None when Kafka does not answer."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": "pipeline-status",  # never subscribes or commits; watermarks need a group id
            "enable.auto.commit": False,
            "socket.timeout.ms": KAFKA_TIMEOUT_S * 1000,
            # An unreachable broker is reported in the table, not as librdkafka log noise.
            "logger": QUIET_LOGGER,
        }
    )
    try:
        metadata = consumer.list_topics(timeout=KAFKA_TIMEOUT_S)
        ends: dict[str, dict[int, int]] = {}
        for stream in STREAMS:
            topic = metadata.topics.get(stream.topic)
            if topic is None or topic.error is not None:
                continue
            ends[stream.topic] = {
                p: consumer.get_watermark_offsets(TopicPartition(stream.topic, p), timeout=KAFKA_TIMEOUT_S)[1]
                for p in sorted(topic.partitions)
            }
        return ends
    except KafkaException:
        return None
    finally:
        consumer.close()


def read_job_report(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def processed_offsets(progress: dict | None, topic: str) -> dict[int, int] | None:
    """The offsets the job has committed: the end of its last completed batch's range."""
    for source in (progress or {}).get("sources", []):
        end = source.get("endOffset")
        if isinstance(end, str):
            end = json.loads(end)
        if isinstance(end, dict) and topic in end:
            return {int(p): int(o) for p, o in end[topic].items()}
    return None


def topic_rows(ends: dict[str, dict[int, int]] | None, report: dict | None, now: float) -> list[dict]:
    """One row per topic: end offset, processed offset and lag (sums over partitions), the job's counters."""
    queries = (report or {}).get("queries", {})
    rows = []
    for stream in STREAMS:
        query = queries.get(stream.topic, {})
        progress = query.get("last_progress") or {}
        topic_ends = (ends or {}).get(stream.topic)
        processed = processed_offsets(progress, stream.topic)
        lag = None
        if topic_ends is not None:
            done = processed or {}
            lag = sum(max(end - done.get(p, 0), 0) for p, end in topic_ends.items())
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
    now = time.time()
    services = status_rows(platform)
    running = {r["service"] for r in services if r["state"] != "down"}
    report = read_job_report(platform.paths.run / "stream-status.json")
    job_state = "not running"
    if report is not None and "stream" in running:
        age = now - report.get("updated_at", 0)
        job_state = report.get("state", "unknown") if age <= STALE_AFTER_S else f"no report for {age:.0f} s"
    else:
        report = None  # counters of a job that has stopped are not live
    ends = topic_end_offsets(platform.settings) if "kafka" in running else None
    topics = topic_rows(ends, report, now)
    return {
        "generated_at": now,
        "services": services,
        "job": {
            "state": job_state,
            "rows_written": sum(t["rows_written"] for t in topics),
            "dead_letters": sum(t["dead_letters"] for t in topics),
            "lag": sum(t["lag"] for t in topics) if all(t["lag"] is not None for t in topics) else None,
        },
        "topics": topics,
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
        f"streaming job: {job['state']}; rows written since start {job['rows_written']:,}, "
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
        if t["restarts"]:
            lines.append(f"  {t['topic']}: {t['restarts']} restarts, last error: {t['last_error']}")
    return "\n".join(lines)
