"""The lock files pip installs from (ops/lockfiles.py): current with their requirements, every package hashed,
and every install in the project going through them with hashes required."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ops.lockfiles import lock_plan

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(lock_text: str) -> dict[str, tuple[str, int]]:
    """Package -> (version, hashes) of a lock file (an entry runs until the next unindented line)."""
    found = {}
    for block in re.split(r"\n(?=\S)", lock_text):
        match = PIN.match(block)
        if match:
            found[normalized(match.group(1))] = (match.group(2), block.count("--hash=sha256:"))
    return found


@pytest.mark.parametrize("lock", [plan[0] for plan in lock_plan(ROOT)], ids=lambda p: str(p.relative_to(ROOT)))
def test_each_lock_pins_its_requirements_versions_with_hashes(lock: Path) -> None:
    _, requirements, _ = next(plan for plan in lock_plan(ROOT) if plan[0] == lock)
    if "-r requirements.txt" in requirements:
        requirements += (ROOT / "requirements.txt").read_text()
    locked = entries(lock.read_text())
    wanted = {normalized(name): version for name, version in PIN.findall(requirements)}
    assert wanted and {name: locked.get(name, ("missing",))[0] for name in wanted} == wanted, (
        f"{lock.name} is stale: run `python3 main.py lock`"
    )
    assert all(hashes > 0 for _, hashes in locked.values())
    assert "python3 main.py lock" in lock.read_text().splitlines()[1]


def test_the_locks_agree_with_each_other() -> None:
    dev, runtime = (entries((ROOT / name).read_text()) for name in ("requirements-dev.lock", "requirements.lock"))
    assert {name: dev.get(name) for name in runtime} == runtime


def test_every_pip_install_requires_hashes() -> None:
    installs = [(ROOT / "main.py").read_text()] + [p.read_text() for p in (ROOT / "docker").glob("*/Dockerfile")]
    assert all("--require-hashes" in text for text in installs)
    assert not any(re.search(r"pip install[^\n]*requirements\.txt", text) for text in installs)
