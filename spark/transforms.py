"""Pure DataFrame -> DataFrame transforms of the streaming job: no I/O, testable on a local SparkSession.

A Kafka record moves through: `frame` (split the Confluent wire format, flag what is not in it) ->
`decode` (from_avro with the writer schema its id names, resolved to the reader schema) -> `check_decoded`
(flag unknown ids, corrupt payloads, missing required values, malformed uuids) -> `table_rows` (flatten,
lineage, derived columns) or `dead_letter_rows` (raw bytes plus the reason).

The column expressions are built once per schema set and reused by every micro-batch: building them costs
hundreds of py4j calls, which on a busy 2-core box took 1-2 s per batch. For the same reason each step is a
single projection of cached columns: a column named by a string, or one more DataFrame call, is a JVM class
lookup by name that scans the class path (2-4 ms each on this box, every batch of every query).
"""

from __future__ import annotations

from functools import lru_cache

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro

from kafka.contract import LogStream

WIRE_HEADER_BYTES = 5  # magic byte 0 + 4-byte big-endian schema id
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
LINEAGE = ("kafka_partition", "kafka_offset", "produced_at")
# The columns `frame` makes, in order; `decode` adds `event`.
FRAMED = (
    "topic", "kafka_partition", "kafka_offset", "produced_at", "raw_key", "raw_value", "raw_headers",
    "schema_id", "payload", "error",
)  # fmt: skip
Writers = tuple[tuple[int, str], ...]  # (schema id, writer schema text), hashable for the caches


@lru_cache(maxsize=1)
def _frame_columns() -> tuple[Column, ...]:
    value = F.col("value")
    size = F.length(value)
    magic = F.hex(F.substring(value, 1, 1))
    error = (
        F.when(value.isNull(), F.lit("null value: no Confluent wire-format header"))
        .when(
            size < WIRE_HEADER_BYTES,
            F.format_string("record of %d bytes is shorter than the 5-byte wire-format header", size),
        )
        .when(magic != "00", F.format_string("bad magic byte 0x%s: not Confluent wire format", magic))
    )
    body = F.expr(f"substring(value, {WIRE_HEADER_BYTES + 1}, length(value) - {WIRE_HEADER_BYTES})")
    return (
        F.col("topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("produced_at"),
        F.col("key").alias("raw_key"),
        value.alias("raw_value"),
        F.col("headers").alias("raw_headers"),
        F.when(error.isNull(), F.conv(F.hex(F.substring(value, 2, 4)), 16, 10).cast("int")).alias("schema_id"),
        F.when(error.isNull(), body).alias("payload"),
        error.alias("error"),
    )


def frame(kafka_rows: DataFrame) -> DataFrame:
    """Kafka source rows -> lineage columns, the schema id, the Avro payload, and `error` for records that
    are not in the Confluent wire format (null when the framing is fine)."""
    return kafka_rows.select(*_frame_columns())


@lru_cache(maxsize=64)
def _decoded_columns(writers: Writers, reader_schema: str) -> tuple[Column, ...]:
    return (*[F.col(name) for name in FRAMED], _event_column(writers, reader_schema))


def _event_column(writers: Writers, reader_schema: str) -> Column:
    options = {"mode": "PERMISSIVE", "avroSchema": reader_schema}
    schema_id = F.col("schema_id")
    # A struct of the reader's shape, null for every row, for when no id has a writer schema.
    event = F.when(F.lit(False), from_avro(F.lit(None).cast("binary"), reader_schema, options))
    for sid, writer in writers:
        event = F.when(schema_id == sid, from_avro(F.col("payload"), writer, options)).otherwise(event)
    # Produced through a generator so that it is computed once per row: as a plain column, Catalyst pushes
    # later filters (on `error`) below this projection and decodes each record again for every field checked.
    return F.explode(F.array(event)).alias("event")


def decode(framed: DataFrame, writers: dict[int, str], reader_schema: str) -> DataFrame:
    """Decode each payload with the writer schema its id names, resolved by Avro to `reader_schema`, into an
    `event` struct (one shape for every id). PERMISSIVE: a payload that does not decode yields a null `event`
    (or one of nulls) instead of failing the batch; ids without a writer here also get a null `event`."""
    return framed.select(*_decoded_columns(tuple(sorted(writers.items())), reader_schema))


def _problems(checks: list[tuple[Column, str]]) -> Column:
    """Comma-joined names of the checks that fail (null when none does)."""
    joined = F.concat_ws(", ", *[F.when(failed, F.lit(name)) for failed, name in checks])
    return F.when(joined != "", joined)


@lru_cache(maxsize=64)
def _checked_columns(stream: LogStream, known_ids: tuple[int, ...], rejected: tuple[tuple[int, str], ...]):
    event = F.col("event")
    schema_id = F.col("schema_id")
    not_registered = F.format_string(f"schema id %d is not a registered version of {stream.subject}", "schema_id")
    id_problem = F.when(~schema_id.isin(list(known_ids)), not_registered) if known_ids else not_registered
    for sid, text in rejected:
        id_problem = F.when(schema_id == sid, F.lit(text)).otherwise(id_problem)
    # PERMISSIVE decoding of a corrupt payload gives a null struct or a struct of nulls.
    undecodable = event.isNull() | F.coalesce(*[event[name] for name in stream.required_fields]).isNull()
    missing = _problems([(event[name].isNull(), name) for name in stream.required_fields])
    bad_uuid = _problems([(event[n].isNotNull() & ~event[n].rlike(UUID_PATTERN), n) for n in stream.uuid_fields])
    corrupt = F.format_string("corrupt Avro payload: does not decode with writer schema id %d", "schema_id")
    error = (
        F.when(F.col("error").isNotNull(), F.col("error"))
        .when(id_problem.isNotNull(), id_problem)
        .when(undecodable, corrupt)
        .when(missing.isNotNull(), F.concat(F.lit("required value missing: "), missing))
        .when(bad_uuid.isNotNull(), F.concat(F.lit("not a uuid: "), bad_uuid))
    )
    return tuple(error.alias("error") if name == "error" else F.col(name) for name in (*FRAMED, "event"))


def check_decoded(
    decoded: DataFrame, stream: LogStream, writers: dict[int, str], rejected: dict[int, str]
) -> DataFrame:
    """Set `error` on every row that must not reach the table, keeping a framing error already set: a schema
    id that is not a version of the topic's subject, one rejected before decoding (another record type,
    unreadable as the latest), an undecodable payload, a required value missing (null where the contract has
    no null), or a uuid field that is not a uuid."""
    known = tuple(sorted([*writers, *rejected]))
    return decoded.select(*_checked_columns(stream, known, tuple(sorted(rejected.items()))))


@lru_cache(maxsize=1)
def _no_error() -> Column:
    return F.col("error").isNull()


@lru_cache(maxsize=1)
def _an_error() -> Column:
    return F.col("error").isNotNull()


@lru_cache(maxsize=64)
def _table_columns(stream: LogStream, reader_fields: tuple[str, ...]) -> tuple[Column, ...]:
    return (
        *[F.col(f"event.{name}").alias(name) for name in reader_fields],
        F.to_date(F.col(f"event.{stream.event_time_field}")).alias("event_day"),
        *[F.col(name) for name in LINEAGE],
    )


def table_rows(checked: DataFrame, stream: LogStream, reader_fields: list[str]) -> DataFrame:
    """Rows without an error, flattened to the table's columns: every reader-schema field, lineage, and
    `event_day` (UTC day of the event time)."""
    return checked.where(_no_error()).select(*_table_columns(stream, tuple(reader_fields)))


@lru_cache(maxsize=1)
def _dead_letter_columns() -> tuple[Column, ...]:
    return (
        F.col("topic"),
        F.to_date("produced_at").alias("day"),
        F.hour("produced_at").alias("hour"),
        F.col("kafka_partition"),
        F.col("kafka_offset"),
        F.col("error").alias("reason"),
        F.col("schema_id"),
        F.col("raw_key"),
        F.col("raw_value"),
        # Headers as two parallel lists, so a replay re-sends them in order, repeated keys included. A CQL
        # list cannot hold a null: a header without a value is kept with an empty one.
        F.transform("raw_headers", lambda h: h["key"]).alias("header_keys"),
        F.transform("raw_headers", lambda h: F.coalesce(h["value"], F.lit(b""))).alias("header_values"),
        F.col("produced_at"),
        F.current_timestamp().alias("failed_at"),
    )


def dead_letter_rows(rows: DataFrame) -> DataFrame:
    """Rows with an error -> `dead_letters` rows. The partition (day and hour) comes from the Kafka timestamp,
    so a replay of the same record rewrites the same row."""
    return rows.where(_an_error()).select(*_dead_letter_columns())
