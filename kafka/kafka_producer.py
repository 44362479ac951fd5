"""Produce generated logs to the three topics as Avro (Confluent wire format), accounting for every delivery.

    python3 main.py produce --rate 1000 --duration 60
    python3 main.py produce --count 100000 --rate 0 --seed 7 --topics session,auth

acks=all with idempotence; key = user_id (per-user ordering); the delivery callback counts acked and
failed records per topic. SIGINT/SIGTERM stop generation, flush, and print the totals; the exit code is
non-zero when any record was not delivered.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from confluent_kafka import KafkaError, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from tqdm import tqdm

from config.security import librdkafka_auth
from config.settings import Settings, load_settings
from kafka import schema_registry
from kafka.attacks import ATTACKS, Attack, with_attack
from kafka.contract import BY_NAME, BY_TOPIC, STREAMS, LogStream, streams
from kafka.load_profiles import EVOLVE_AFTER_DEFAULT, PROFILES, BurstyPacer, Malformer, evolved_events, late_events
from kafka.login import metadata_problem
from kafka.logs_generators import Event, LogGenerator
from kafka.wire_encoder import WireEncoder

log = logging.getLogger(__name__)

BROKER_CHECK_TIMEOUT_S = 10
PROGRESS_LOG_EVERY_S = 5.0


class ProducerStartError(RuntimeError):
    """Kafka or the registry cannot be used; the message says which and what to do."""


def producer_config(settings: Settings, bootstrap: str) -> dict:
    """librdkafka settings: never lose or duplicate (acks=all + idempotence), batch for throughput."""
    return {
        "bootstrap.servers": bootstrap,
        **librdkafka_auth(settings.security, "producer"),  # the producer's user: WRITE on the three topics only
        "client.id": "log-producer",
        "acks": "all",
        "enable.idempotence": True,
        "max.in.flight.requests.per.connection": 5,
        "linger.ms": settings.producer_linger_ms,
        "batch.size": settings.producer_batch_bytes,
        "compression.type": settings.producer_compression,
        "message.timeout.ms": settings.producer_message_timeout_ms,
        "queue.buffering.max.messages": settings.producer_queue_max_messages,
        "queue.buffering.max.kbytes": 1024 * 1024,
    }


@dataclass
class DeliveryTally:
    """What happened to every record handed to the producer, per topic."""

    sent: Counter = field(default_factory=Counter)
    acked: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    malformed: Counter = field(default_factory=Counter)  # records broken on purpose (`--profile malformed`), by kind
    evolved: Counter = field(default_factory=Counter)  # records in a later schema version (`--profile evolve`)
    evolved_ids: dict = field(default_factory=dict)  # topic -> the schema id the registry gave that version

    def on_delivery(self, err: KafkaError | None, msg) -> None:
        if err is not None:
            self.failed[msg.topic()] += 1
            self.errors[err.name()] += 1
        else:
            self.acked[msg.topic()] += 1

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    @property
    def total_acked(self) -> int:
        return sum(self.acked.values())

    @property
    def total_failed(self) -> int:
        return sum(self.failed.values())

    def undelivered(self, topic: str) -> int:
        return self.sent[topic] - self.acked[topic] - self.failed[topic]

    @property
    def all_delivered(self) -> bool:
        return self.total_acked == self.total_sent


class Pacer:
    """Spreads `rate` events/s evenly: after n events it waits until start + n/rate (0 = no limit)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.perf_counter) -> None:
        self.rate = rate
        self.clock = clock
        self.start = clock()

    def delay(self, produced: int) -> float:
        if self.rate <= 0:
            return 0.0
        return max(0.0, self.start + produced / self.rate - self.clock())


def wall_clock_events(generator: LogGenerator, streams: Iterable[LogStream]) -> Iterator[Event]:
    """Endless sessions ending now, keeping only events of the chosen streams."""
    wanted = set(s.name for s in streams)
    while True:
        for event in generator.session(int(time.time() * 1000)):
            if event.stream.name in wanted:
                yield event


class LogProducer:
    """A confluent-kafka Producer with one wire encoder per stream (kafka/wire_encoder.py); flushes on close."""

    def __init__(
        self,
        settings: Settings,
        bootstrap: str | None = None,
        registry_url: str | None = None,
        topics: dict[str, str] | None = None,
    ) -> None:
        """`topics` redirects streams to other topics (benchmarks; subjects stay the contract's). The settings'
        topic prefix (a namespace: the bench's) names other topics and their own subjects."""
        self.settings = settings
        self.bootstrap = bootstrap or settings.kafka_bootstrap_servers
        self.registry_url = (registry_url or settings.schema_registry_url).rstrip("/")
        self.streams = streams(settings.topic_prefix)
        self.topics = {s.name: (topics or {}).get(s.name, s.topic) for s in self.streams}
        self.tally = DeliveryTally()
        self._stop = False
        self._check_broker()
        client = SchemaRegistryClient(self._registry_settings())
        # The ids the registry returns for the contract's schemas: never assumed, a refusal names the field.
        ids = schema_registry.register_all(client, self.registry_url, settings.registry_retry_s, self.streams)
        self.encoders = {s.name: WireEncoder(s, ids[s.subject]) for s in self.streams}
        self.later_encoders: dict[tuple[str, str], WireEncoder] = {}
        self.producer = Producer(producer_config(settings, self.bootstrap) | {"error_cb": self._on_error})
        self.last_error: str | None = None
        self.ack_log: TextIO | None = None  # when set: one line per acknowledged record (see `acked_records`)

    def _check_broker(self) -> None:
        problem, topics = metadata_problem(
            producer_config(self.settings, self.bootstrap), "producer", BROKER_CHECK_TIMEOUT_S
        )
        if problem:
            raise ProducerStartError(problem)
        missing = [t for t in self.topics.values() if t not in topics]
        if missing:
            raise ProducerStartError(
                f"topics {', '.join(missing)} do not exist: create them with `python3 main.py setup` "
                "(or `bash kafka/create_topics.sh`)"
            )

    def _on_error(self, err: KafkaError) -> None:
        self.last_error = f"{err.name()}: {err.str()}"
        log.warning("kafka client: %s", self.last_error)

    def stop(self, *_: object) -> None:
        self._stop = True

    def produce_one(self, event: Event, queue_full_timeout_s: float, malformer: Malformer | None = None) -> bool:
        """Serialize and hand one event to librdkafka; wait while its queue is full, up to a bound."""
        name = event.stream.name
        topic = self.topics[name]
        encoder = self.encoders[name]
        if event.stream.schema_file != encoder.stream.schema_file:  # a later version (`--profile evolve`)
            encoder = self._later_version(event.stream)
            self.tally.evolved[topic] += 1
            self.tally.evolved_ids[topic] = encoder.schema_id
        if malformer is None:
            value = encoder(event.value)
        else:
            value, kind = malformer(event, encoder)
            if kind is not None:
                self.tally.malformed[kind] += 1
        on_delivery = self.tally.on_delivery if self.ack_log is None else self._logging_delivery(event)
        deadline = None
        while True:
            try:
                self.producer.produce(topic, value=value, key=event.key.encode(), on_delivery=on_delivery)
                self.tally.sent[topic] += 1
                return True
            except BufferError:
                deadline = deadline or time.monotonic() + queue_full_timeout_s
                if time.monotonic() > deadline or self._stop:
                    return False
                self.producer.poll(0.1)

    def _registry_settings(self) -> dict[str, str]:
        return {**self.settings.registry_client("producer"), "url": self.registry_url}

    def _later_version(self, later: LogStream) -> WireEncoder:
        """The encoder of a later schema version, registered (and compatibility-checked) when first met, under
        the subject of the topic this producer writes (events name the contract's)."""
        key = (later.name, later.schema_file)
        if key not in self.later_encoders:
            stream = dataclasses.replace(self.encoders[later.name].stream, schema_file=later.schema_file)
            client = SchemaRegistryClient(self._registry_settings())
            schema_id = schema_registry.register(client, stream, self.registry_url, self.settings.registry_retry_s)
            log.info("%s: now writing %s (schema id %d)", stream.subject, stream.schema_file, schema_id)
            self.later_encoders[key] = WireEncoder(stream, schema_id)
        return self.later_encoders[key]

    def _logging_delivery(self, event: Event) -> Callable:
        event_id = event.value["event_id"]

        def on_delivery(err: KafkaError | None, msg) -> None:
            self.tally.on_delivery(err, msg)
            if err is None:
                self.ack_log.write(f"{msg.topic()}\t{msg.partition()}\t{msg.offset()}\t{event_id}\n")

        return on_delivery

    def run(
        self,
        events: Iterable[Event],
        rate: float = 0,
        count: int | None = None,
        duration_s: float | None = None,
        progress: bool | None = None,
        pacer: Pacer | BurstyPacer | None = None,
        malformer: Malformer | None = None,
    ) -> DeliveryTally:
        """Produce until `count` events, `duration_s` seconds, the end of `events`, or a stop signal."""
        pacer = pacer or Pacer(rate)
        started = time.monotonic()
        queue_full_timeout_s = self.settings.producer_message_timeout_ms / 1000
        show_bar = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(total=count, unit="ev", disable=not show_bar, smoothing=0.1, mininterval=0.5)
        next_log = started + PROGRESS_LOG_EVERY_S
        produced = 0
        try:
            for event in events:
                if self._stop or (count is not None and produced >= count):
                    break
                if duration_s is not None and time.monotonic() - started >= duration_s:
                    break
                if not self.produce_one(event, queue_full_timeout_s, malformer):
                    log.error(
                        "producer queue full for %.0f s (%s): stopping generation; see the report below",
                        queue_full_timeout_s,
                        self.last_error or "broker slow or unreachable",
                    )
                    break
                produced += 1
                if produced % 64 == 0:
                    self.producer.poll(0)
                    bar.update(64)
                    wait = pacer.delay(produced)
                    if wait > 0:
                        time.sleep(wait)
                    now = time.monotonic()
                    if not show_bar and now >= next_log:
                        next_log = now + PROGRESS_LOG_EVERY_S
                        log.info(
                            "sent %d, acked %d, failed %d, %.0f events/s",
                            produced, self.tally.total_acked, self.tally.total_failed, produced / (now - started),
                        )  # fmt: skip
                    if self.tally.total_failed:
                        bar.set_postfix(failed=self.tally.total_failed, refresh=False)
        finally:
            bar.close()
            self.flush()
        return self.tally

    def close(self) -> None:
        """Flush, then shut the client down: a producer left to the garbage collector keeps its connections
        (and retries its login against a broker that has since changed)."""
        self.flush()
        self.producer.close()

    def __enter__(self) -> LogProducer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def flush(self) -> int:
        """Wait for every in-flight record's outcome (bounded by message.timeout.ms); returns how many remain."""
        remaining = self.producer.flush(self.settings.producer_message_timeout_ms / 1000 + 5)
        if remaining:
            log.error("%d records still undelivered after flush", remaining)
        return remaining


def acked_records(path: Path) -> Iterator[tuple[str, int, int, str]]:
    """(topic, partition, offset, event_id) of each record an `--ack-log` says was acknowledged."""
    with path.open() as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4:  # a line cut short by a kill -9 is skipped
                yield parts[0], int(parts[1]), int(parts[2]), parts[3]


def format_report(tally: DeliveryTally, elapsed_s: float) -> str:
    lines = [f"{'TOPIC':<22} {'SENT':>10} {'ACKED':>10} {'FAILED':>8} {'UNDELIVERED':>12}"]
    for topic in sorted(tally.sent):
        lines.append(
            f"{topic:<22} {tally.sent[topic]:>10} {tally.acked[topic]:>10} "
            f"{tally.failed[topic]:>8} {tally.undelivered(topic):>12}"
        )
    rate = tally.total_acked / elapsed_s if elapsed_s > 0 else 0.0
    undelivered = tally.total_sent - tally.total_acked - tally.total_failed
    lines.append(
        f"{'total':<22} {tally.total_sent:>10} {tally.total_acked:>10} {tally.total_failed:>8} {undelivered:>12}"
        f"   ({rate:,.0f} acked events/s over {elapsed_s:.1f} s)"
    )
    for topic, n in sorted(tally.evolved.items()):
        lines.append(
            f"evolved: {n} records of {topic} written with its next schema version (id {tally.evolved_ids[topic]})"
        )
    if tally.malformed:
        kinds = ", ".join(f"{kind} x{n}" for kind, n in sorted(tally.malformed.items()) if n)
        lines.append(f"malformed on purpose: {sum(tally.malformed.values())} ({kinds}); each is a dead letter")
    if tally.errors:
        lines.append("delivery errors: " + ", ".join(f"{name} x{n}" for name, n in tally.errors.most_common()))
    return "\n".join(lines)


def parse_streams(value: str) -> list[LogStream]:
    chosen = []
    for item in filter(None, (v.strip() for v in value.split(","))):
        stream = BY_NAME.get(item) or BY_TOPIC.get(item)
        if stream is None:
            names = ", ".join([*BY_NAME, *BY_TOPIC])
            raise argparse.ArgumentTypeError(f"unknown topic {item!r}: choose from {names}")
        chosen.append(stream)
    return chosen


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py produce", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rate",
        type=float,
        default=settings.producer_rate,
        help="events/s, paced evenly; 0 = as fast as possible (default: PRODUCER_RATE)",
    )
    parser.add_argument("--count", type=int, help="stop after this many events (all topics together)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--topics", type=parse_streams, default=list(STREAMS), help="subset, e.g. session,auth")
    parser.add_argument("--seed", type=int, help="fix every generated value except event times (wall clock)")
    parser.add_argument("--user-prefix", default="user", help="user ids are PREFIX_000000... (default: user)")
    parser.add_argument(
        "--ack-log",
        type=Path,
        help="append 'topic partition offset event_id' for each acknowledged record (for a later reconciliation)",
    )
    parser.add_argument("--bootstrap-servers", default=settings.kafka_bootstrap_servers)
    parser.add_argument("--schema-registry-url", default=settings.schema_registry_url)
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="force the progress bar on/off"
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="steady",
        help="steady: even pace; bursty: 10x the rate for 5 s every minute; late: --share of events minutes to "
        "hours behind, out of order; malformed: --share of records broken in each way dead letters name; "
        "evolve: after --switch-after events, activity events in the schema's next version (registered then)",
    )
    parser.add_argument(
        "--switch-after",
        type=int,
        default=None,
        help=f"evolve: events before the switch (half of --count, else {EVOLVE_AFTER_DEFAULT:,})",
    )
    parser.add_argument("--share", type=float, default=0.05, help="late, malformed: the share of events (0.05)")
    parser.add_argument(
        "--attack",
        choices=ATTACKS,
        help="mix a brute-force pattern into the traffic: user = one victim failing from a few addresses (and "
        "locked every 10 failures); ip = one address failing against many users (see auth_alerts in README)",
    )
    parser.add_argument(
        "--attack-rate", type=float, default=2.0, help="the attack's failed logins per second (default 2)"
    )
    parser.add_argument("--attack-count", type=int, help="stop attacking after this many failed logins")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="split generation and producing over N processes (count and rate split evenly, seeds SEED+i); "
        "one combined report",
    )
    return parser


def profiled(args: argparse.Namespace, seed: int | None) -> dict:
    """The events, pacer and malformer of `--profile` (what `LogProducer.run` takes besides its bounds)."""
    rng = random.Random(None if seed is None else seed + 1)
    generator = LogGenerator(seed=seed, user_prefix=args.user_prefix)
    events = wall_clock_events(generator, args.topics)
    run = {"events": events, "rate": args.rate}
    if args.profile == "bursty":
        run["pacer"] = BurstyPacer(args.rate)
    elif args.profile == "late":
        run["events"] = late_events(events, args.share, rng)
    elif args.profile == "malformed":
        run["malformer"] = Malformer(args.share, rng)
    elif args.profile == "evolve":
        switch_after = args.switch_after
        if switch_after is None:
            switch_after = args.count // 2 if args.count else EVOLVE_AFTER_DEFAULT
        run["events"] = evolved_events(events, switch_after, rng)
    if getattr(args, "attack", None):
        attack = Attack(args.attack, generator, None if seed is None else seed + 2)
        run["events"] = with_attack(run["events"], attack, args.attack_rate, args.attack_count)
        run["attack"] = attack
    return run


def produce_part(args: argparse.Namespace, part: int, results) -> None:
    """One of `--processes N`: its share of the count and rate, its own seed; its tally goes to `results`."""
    settings = load_settings()
    try:
        producer = LogProducer(settings, args.bootstrap_servers, args.schema_registry_url)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, producer.stop)
        seed = None if args.seed is None else args.seed + part
        tally = producer.run(**profiled(args, seed), count=args.count, duration_s=args.duration, progress=False)
        results.put((part, tally, None))
    except Exception as exc:  # reported by the parent as this process's failure, with its type
        results.put((part, None, f"{type(exc).__name__}: {exc}"))


def split(total: int | None, parts: int) -> list[int | None]:
    """`total` in `parts` shares differing by at most one (None stays None: no limit)."""
    if total is None:
        return [None] * parts
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def combine(tallies: Iterable[DeliveryTally]) -> DeliveryTally:
    combined = DeliveryTally()
    for tally in tallies:
        for name in ("sent", "acked", "failed", "errors", "malformed", "evolved"):
            getattr(combined, name).update(getattr(tally, name))
        combined.evolved_ids.update(tally.evolved_ids)
    return combined


def run_processes(args: argparse.Namespace) -> tuple[DeliveryTally, list[str]]:
    """Start `--processes` producers (spawned: no librdkafka state crosses a fork), wait, combine their tallies."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    counts, parts = split(args.count, args.processes), []
    for part, count in enumerate(counts):
        share = argparse.Namespace(**{**vars(args), "count": count, "rate": args.rate / args.processes})
        process = context.Process(target=produce_part, args=(share, part, results), name=f"producer-{part}")
        process.start()
        parts.append(process)

    def forward(signum, _frame) -> None:  # Ctrl-C or a stop: every part stops, flushes and reports
        for process in parts:
            if process.is_alive():
                process.terminate()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    tallies, errors = [], []
    for _ in parts:
        part, tally, error = results.get()
        if error:
            errors.append(f"producer process {part}: {error}")
        else:
            tallies.append(tally)
    for process in parts:
        process.join()
    return combine(tallies), errors


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2"):  # one line per registry request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = load_settings()
    parser = build_parser(settings)
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.processes > 1 and args.ack_log:
        parser.error("--ack-log needs --processes 1 (one log, one producer)")
    if args.attack and args.processes > 1:
        parser.error("--attack needs --processes 1 (one attacker)")
    if args.attack and args.attack_rate <= 0:
        parser.error("--attack-rate must be above 0 failed logins per second")
    if not 0 <= args.share <= 1:
        parser.error("--share is a share of events, from 0 to 1")
    try:  # also the check before starting processes: Kafka, the topics and the schemas, one clear error
        producer = LogProducer(settings, args.bootstrap_servers, args.schema_registry_url)
    except (ProducerStartError, schema_registry.RegistryUnavailable, schema_registry.IncompatibleSchema) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()
    errors: list[str] = []
    if args.processes > 1:
        producer.producer.flush(0)
        del producer
        tally, errors = run_processes(args)
    else:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, producer.stop)
        with contextlib.ExitStack() as stack:
            if args.ack_log:
                producer.ack_log = stack.enter_context(args.ack_log.open("a", buffering=1 << 16))
            run = profiled(args, args.seed)
            attack = run.pop("attack", None)
            tally = producer.run(**run, count=args.count, duration_s=args.duration, progress=args.progress)
            if attack is not None:
                print(attack.describe())
    print(format_report(tally, time.monotonic() - started))
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if not tally.all_delivered:
        print(
            f"error: {tally.total_sent - tally.total_acked} of {tally.total_sent} events were not delivered",
            file=sys.stderr,
        )
    return 1 if errors or not tally.all_delivered else 0


if __name__ == "__main__":
    sys.exit(main())
