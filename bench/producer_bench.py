"""Producer throughput against the ceilings of its parts, all measured in one run.

    python3 main.py bench producer [--events 300000]

1. generation alone (Faker pools + sampling), 2. on the same events: confluent-kafka's AvroSerializer alone
(what the producer used before) and the producer's own wire encoder alone (fastavro + the 5-byte header),
3. the full producer (generation + wire encoder + registry + delivery accounting) into Kafka,
4. the librdkafka ceiling: the same number of pre-serialized records, same keys and config, into Kafka.
Kafka runs on the same box. Records go to throwaway `bench_*` topics, deleted afterwards.
"""

from __future__ import annotations

import gc
import time
import uuid
from itertools import islice

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from config.settings import Settings
from kafka import access
from kafka.contract import STREAMS
from kafka.kafka_producer import LogProducer, producer_config, wall_clock_events
from kafka.logs_generators import LogGenerator


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def _events(count: int, seed: int = 1) -> list:
    return list(islice(wall_clock_events(LogGenerator(seed=seed), STREAMS), count))


def generation_rate(count: int) -> float:
    generator = wall_clock_events(LogGenerator(seed=2), STREAMS)
    started = time.perf_counter()
    for _ in islice(generator, count):
        pass
    return _rate(count, time.perf_counter() - started)


def avro_serializer_rate(settings: Settings, events: list) -> float:
    """confluent-kafka's AvroSerializer, per record, as a producer written from its examples would use it."""
    client = SchemaRegistryClient(settings.registry_client("admin"))
    serializers, contexts = {}, {}
    for stream in STREAMS:
        subject = stream.subject
        conf = {"auto.register.schemas": False, "subject.name.strategy": lambda _ctx, _name, s=subject: s}
        serializers[stream.name] = AvroSerializer(client, stream.schema_str, conf=conf)
        contexts[stream.name] = SerializationContext(stream.topic, MessageField.VALUE)
    started = time.perf_counter()
    for e in events:
        serializers[e.stream.name](e.value, contexts[e.stream.name])
    return _rate(len(events), time.perf_counter() - started)


def encoder_rate(producer: LogProducer, events: list) -> tuple[float, list[bytes]]:
    """The producer's wire encoder (kafka/wire_encoder.py) alone; also returns the encoded values."""
    encoders = producer.encoders
    started = time.perf_counter()
    values = [encoders[e.stream.name](e.value) for e in events]
    return _rate(len(events), time.perf_counter() - started), values


def raw_produce_rate(settings: Settings, topics: dict[str, str], events: list, values: list[bytes]) -> float:
    """librdkafka alone: pre-serialized values, same keys, same config, delivery callbacks counted."""
    producer = Producer(producer_config(settings, settings.kafka_bootstrap_servers))
    acked = 0

    def delivered(err, _msg) -> None:
        nonlocal acked
        if err is None:
            acked += 1

    started = time.perf_counter()
    for i, (event, value) in enumerate(zip(events, values, strict=True)):
        while True:
            try:
                producer.produce(topics[event.stream.name], value=value, key=event.key.encode(), on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 64 == 0:
            producer.poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - started
    assert acked == len(events), f"raw produce: {acked} of {len(events)} acknowledged"
    return _rate(len(events), elapsed)


def run(settings: Settings, events: int = 300_000) -> dict:
    admin = AdminClient(settings.kafka_client("admin"))
    run_id = uuid.uuid4().hex[:8]
    full_topics = {s.name: f"bench_{run_id}_full_{s.topic}" for s in STREAMS}
    raw_topics = {s.name: f"bench_{run_id}_raw_{s.topic}" for s in STREAMS}
    new = [
        NewTopic(t, settings.topic_partitions, settings.topic_replication_factor)
        for t in [*full_topics.values(), *raw_topics.values()]
    ]
    for future in admin.create_topics(new).values():
        future.result(timeout=30)
    access.grant(settings, access.topic_acls(settings, [t.topic for t in new]))  # the producer's user writes them
    try:
        results = {"events": events, "generation_events_per_s": generation_rate(events)}
        producer = LogProducer(settings, topics=full_topics)
        sample = _events(min(events, 100_000))
        results["avro_serializer_events_per_s"] = avro_serializer_rate(settings, sample)
        results["fastavro_events_per_s"], _ = encoder_rate(producer, sample)

        started = time.perf_counter()
        tally = producer.run(wall_clock_events(LogGenerator(seed=3), STREAMS), rate=0, count=events, progress=False)
        elapsed = time.perf_counter() - started
        assert tally.all_delivered, "full producer: not every record was acknowledged"
        results["producer_events_per_s"] = _rate(tally.total_acked, elapsed)

        raw_events = _events(events, seed=3)
        _, values = encoder_rate(producer, raw_events)
        results["raw_produce_events_per_s"] = raw_produce_rate(settings, raw_topics, raw_events, values)
        results["bytes_per_event"] = sum(map(len, values)) / len(values)
        results["producer_vs_raw_ratio"] = results["producer_events_per_s"] / results["raw_produce_events_per_s"]
        del producer  # destroyed before its topics go, or librdkafka logs their disappearance
        gc.collect()
        return results
    finally:
        for future in admin.delete_topics([*full_topics.values(), *raw_topics.values()]).values():
            future.result(timeout=30)


def format_results(results: dict) -> str:
    rows = [
        ("generation alone", results["generation_events_per_s"]),
        ("AvroSerializer alone", results["avro_serializer_events_per_s"]),
        ("wire encoder alone (fastavro + header)", results["fastavro_events_per_s"]),
        ("full producer (gen + encoder + registry + acks)", results["producer_events_per_s"]),
        ("librdkafka ceiling (pre-serialized)", results["raw_produce_events_per_s"]),
    ]
    lines = [f"{name:<46} {rate:>12,.0f} events/s" for name, rate in rows]
    lines.append(f"{'producer / librdkafka ceiling':<46} {results['producer_vs_raw_ratio']:>12.2f}")
    lines.append(f"{'mean record size':<46} {results['bytes_per_event']:>12.0f} bytes")
    return "\n".join(lines)
