"""The arithmetic of bench/cpu.py: how busy the box was, and the one-line summary."""

from __future__ import annotations

from collections import namedtuple

from bench.cpu import busy_share, format_cpu

Times = namedtuple("Times", "user system idle iowait")


def test_busy_share_counts_io_wait_as_idle() -> None:
    before = Times(user=100.0, system=50.0, idle=1000.0, iowait=10.0)
    after = Times(user=160.0, system=70.0, idle=1010.0, iowait=20.0)
    # 80 s busy of 100 s spent: 10 idle and 10 waiting on I/O.
    assert busy_share(before, after) == 0.8


def test_busy_share_of_no_time_is_zero() -> None:
    same = Times(1.0, 1.0, 1.0, 1.0)
    assert busy_share(same, same) == 0.0


def test_summary_lists_the_busiest_first_and_leaves_out_idle_services() -> None:
    result = {
        "seconds": 60.0,
        "cores": 2,
        "box_busy_pct": 190,
        "box_busy_share": 0.95,
        "pct_of_one_core_by_service": {"kafka": 30, "cassandra": 80, "spark-master": 0, "stream": 55},
    }
    line = format_cpu(result)
    assert line.startswith("cpu over 60 s: box 190% of 200% (95 % busy)")
    assert line.endswith("by service: cassandra 80%, stream 55%, kafka 30%")
