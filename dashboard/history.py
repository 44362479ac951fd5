"""The last minutes of the pipeline's figures, one point per sample, and the rates derived from them (pure)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise

WINDOW_S = 15 * 60


@dataclass(frozen=True)
class Point:
    """One sample: per topic (offsets and lag) or per table (latency), None where a source did not answer."""

    at: float
    end_offset: dict[str, int | None] = field(default_factory=dict)
    processed_offset: dict[str, int | None] = field(default_factory=dict)
    lag: dict[str, int | None] = field(default_factory=dict)
    lag_s: dict[str, float | None] = field(default_factory=dict)
    p50_s: dict[str, float | None] = field(default_factory=dict)
    p99_s: dict[str, float | None] = field(default_factory=dict)


def rate(before: Point, after: Point, figure: str, key: str) -> float | None:
    """Records per second of an offset between two points; None across a gap, a missing value or a reset."""
    a, b = getattr(before, figure).get(key), getattr(after, figure).get(key)
    elapsed = after.at - before.at
    if a is None or b is None or elapsed <= 0 or b < a:
        return None
    return (b - a) / elapsed


class History:
    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self.points: deque[Point] = deque()

    def add(self, point: Point) -> None:
        self.points.append(point)
        while self.points and self.points[0].at < point.at - self.window_s:
            self.points.popleft()

    def latest_rate(self, figure: str, key: str) -> float | None:
        if len(self.points) < 2:
            return None
        return rate(self.points[-2], self.points[-1], figure, key)

    def rates(self, figure: str, keys: list[str]) -> dict[str, list[float | None]]:
        """Per key, one rate per point (None for the first)."""
        pairs = list(pairwise(self.points))
        return {key: [None, *(rate(a, b, figure, key) for a, b in pairs)] for key in keys}

    def values(self, figure: str, keys: list[str]) -> dict[str, list]:
        return {key: [getattr(p, figure).get(key) for p in self.points] for key in keys}

    def series(self, topics: list[str], tables: list[str]) -> dict:
        """What the page's charts draw: times (epoch seconds) and per-topic or per-table lines."""
        return {
            "t": [p.at for p in self.points],
            "produced_per_s": self.rates("end_offset", topics),
            "processed_per_s": self.rates("processed_offset", topics),
            "lag": self.values("lag", topics),
            "lag_s": self.values("lag_s", topics),
            "p50_s": self.values("p50_s", tables),
            "p99_s": self.values("p99_s", tables),
        }
