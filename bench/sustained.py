"""The highest producer rate the streaming job keeps up with: a search over rates, not a guess.

A trial produces at a fixed rate for a while and samples the job's lag (topic end offsets minus the offsets
its committed batches reached, as `main.py status` shows them). After a settling period the lag must stay
bounded: it does not trend upwards (least-squares growth under MAX_GROWTH of the rate: a job that much
slower than its input is falling behind) and never exceeds LAG_BOUND_S seconds' worth of input. Between
trials the backlog drains to zero.
"""

from __future__ import annotations

import threading
import time

from config.settings import Settings
from kafka.contract import STREAMS
from kafka.kafka_producer import LogProducer, wall_clock_events
from kafka.logs_generators import LogGenerator
from local.pipeline_status import total_lag

LAG_BOUND_S = 10.0
MAX_GROWTH = 0.1
# A lag under this many seconds of input when producing stops is keeping up, whatever a short, noisy
# trend says.
SMALL_LAG_S = 2.0
MIN_RATE = 100.0
SAMPLE_EVERY_S = 2.0


def lag_growth_per_s(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of lag over time (events/s); 0 with fewer than three samples."""
    if len(samples) < 3:
        return 0.0
    mean_t = sum(t for t, _ in samples) / len(samples)
    mean_lag = sum(lag for _, lag in samples) / len(samples)
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    return sum((t - mean_t) * (lag - mean_lag) for t, lag in samples) / spread if spread else 0.0


def drain(settings: Settings, timeout_s: float) -> float | None:
    """Seconds until the lag is zero, or None if it is not within `timeout_s`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        sample = total_lag(settings)
        if sample is not None and sample[0] == 0:
            return round(time.monotonic() - started, 1)
        time.sleep(1)
    return None


def trial(settings: Settings, rate: float, duration_s: float, seed: int) -> dict:
    producer = LogProducer(settings)
    outcome: dict = {}
    events = wall_clock_events(LogGenerator(seed=seed, users=2000, user_prefix=f"sustain_{seed}"), STREAMS)
    sending = threading.Thread(
        target=lambda: outcome.update(tally=producer.run(events, rate=rate, duration_s=duration_s, progress=False)),
        daemon=True,
    )
    first = total_lag(settings)
    started = time.monotonic()
    sending.start()
    samples: list[tuple[float, int]] = []
    while sending.is_alive() and time.monotonic() - started < duration_s + 120:
        time.sleep(SAMPLE_EVERY_S)
        sample = total_lag(settings)
        if sample is not None:
            samples.append((round(time.monotonic() - started, 1), sample[0]))
    sending.join(timeout=60)
    producer.close()
    last = total_lag(settings)
    elapsed = time.monotonic() - started
    tally = outcome.get("tally")
    settle_s = min(15.0, duration_s / 4)
    bound = rate * LAG_BOUND_S
    settled = [(t, lag) for t, lag in samples if t >= settle_s]
    worst = max((lag for _, lag in settled), default=0)
    growth = lag_growth_per_s(settled)
    processed = (last[1] - first[1]) if first and last else 0
    return {
        "rate": rate,
        "duration_s": duration_s,
        "produced": tally.total_acked if tally else 0,
        "all_delivered": bool(tally and tally.all_delivered),
        "processed_events_per_s": round(processed / elapsed, 1),
        "max_lag_after_settling": worst,
        "lag_bound": round(bound),
        "lag_growth_per_s": round(growth, 1),
        "lag_at_end": last[0] if last else None,
        "kept_up": bool(tally and tally.all_delivered)
        and worst <= bound
        and (growth <= MAX_GROWTH * rate or (last is not None and last[0] <= SMALL_LAG_S * rate)),
        "lag_samples": samples,
        "drain_s": drain(settings, timeout_s=max(120.0, 3 * duration_s)),
    }


def search(settings: Settings, start_rate: float, trials: int, duration_s: float) -> dict:
    """Double the rate while the job keeps up, halve it when not, then bisect between the two. Halving goes on
    past `trials` until some rate keeps up (down to MIN_RATE), so the answer is never empty."""
    kept, failed, rate = None, None, start_rate
    results = []
    while len(results) < trials or (kept is None and rate >= MIN_RATE):
        result = trial(settings, rate, duration_s, seed=1000 + len(results))
        results.append(result)
        print(
            f"  {rate:>8,.0f} events/s for {duration_s:.0f} s: "
            f"{'kept up' if result['kept_up'] else 'fell behind'} (lag max {result['max_lag_after_settling']:,} "
            f"of {result['lag_bound']:,}, growing {result['lag_growth_per_s']:,.0f}/s; "
            f"job {result['processed_events_per_s']:,.0f}/s)",
            flush=True,
        )
        if result["kept_up"]:
            kept = rate
        else:
            failed = rate
        if kept is None:
            rate = rate / 2
        elif failed is None:
            rate = rate * 2
        else:
            rate = (kept + failed) / 2
        rate = max(50.0, round(rate / 50) * 50)
    return {"events_per_s": kept or 0.0, "first_failing_rate": failed, "trials": results}
