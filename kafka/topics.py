"""Creating the pipeline's topics through `kafka/create_topics.sh`, the same script Compose users run in
the `kafka` container, so local mode and Compose get identical topics. When the topics already are as
configured, nothing is run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource

from config.settings import Settings
from kafka.contract import STREAMS

SCRIPT = Path(__file__).resolve().parent / "create_topics.sh"
SCRIPT_TIMEOUT_S = 180
CHECK_TIMEOUT_S = 10


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


def wanted_configs(settings: Settings) -> dict[str, str]:
    """The topic configs create_topics.sh sets (and re-applies)."""
    return {
        "retention.ms": str(settings.topic_retention_ms),
        "min.insync.replicas": str(settings.topic_min_insync_replicas),
        "cleanup.policy": "delete",
    }


def topics_as_configured(settings: Settings) -> bool:
    """Whether all three topics exist with the configured partitions, replication factor and configs, i.e.
    whether create_topics.sh would change nothing. One metadata and one configs request."""
    admin = AdminClient({**settings.kafka_client("admin"), "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=CHECK_TIMEOUT_S).topics
        names = [s.topic for s in STREAMS]
        if any(name not in metadata for name in names):
            return False
        for name in names:
            partitions = metadata[name].partitions.values()
            if len(partitions) != settings.topic_partitions:
                return False
            if any(len(p.replicas) != settings.topic_replication_factor for p in partitions):
                return False
        resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
        for future in admin.describe_configs(resources).values():
            configs = future.result(timeout=CHECK_TIMEOUT_S)
            if any(configs[key].value != value for key, value in wanted_configs(settings).items()):
                return False
    except KafkaException:
        return False  # the script says what is wrong
    return True


def create_topics(settings: Settings, tools: Path | None = None) -> str:
    """Run create_topics.sh. `tools` is a folder of Kafka's command-line tools to put first on PATH (local mode
    hands in its launchers); without it, whatever `kafka-topics` is on PATH runs (as in the Compose container)."""
    # The script starts three to six short JVMs (seconds of CPU each on a busy box): skipped when it would
    # change nothing, as on every `up` after the first.
    if topics_as_configured(settings):
        configs = ",".join(f"{k}={v}" for k, v in wanted_configs(settings).items())
        return "".join(
            f"topic {s.topic}: partitions={settings.topic_partitions} "
            f"replication-factor={settings.topic_replication_factor} {configs} (already so)\n"
            for s in STREAMS
        )
    env = {**os.environ, **topic_environment(settings)}
    if tools is not None:
        env["PATH"] = f"{tools}:{env.get('PATH', '')}"
    try:
        done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=SCRIPT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise TopicSetupError(f"{SCRIPT.name} did not finish within {SCRIPT_TIMEOUT_S} s: is Kafka up?") from None
    if done.returncode != 0:
        raise TopicSetupError(f"{SCRIPT.name} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout
