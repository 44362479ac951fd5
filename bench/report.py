"""Ratios, targets, the markdown summary and the plots of a `bench` run (pure: results dict in, files out)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

# Issue 17's targets on this box: p99 at two rates, producer and sustained rates, the job ahead of the peer.
P99_TARGETS_MS = {1000: 1500, 5000: 2500}
PRODUCER_TARGET = "producer events/s (one process)"
# Service names as a reader of the summary knows them.
SERVICE_NAMES = {"stream": "job driver", "spark-worker": "executor", "bench (producer)": "producer"}


def _ratio(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 3) if part and whole else None


def ratios(results: dict) -> dict:
    producer = results["producer"]
    sustained = results["sustained"]["events_per_s"]
    return {
        "end_to_end_vs_cassandra_ceiling": _ratio(sustained, results["cassandra_ceiling"]["rows_per_s"]),
        "end_to_end_vs_connector_ceiling": _ratio(sustained, results["connector_ceiling"]["rows_per_s"]),
        "producer_vs_raw_produce": _ratio(producer["producer_events_per_s"], producer["raw_produce_events_per_s"]),
    }


def _latency_at(results: dict, rate: float) -> dict | None:
    return next((m for m in results["latency"] if m["target_rate"] == rate), None)


def _p99(results: dict, rate: float) -> float | None:
    at = _latency_at(results, rate)
    return at["latency_ms"]["p99"] if at else None


def targets(results: dict) -> list[dict]:
    """The issues' targets for this box, each with what this run measured."""
    shares = ratios(results)
    peer = results.get("peer") or {}
    measured = [
        (
            PRODUCER_TARGET,
            ">= 40,000",
            results["producer"]["producer_events_per_s"],
            lambda v: v >= 40_000,
        ),
        ("end-to-end sustained events/s", ">= 8,000", results["sustained"]["events_per_s"], lambda v: v >= 8_000),
        (
            "end-to-end / Cassandra ceiling (cassandra-driver)",
            ">= 0.5",
            shares["end_to_end_vs_cassandra_ceiling"],
            lambda v: v >= 0.5,
        ),
        (
            "end-to-end / connector-alone ceiling",
            ">= 0.5",
            shares["end_to_end_vs_connector_ceiling"],
            lambda v: v >= 0.5,
        ),
        *(
            (_p99_target(rate), f"<= {bound:,}", _p99(results, rate), lambda v, b=bound: v <= b)
            for rate, bound in P99_TARGETS_MS.items()
        ),
        ("job / best peer drain rate", "> 1", peer.get("job_vs_peer_ratio"), lambda v: v > 1),
        ("warm `up` to first row (s)", "<= 90", results["startup"]["warm"]["first_row_s"], lambda v: v <= 90),
        ("whole stack peak RSS (MB)", "<= 4,096", results["memory"]["peak_rss_mb_total"], lambda v: v <= 4096),
    ]
    rows = [
        {"target": name, "wanted": wanted, "measured": value, "met": value is not None and check(value)}
        for name, wanted, value, check in measured
    ]
    reasons = {_p99_target(rate): (_latency_at(results, rate) or {}).get("cpu") for rate in P99_TARGETS_MS}
    reasons[PRODUCER_TARGET] = results["producer"].get("cpu")
    for row in rows:
        if not row["met"] and reasons.get(row["target"]):
            row["why"] = box_load(reasons[row["target"]])
    return rows


def _p99_target(rate: int) -> str:
    return f"p99 latency at {rate:,} events/s (ms)"


def box_load(cpu: dict) -> str:
    """What the box was doing while a target was measured: the measured reason next to a missed one."""
    by = cpu["pct_of_one_core_by_service"]
    busiest = sorted(((pct, name) for name, pct in by.items() if pct >= 1), reverse=True)
    return (
        f"box {cpu['box_busy_share'] * 100:.0f} % busy: "
        + ", ".join(f"{SERVICE_NAMES.get(name, name)} {pct} %" for pct, name in busiest)
        + " of a core (docs/performance.md)"
    )


def _fmt(value, spec: str = ",.0f") -> str:
    if value is None:
        return "-"
    return format(value, spec) if isinstance(value, int | float) else str(value)


def _spec(value) -> str:
    return ".2f" if isinstance(value, float) and value < 10 else ",.0f"


def summary_markdown(results: dict) -> str:
    m, producer, ceiling, sustained = (
        results["machine"],
        results["producer"],
        results["cassandra_ceiling"],
        results["sustained"],
    )
    ratio = results["ratios"]
    lines = [
        f"# Pipeline benchmark ({results['mode']} mode, {results['started_at']})",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB RAM, Python {m['python']}, "
        f"{m['platform']}. Everything co-located. Run took {_fmt(results.get('duration_s'))} s.",
        "",
        "## Targets",
        "",
        "| target | wanted | measured | met |",
        "|---|---|---|---|",
        *[
            f"| {t['target']} | {t['wanted']} | {_fmt(t['measured'], _spec(t['measured']))} | "
            f"{'yes' if t['met'] else 'no: ' + t['why'] if t.get('why') else 'no'} |"
            for t in results["targets"]
        ],
        "",
        "## Throughput against ceilings measured in this run",
        "",
        "| what | events (rows)/s |",
        "|---|---|",
        f"| producer (Faker + wire encoder + registry + acks) | {_fmt(producer['producer_events_per_s'])} |",
        f"| raw librdkafka, same records | {_fmt(producer['raw_produce_events_per_s'])} |",
        f"| end-to-end sustained (lag bounded) | {_fmt(sustained['events_per_s'])} |",
        f"| Cassandra write ceiling, cassandra-driver (best of the search) | {_fmt(ceiling['rows_per_s'])} |",
        f"| Cassandra write ceiling, the job's connector alone (rows in memory) | "
        f"{_fmt(results['connector_ceiling']['rows_per_s'])} |",
        "",
        f"Ratios: end-to-end / Cassandra ceiling (cassandra-driver) "
        f"**{_fmt(ratio['end_to_end_vs_cassandra_ceiling'], '.2f')}**, end-to-end / connector-alone ceiling "
        f"**{_fmt(ratio['end_to_end_vs_connector_ceiling'], '.2f')}**, producer / raw produce "
        f"**{_fmt(ratio['producer_vs_raw_produce'], '.2f')}**.",
        "",
        "Cassandra ceiling trials: "
        + "; ".join(f"{t['processes']}x{t['in_flight']}: {_fmt(t['rows_per_s'])}/s" for t in ceiling["trials"]),
        "",
        "Sustained-rate trials: "
        + "; ".join(
            f"{_fmt(t['rate'])}/s {'kept up' if t['kept_up'] else 'fell behind'} "
            f"(lag max {_fmt(t['max_lag_after_settling'])}, growing {_fmt(t['lag_growth_per_s'])}/s)"
            for t in sustained["trials"]
        ),
        "",
        "## Per-event latency (Cassandra write time - Kafka record timestamp)",
        "",
        "| rate /s | events | all landed | p50 ms | p95 ms | p99 ms | max ms | end-to-end /s |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| {_fmt(r['target_rate'])}{' (sustained)' if r.get('sustained_rate') else ''} | {_fmt(r['events'])} | "
            f"{'yes' if r['complete'] else 'NO'} | {_fmt(r['latency_ms']['p50'])} | {_fmt(r['latency_ms']['p95'])} | "
            f"{_fmt(r['latency_ms']['p99'])} | {_fmt(r['latency_ms']['max'])} | {_fmt(r['end_to_end_events_per_s'])} |"
            for r in results["latency"]
        ],
        "",
        *_bursty_and_peer(results),
        "## Start-up",
        "",
        "| | `up` returned (s) | first row in Cassandra (s) |",
        "|---|---|---|",
        *[
            f"| {kind} | {_fmt(results['startup'][kind]['up_s'], '.1f')} | "
            f"{_fmt(results['startup'][kind]['first_row_s'], '.1f')} |"
            for kind in ("cold", "warm")
        ],
        "",
        "## Peak resident memory",
        "",
        "| service | MB |",
        "|---|---|",
        *[f"| {name} | {_fmt(mb)} |" for name, mb in results["memory"]["peak_rss_mb_by_service"].items()],
        f"| **whole stack (peak of the sum)** | **{_fmt(results['memory']['peak_rss_mb_total'])}** |",
        "",
        "## Settings",
        "",
        *[f"- `{name}`: {value}" for name, value in results["settings"].items()],
        "",
        "Plots: `latency.png` (percentiles against rate), `throughput.png` (throughput against the two ceilings).",
    ]
    return "\n".join(lines) + "\n"


def _bursty_and_peer(results: dict) -> list[str]:
    lines = []
    bursty = results.get("latency_bursty")
    if bursty:
        lat = bursty["latency_ms"]
        lines += [
            f"Under the `bursty` profile ({_fmt(bursty['target_rate'])}/s, ten times that for the first 5 s of "
            f"each minute; {_fmt(bursty['events'])} events, {'all' if bursty['complete'] else 'NOT all'} landed): "
            f"p50 {_fmt(lat['p50'])} ms, p95 {_fmt(lat['p95'])} ms, p99 {_fmt(lat['p99'])} ms, "
            f"max {_fmt(lat['max'])} ms.",
            "",
        ]
    peer = results.get("peer")
    if peer:
        lines += [
            "## The job against a plain Python consumer (the peer), the same backlog",
            "",
            f"{_fmt(peer['events'])} events produced at full speed, drained into a keyspace of each's own; "
            "first record produced to last row written.",
            "",
            "| consumer | events/s | all landed |",
            "|---|---|---|",
            f"| the job (Spark) | {_fmt(peer['job']['end_to_end_events_per_s'])} | "
            f"{'yes' if peer['job']['complete'] else 'NO'} |",
            *[
                f"| peer, {p['processes']} process(es) x {p['in_flight']} in flight | "
                f"{_fmt(p['end_to_end_events_per_s'])} | {'yes' if p['complete'] else 'NO'} |"
                for p in peer["peers"]
            ],
            "",
            f"Job / best peer: **{_fmt(peer['job_vs_peer_ratio'], '.2f')}**.",
            "",
        ]
    return lines


def plot_latency(results: dict, path: Path) -> None:
    measured = sorted(results["latency"], key=lambda r: r["target_rate"])
    rates = [r["target_rate"] for r in measured]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for q in ("p50", "p95", "p99"):
        ax.plot(rates, [r["latency_ms"][q] / 1000 for r in measured], marker="o", label=q)
    for rate, bound_ms in P99_TARGETS_MS.items():
        ax.plot([rate], [bound_ms / 1000], marker="v", color="grey", linestyle="none")
        ax.annotate(f"p99 target at {rate:,}/s", (rate, bound_ms / 1000), fontsize=8, va="top")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("producer rate (events/s)")
    ax.set_ylabel("latency: Cassandra write - Kafka timestamp (s)")
    ax.set_title("Per-event end-to-end latency")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_throughput(results: dict, path: Path) -> None:
    producer = results["producer"]
    bars = [
        ("raw librdkafka\n(ceiling)", producer["raw_produce_events_per_s"], "tab:grey"),
        ("producer", producer["producer_events_per_s"], "tab:blue"),
        ("Cassandra via\ncassandra-driver", results["cassandra_ceiling"]["rows_per_s"], "tab:grey"),
        ("Cassandra via\nconnector alone", results["connector_ceiling"]["rows_per_s"], "tab:grey"),
        ("end-to-end\nsustained", results["sustained"]["events_per_s"], "tab:green"),
    ]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    positions = range(len(bars))
    ax.bar(positions, [b[1] for b in bars], color=[b[2] for b in bars])
    for x, (_, value, _) in zip(positions, bars, strict=True):
        ax.annotate(f"{value:,.0f}", (x, value), ha="center", va="bottom")
    ax.set_xticks(list(positions), [b[0] for b in bars])
    ax.set_yscale("log")
    ax.set_ylabel("events (rows) per second")
    ax.set_title("Throughput against ceilings measured in the same run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict, folder: Path) -> None:
    (folder / "summary.md").write_text(summary_markdown(results))
    plot_latency(results, folder / "latency.png")
    plot_throughput(results, folder / "throughput.png")
