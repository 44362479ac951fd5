"""No password ever reaches a log, a status report or the dashboard: every file local mode writes under its logs,
run state and Spark work folders, searched for every generated password, after every other test has run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from config.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.audit


def written_files(root: Path) -> list[Path]:
    folders = [root / "logs", root / "run", *sorted((root / "data" / "spark").glob("work*"))]
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def test_no_password_in_any_log_status_or_page(settings: Settings) -> None:
    passwords = [p for p in settings.security.passwords.values() if len(p) >= 16]
    assert passwords, "no generated passwords to look for"
    files = written_files(settings.local_dir)
    assert any(p.name == "kafka.log" for p in files) and any(p.name == "stream.log" for p in files)
    leaks = []
    for path in files:
        data = path.read_bytes()
        leaks += [str(path) for secret in passwords if secret.encode() in data]
    pages = []
    for route in ("/api/snapshot", "/metrics"):
        try:
            pages.append(requests.get(settings.dashboard_url + route, timeout=10).text)
        except requests.RequestException:
            continue  # the dashboard is not up in this run: its logs above are still searched
    status = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "status", "--json"],
        capture_output=True, text=True, timeout=120, env=os.environ.copy(),
    )  # fmt: skip
    pages.append(status.stdout + status.stderr)
    leaks += [f"page or status {i}" for i, page in enumerate(pages) for secret in passwords if secret in page]
    assert not leaks, f"a password appears in: {sorted(set(leaks))}"
