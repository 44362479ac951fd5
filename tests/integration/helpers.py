"""Small clients for integration tests: each talks to a real local-mode engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from config.settings import Settings
from local.java import find_java17
from local.services import spark_home


def create_topic(settings: Settings, topic: str, partitions: int = 1) -> None:
    admin = AdminClient(settings.kafka_client("admin"))
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    futures[topic].result(timeout=30)


def produce(settings: Settings, topic: str, records: list[tuple[str, str]]) -> None:
    producer = Producer({**settings.kafka_client("admin"), "acks": "all", "enable.idempotence": True})
    errors: list[str] = []
    for key, value in records:
        producer.produce(topic, key=key, value=value, on_delivery=lambda err, msg: err and errors.append(str(err)))
    assert producer.flush(30) == 0, "records still in flight after 30 s"
    assert not errors, errors


def consume_all(settings: Settings, topic: str, expected: int, timeout_s: float = 30) -> list[tuple[str, str]]:
    import time

    consumer = Consumer(
        {
            **settings.kafka_client("admin"),
            "group.id": f"{topic}-reader",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            out.append((msg.key().decode(), msg.value().decode()))
    finally:
        consumer.close()
    return out


def spark_submit_env() -> dict[str, str]:
    return {
        **os.environ,
        "JAVA_HOME": str(find_java17().home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


def spark_submit_command(settings: Settings, script: Path, *args: str, cores: int | None = None) -> list[str]:
    """`spark-submit --master spark://...` exactly as a user runs it from the project's environment;
    `cores` caps the app (the streaming job leaves the worker one free core)."""
    conf = ["--conf", f"spark.cores.max={cores}"] if cores else []
    return [
        str(spark_home() / "bin" / "spark-submit"),
        "--master",
        settings.spark_master_url,
        *conf,
        str(script),
        *args,
    ]


def spark_submit(settings: Settings, script: Path, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    cmd = spark_submit_command(settings, script, *args)
    return subprocess.run(cmd, capture_output=True, text=True, env=spark_submit_env(), timeout=timeout_s)
