"""Creating the pipeline's topics through `kafka/create_topics.sh`, the same script Compose users run in
the `kafka` container, so local mode and Compose get identical topics."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from config.settings import Settings
from local.kafka_tools import bin_dir

SCRIPT = Path(__file__).resolve().parent / "create_topics.sh"
SCRIPT_TIMEOUT_S = 180


class TopicSetupError(RuntimeError):
    """create_topics.sh failed; the message carries its output."""


def topic_environment(settings: Settings) -> dict[str, str]:
    """The variables create_topics.sh reads, from the same settings the rest of the pipeline uses."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "KAFKA_TOPIC_REPLICATION_FACTOR": str(settings.topic_replication_factor),
        "KAFKA_TOPIC_MIN_INSYNC_REPLICAS": str(settings.topic_min_insync_replicas),
        "KAFKA_TOPIC_RETENTION_MS": str(settings.topic_retention_ms),
    }


def create_topics(settings: Settings) -> str:
    env = {**os.environ, **topic_environment(settings), "PATH": f"{bin_dir()}:{os.environ.get('PATH', '')}"}
    try:
        done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=SCRIPT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise TopicSetupError(f"{SCRIPT.name} did not finish within {SCRIPT_TIMEOUT_S} s: is Kafka up?") from None
    if done.returncode != 0:
        raise TopicSetupError(f"{SCRIPT.name} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout
