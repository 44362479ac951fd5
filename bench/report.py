"""Ratios, targets, the markdown summary and the plots of a `bench` run (pure: results dict in, files out)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

P99_TARGET_RATE = 1000


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


def targets(results: dict) -> list[dict]:
    """The issue's targets for this box, each with what this run measured."""
    at_1k = _latency_at(results, P99_TARGET_RATE)
    p99_at_1k = at_1k["latency_ms"]["p99"] if at_1k else None
    shares = ratios(results)
    measured = [
        ("producer events/s", ">= 50,000", results["producer"]["producer_events_per_s"], lambda v: v >= 50_000),
        ("end-to-end sustained events/s", ">= 10,000", results["sustained"]["events_per_s"], lambda v: v >= 10_000),
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
        ("p99 latency at 1k events/s (ms)", "<= 3,000", p99_at_1k, lambda v: v <= 3000),
        ("warm `up` to first row (s)", "<= 90", results["startup"]["warm"]["first_row_s"], lambda v: v <= 90),
        ("whole stack peak RSS (MB)", "<= 4,096", results["memory"]["peak_rss_mb_total"], lambda v: v <= 4096),
    ]
    return [
        {"target": name, "wanted": wanted, "measured": value, "met": value is not None and check(value)}
        for name, wanted, value, check in measured
    ]


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
            f"{'yes' if t['met'] else 'no'} |"
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


def plot_latency(results: dict, path: Path) -> None:
    measured = sorted(results["latency"], key=lambda r: r["target_rate"])
    rates = [r["target_rate"] for r in measured]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for q in ("p50", "p95", "p99"):
        ax.plot(rates, [r["latency_ms"][q] / 1000 for r in measured], marker="o", label=q)
    ax.axhline(3, color="grey", linestyle="--", linewidth=1, label="p99 target at 1k/s (3 s)")
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
