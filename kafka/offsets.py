"""How far each topic has got, and how far a streaming query has read it: the two halves of lag.

Shared by `main.py status`, the bench and the streaming job's stall watchdog, so all three count lag alike.
"""

from __future__ import annotations

import json
import logging

from confluent_kafka import Consumer, KafkaException, TopicPartition

from kafka.contract import STREAMS

KAFKA_TIMEOUT_S = 5
QUIET_LOGGER = logging.getLogger("pipeline-offsets.kafka")
QUIET_LOGGER.setLevel(logging.CRITICAL)


def topic_end_offsets(client: dict[str, str], topics: list[str] | None = None) -> dict[str, dict[int, int]] | None:
    """Per topic, per partition: the offset the next record will get. None when Kafka does not answer.
    `client`: a Kafka user's settings (`Settings.kafka_client`); it needs DESCRIBE on the topics."""
    consumer = Consumer(
        {
            **client,
            "group.id": "pipeline-status",  # never subscribes or commits; watermarks need a group id
            "enable.auto.commit": False,
            "socket.timeout.ms": KAFKA_TIMEOUT_S * 1000,
            # An unreachable broker is reported by the caller, not as librdkafka log noise.
            "logger": QUIET_LOGGER,
        }
    )
    try:
        metadata = consumer.list_topics(timeout=KAFKA_TIMEOUT_S)
        ends: dict[str, dict[int, int]] = {}
        for name in topics or [s.topic for s in STREAMS]:
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None:
                continue
            ends[name] = {
                p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=KAFKA_TIMEOUT_S)[1]
                for p in sorted(topic.partitions)
            }
        return ends
    except KafkaException:
        return None
    finally:
        consumer.close()


def processed_offsets(progress: dict | None, topic: str) -> dict[int, int] | None:
    """The offsets a query has committed: the end of its last completed batch's range (from its progress)."""
    for source in (progress or {}).get("sources", []):
        end = source.get("endOffset")
        if isinstance(end, str):
            end = json.loads(end)
        if isinstance(end, dict) and topic in end:
            return {int(p): int(o) for p, o in end[topic].items()}
    return None


def lag(ends: dict[int, int], processed: dict[int, int] | None) -> int:
    """Records in the topic past what the query has committed (a query that never committed has read none)."""
    done = processed or {}
    return sum(max(end - done.get(p, 0), 0) for p, end in ends.items())
