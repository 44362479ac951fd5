"""What the benchmark suite measured on this box, for commands that size their load from it."""

from __future__ import annotations

import json
from pathlib import Path

from config.settings import PROJECT_ROOT

DEFAULT_RATE = 1000.0  # events/s when no benchmark has measured the sustained rate here


def default_rate(results_dir: Path = PROJECT_ROOT / "bench-results") -> tuple[float, str]:
    """Half the sustained rate of the newest full benchmark run here (the load chaos and soak run at), or
    DEFAULT_RATE; with the reason."""
    for path in sorted(results_dir.glob("*-full/results.json"), reverse=True):
        sustained = (json.loads(path.read_text()).get("sustained") or {}).get("events_per_s")
        if sustained:
            return sustained / 2, f"half the sustained rate measured in {path.parent.name}"
    return DEFAULT_RATE, "no full benchmark run found here (`python3 main.py bench`); a fixed default"
