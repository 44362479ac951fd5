"""One short chaos round on the real pipeline (`main.py chaos --rounds 1`): each part killed with kill -9 in
turn under a steady produce and brought back with `up`; the command's own independent reconciliation must
find nothing missing, doubled or extra, and every acknowledged record in Kafka."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ops.chaos import TARGETS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.lifecycle
def test_one_chaos_round_loses_and_doubles_nothing(pipeline) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "chaos", "--rounds", "1", "--rate", "300", "--down", "3"],
        capture_output=True,
        text=True,
        timeout=1500,
        cwd=ROOT,
    )
    print(done.stdout)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}"
    kills = re.findall(r"kill -9 (\w+)\s+pid \d+\s+recovered in", done.stdout)
    assert kills == list(TARGETS)
    assert "verdict: PASS" in done.stdout
    totals = re.findall(r"^(user_\w+)\s+([\d,]+)\s+0\s+([\d,]+)\s+0\s+0\s+0$", done.stdout, re.M)
    assert len(totals) == 3 and all(records == rows and records != "0" for _, records, rows in totals), done.stdout
