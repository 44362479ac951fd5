"""The dashboard's Kafka client: librdkafka validates its settings when it is created (no broker needed)."""

from __future__ import annotations

from config.settings import load_settings
from dashboard.sources import sampling_consumer


def test_the_sampling_consumer_settings_are_valid() -> None:
    client = sampling_consumer(load_settings())
    client.close()
