#!/usr/bin/env python3
"""Healthcheck of the producer container: healthy while the topics it writes keep growing.

Sums the end offsets of the contract's topics and compares the sum with the one the previous check saw
(kept in a small file): the producer is the only writer, so a sum that stopped moving means it stopped
delivering (broker gone, registry refusing, process stuck).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from config.settings import load_settings
from kafka.contract import STREAMS

LAST_SEEN = Path("/tmp/producer-healthcheck.json")
TIMEOUT_S = 5


def end_offsets_total(bootstrap: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "producer-healthcheck"})
    try:
        topics = consumer.list_topics(timeout=TIMEOUT_S).topics
        total = 0
        for stream in STREAMS:
            for partition in topics[stream.topic].partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(stream.topic, partition), timeout=TIMEOUT_S)
                total += high
        return total
    finally:
        consumer.close()


def main() -> int:
    total = end_offsets_total(load_settings().kafka_bootstrap_servers)
    previous = json.loads(LAST_SEEN.read_text())["total"] if LAST_SEEN.exists() else -1
    LAST_SEEN.write_text(json.dumps({"total": total}))
    if total <= previous:
        print(f"the topics did not grow since the last check (end offsets {total})")
        return 1
    print(f"end offsets {total} (+{total - max(previous, 0)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
