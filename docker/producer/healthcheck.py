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

from config.settings import load_settings
from kafka.contract import STREAMS
from kafka.offsets import topic_end_offsets

LAST_SEEN = Path("/tmp/producer-healthcheck.json")


def end_offsets_total(client: dict) -> int | None:
    """`client`: the producer's own login (its user may DESCRIBE the topics, which reading end offsets needs)."""
    offsets = topic_end_offsets(client, [stream.topic for stream in STREAMS])
    return None if offsets is None else sum(sum(partitions.values()) for partitions in offsets.values())


def main() -> int:
    total = end_offsets_total(load_settings().kafka_client("producer"))
    if total is None:
        print("Kafka did not answer the producer's user")
        return 1
    previous = json.loads(LAST_SEEN.read_text())["total"] if LAST_SEEN.exists() else -1
    LAST_SEEN.write_text(json.dumps({"total": total}))
    if total <= previous:
        print(f"the topics did not grow since the last check (end offsets {total})")
        return 1
    print(f"end offsets {total} (+{total - max(previous, 0)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
