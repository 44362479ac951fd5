"""The job's fourth query: failed-login bursts over `user_auth_logs`, detected in event time, exactly once.

    records -> the auth query's decoding (frame, from_avro, checks) -> good failed logins and lockouts
    -> watermark, deduplicated by event_id -> one row per user and one per source IP
    -> sliding event-time windows (count, first/last failure, distinct IPs or users, lockouts)
    -> foreachBatch: the windows that cross a threshold -> `auth_alerts`

State (the windows, and the event ids seen within the watermark) lives in the checkpoint, so a restart
continues every open window; a replayed batch recomputes the same windows from the same state and rewrites
the same rows (keyed by day, window start, subject). Events older than the watermark when they arrive are
dropped by the deduplication step before any window sees them, and Spark counts them there: that count is
the query's `late_dropped` in `status`. An event that passes it updates every window it falls in (each such
window ends after the event, so after the watermark).

Decoding uses the writer schemas the registry lists when the query starts (a streaming plan is fixed). A
record whose schema id is not among them stops the batch before anything is counted; the query then asks
the registry: a new version of the subject joins the plan, an id that is not one is skipped from then on
(the auth query writes its dead letter), and the query restarts from its checkpoint with the new plan.

The transforms here are pure (DataFrame -> DataFrame); `AlertPlan` and `AlertWriter` do the I/O.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from config.settings import AuthAlertRules
from kafka.contract import LogStream
from spark import transforms
from spark.schema_resolver import SchemaResolver, SubjectSchemas

log = logging.getLogger(__name__)

TABLE = "auth_alerts"
FAILURE = "login_failure"
LOCKOUT = "account_locked"
USER, IP = "user", "ip"
DEDUPE_OPERATOR = "dedupeWithinWatermark"  # the stateful operator whose late drops are whole events
UNPLANNED = "is not in the auth-alerts plan"
_UNPLANNED_ID = re.compile(rf"schema id (\d+) {UNPLANNED}")


def guard_planned(framed: DataFrame, planned_ids: tuple[int, ...]) -> DataFrame:
    """Fail the batch on a record whose schema id the plan cannot decode (nothing of it is counted); records
    without an id (framing errors) pass, to be dropped as errors."""
    schema_id = F.col("schema_id")
    unplanned = schema_id.isNotNull() & ~schema_id.isin(list(planned_ids)) if planned_ids else schema_id.isNotNull()
    message = F.format_string(f"schema id %d {UNPLANNED}", schema_id)
    return framed.where(F.when(unplanned, F.raise_error(message)).isNull())


def failed_logins(checked: DataFrame) -> DataFrame:
    """Good records (no decoding error) of failed logins and lockouts: the only ones the windows count."""
    event = F.col("event")
    return checked.where(F.col("error").isNull() & event["event_type"].isin(FAILURE, LOCKOUT)).select(
        event["event_id"].alias("event_id"),
        event["user_id"].alias("user_id"),
        event["ip_address"].alias("ip_address"),
        event["event_type"].alias("event_type"),
        event["timestamp"].alias("timestamp"),
    )


def windowed(events: DataFrame, rules: AuthAlertRules) -> DataFrame:
    """Per window and subject (each user; each source IP, failed logins only): failures, first and last
    failure, distinct IPs (a user's) or users (an IP's), lockouts and the last lockout. Events are
    deduplicated by event_id within the watermark, which is also where late events are dropped."""
    watermarked = events.withWatermark("timestamp", f"{rules.watermark_s} seconds")
    # A static DataFrame (a recomputation, the unit tests) has no watermark: a plain deduplication there.
    if events.isStreaming:
        deduplicated = watermarked.dropDuplicatesWithinWatermark(["event_id"])
    else:
        deduplicated = watermarked.dropDuplicates(["event_id"])
    is_failure = F.col("event_type") == FAILURE
    subjects = F.array(
        F.struct(F.lit(USER).alias("type"), F.col("user_id").alias("subject"), F.col("ip_address").alias("other")),
        F.when(
            is_failure,
            F.struct(F.lit(IP).alias("type"), F.col("ip_address").alias("subject"), F.col("user_id").alias("other")),
        ),
    )
    per_subject = deduplicated.select(
        "timestamp", "event_type", F.explode(F.filter(subjects, lambda s: s.isNotNull())).alias("s")
    ).select(
        "timestamp",
        "event_type",
        F.col("s.type").alias("subject_type"),
        F.col("s.subject").alias("subject"),
        F.col("s.other").alias("other"),
    )
    failure_time = F.when(F.col("event_type") == FAILURE, F.col("timestamp"))
    return per_subject.groupBy(
        F.window("timestamp", f"{rules.window_s} seconds", f"{rules.slide_s} seconds"), "subject_type", "subject"
    ).agg(
        F.count(failure_time).alias("failures"),
        F.min(failure_time).alias("first_failure"),
        F.max(failure_time).alias("last_failure"),
        F.size(F.collect_set(F.when(F.col("event_type") == FAILURE, F.col("other")))).alias("distinct_others"),
        F.count(F.when(F.col("event_type") == LOCKOUT, 1)).alias("lockouts"),
        F.max(F.when(F.col("event_type") == LOCKOUT, F.col("timestamp"))).alias("last_lockout"),
    )


def alert_reason(rules: AuthAlertRules) -> Column:
    """'failures', 'lockout', 'failures+lockout', or null (no alert) for a window row."""
    threshold = F.when(F.col("subject_type") == USER, rules.user_threshold).otherwise(rules.ip_threshold)
    crossed = F.col("failures") >= threshold
    after_failures = F.col("last_lockout") >= F.col("first_failure")
    locked = (F.col("subject_type") == USER) & (F.col("lockouts") > 0) & after_failures
    return F.when(crossed & locked, "failures+lockout").when(crossed, "failures").when(locked, "lockout")


def alert_rows(updated_windows: DataFrame, rules: AuthAlertRules) -> DataFrame:
    """Windows updated in a batch -> `auth_alerts` rows for those that alert."""
    is_user = F.col("subject_type") == USER
    return (
        updated_windows.withColumn("reason", alert_reason(rules))
        .where(F.col("reason").isNotNull())
        .select(
            F.to_date(F.col("window.start")).alias("day"),
            F.col("window.start").alias("window_start"),
            "subject_type",
            "subject",
            F.col("window.end").alias("window_end"),
            "reason",
            F.col("failures").cast("int").alias("failures"),
            "first_failure",
            "last_failure",
            F.when(is_user, F.col("distinct_others")).alias("distinct_ips"),
            F.when(~is_user, F.col("distinct_others")).alias("distinct_users"),
            F.col("lockouts").cast("int").alias("lockouts"),
            F.current_timestamp().alias("alerted_at"),
        )
    )


def unplanned_id(error: str | None) -> int | None:
    """The schema id a failed batch met outside the plan (None for any other failure)."""
    match = _UNPLANNED_ID.search(error or "")
    return int(match.group(1)) if match else None


@dataclass
class AlertPlan:
    """Builds the streaming DataFrame of window updates from the Kafka source, with the writer schemas the
    registry lists when the query starts, and learns ids met outside them."""

    stream: LogStream
    resolver: SchemaResolver
    rules: AuthAlertRules
    skipped: set[int] = field(default_factory=set)  # ids confirmed not to be versions of the subject
    output_mode: str = "update"

    def build(self, source: DataFrame) -> DataFrame:
        schemas = self.resolver.for_batch(self.stream)
        planned = tuple(sorted({*schemas.writers, *schemas.rejected, *self.skipped}))
        framed = guard_planned(transforms.frame(source), planned)
        decoded = transforms.decode(framed, schemas.writers, schemas.reader)
        checked = transforms.check_decoded(decoded, self.stream, schemas.writers, self._rejected(schemas))
        return windowed(failed_logins(checked), self.rules)

    def _rejected(self, schemas: SubjectSchemas) -> dict[int, str]:
        return {**{sid: "not a version of the subject" for sid in self.skipped}, **schemas.rejected}

    def absorb(self, error: str | None) -> bool:
        """True when a failed batch met a schema id outside the plan and the registry has now placed it: the
        query restarts at once (from its checkpoint, with a new plan). False for any other failure."""
        schema_id = unplanned_id(error)
        if schema_id is None:
            return False
        schemas = self.resolver.for_batch(self.stream)
        if not schemas.listed:
            return False  # the registry is away: an ordinary failure, retried with backoff
        if schema_id not in schemas.writers and schema_id not in schemas.rejected:
            self.skipped.add(schema_id)
            log.warning("auth alerts: schema id %d is not a version of %s; its records are skipped", schema_id,
                        self.stream.subject)  # fmt: skip
        else:
            log.info("auth alerts: schema id %d is a new version of %s; re-planning", schema_id, self.stream.subject)
        return True


@lru_cache(maxsize=1)
def _counted() -> tuple[tuple[str, Column], ...]:
    return (("alerts", F.count(F.lit(1)).alias("alerts")),)


class AlertWriter:
    """The foreachBatch function of the alerts query (the same observable attributes as the topics' writers,
    so the same watchdog and status serve it)."""

    def __init__(self, stream: LogStream, rules: AuthAlertRules, sink, observer) -> None:
        self.stream = stream
        self.rules = rules
        self.sink = sink
        self.observer = observer
        self.rows_written: Counter = Counter()
        self.newest_written_ms: int | None = None
        self.batch_started: float | None = None
        self.last_batch_done: float | None = None
        self.last_batch_wall: float | None = None
        self.released = threading.Event()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        self.batch_started = time.monotonic()
        try:
            # One Spark job a batch: the write runs the stateful stage, and the alert rows are counted on the
            # way (computing the windows twice would run the batch's state updates twice).
            rows, outcome = self.observer.observe(alert_rows(batch, self.rules), f"{TABLE}-{batch_id}", _counted())
            self.sink.check_available()
            self.sink.write(rows, TABLE)
            alerts = outcome.values()["alerts"]
            self.rows_written[TABLE] += alerts
            log.info("auth alerts batch %d: %d alert rows written in %.2f s", batch_id, alerts,
                     time.monotonic() - self.batch_started)  # fmt: skip
        finally:
            self.batch_started = None
        self.last_batch_done, self.last_batch_wall = time.monotonic(), time.time()


class LateCounter:
    """Events dropped as later than the watermark, summed over the query's progress reports (each batch once:
    its recentProgress overlaps from one look to the next)."""

    def __init__(self) -> None:
        self.total = 0
        self.last_batch = -1

    def add(self, progress: list[dict]) -> int:
        for entry in progress:
            if entry["batchId"] <= self.last_batch:
                continue
            self.last_batch = entry["batchId"]
            for operator in entry.get("stateOperators", []):
                if operator.get("operatorName") == DEDUPE_OPERATOR:
                    self.total += operator.get("numRowsDroppedByWatermark", 0)
        return self.total


def state_size(progress: dict | None) -> dict:
    """Rows and bytes the query's state holds after its last batch, and its watermark."""
    operators = (progress or {}).get("stateOperators", [])
    return {
        "state_rows": sum(o.get("numRowsTotal", 0) for o in operators),
        "state_bytes": sum(o.get("memoryUsedBytes", 0) for o in operators),
        "watermark": ((progress or {}).get("eventTime") or {}).get("watermark"),
    }
