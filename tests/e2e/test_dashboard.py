"""The dashboard in a real browser (Debian's chromium, driven by Playwright) while events flow: the page
loads, its figures agree with `status --json` within a refresh, the charts move, and a dead letter injected
here appears with its reason. Also: Kafka and Cassandra unreachable leave the page up and say which, and a
taken port is one clear error. Screenshots go to test-output/dashboard/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from confluent_kafka import Producer
from playwright.sync_api import Page, sync_playwright

from kafka.contract import AUTH, STREAMS
from tests.e2e.helpers import producing, unique_events, wait_for
from tests.e2e.test_auth_alerts import address, attempt, produce
from tests.e2e.test_status import status

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "dashboard"
PAGE_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser():
    """Headless chromium as Debian packages it (Playwright's own browser download needs the internet)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("no chromium on PATH: `apt-get install chromium` (.ci/run installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"], headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    opened = context.new_page()
    opened.set_default_timeout(PAGE_TIMEOUT_MS)
    yield opened
    context.close()


def shown(page: Page, key: str, field: str) -> str | None:
    """The raw figure a cell shows (its data-value), None when the page shows '-'."""
    return page.locator(f'td[data-key="{key}"][data-field="{field}"]').get_attribute("data-value")


def page_time(page: Page) -> float:
    return float(page.locator("body").get_attribute("data-generated-at") or 0)


def next_refresh(page: Page, after: float, timeout_s: float = 60) -> float:
    """Wait until the page shows a sample taken after `after` (epoch seconds)."""
    page.wait_for_function(f"Number(document.body.dataset.generatedAt || 0) > {after}", timeout=timeout_s * 1000)
    return page_time(page)


def figures_between_two_status_calls(page: Page) -> list[tuple]:
    """(topic, figure, before, on the page, after) for each page figure outside its two `status` values."""
    before = status()
    next_refresh(page, before["generated_at"])
    on_page = {
        t.topic: {field: shown(page, t.topic, field) for field in ("end_offset", "processed_offset", "dead_letters")}
        | {"rows_written": shown(page, t.table, "rows_written")}
        for t in STREAMS
    }
    after = status()
    mismatches = []
    for stream in STREAMS:
        old = next(t for t in before["topics"] if t["topic"] == stream.topic)
        new = next(t for t in after["topics"] if t["topic"] == stream.topic)
        for field, value in on_page[stream.topic].items():
            if value is None or old[field] is None or not old[field] <= int(value) <= new[field]:
                mismatches.append((stream.topic, field, old[field], value, new[field]))
    return mismatches


def test_the_page_follows_the_pipeline_in_a_real_browser(pipeline, page: Page) -> None:
    settings = pipeline.settings
    OUTPUT.mkdir(parents=True, exist_ok=True)
    events = unique_events(sessions=1500)  # about 90 s at 150 events/s: events flow through every check
    with producing(settings, events, rate=150):
        page.goto(settings.dashboard_url)
        next_refresh(page, 0)
        assert page.title() == "Log pipeline"

        # Figures agree with `status --json` within a refresh: a sample taken between two status calls lies
        # between them (every figure compared only grows while the job runs). A job still starting (its
        # report not yet live) or restarting resets its counters: such a round is taken again, at most twice.
        for _attempt in range(3):
            mismatches = figures_between_two_status_calls(page)
            if not mismatches:
                break
        assert mismatches == [], mismatches

        # The charts move: more points each refresh, and the produce rate seen while events flow.
        points = int(page.locator("body").get_attribute("data-chart-points"))
        next_refresh(page, page_time(page))
        assert int(page.locator("body").get_attribute("data-chart-points")) > points
        wait_for(
            lambda: any(float(shown(page, s.topic, "produced_per_s") or 0) > 0 for s in STREAMS),
            60, "a produce rate above zero on the page",
        )  # fmt: skip
        assert page.locator("#chart-rates .scatterlayer .trace").count() >= len(STREAMS)

        # A dead letter injected here shows up in the newest dead letters, with its reason.
        marker = f"not avro {uuid.uuid4().hex}".encode()
        landed: dict = {}
        raw = Producer({**settings.kafka_client("admin"), "acks": "all"})
        raw.produce(AUTH.topic, value=marker, on_delivery=lambda err, msg: landed.update(err=err, msg=msg))
        assert raw.flush(30) == 0 and landed["err"] is None
        record = f"{AUTH.topic}:{landed['msg'].partition()}:{landed['msg'].offset()}"
        row = page.locator("#dead-newest tbody tr", has=page.locator(f'td[data-field="record"]:text-is("{record}")'))
        row.wait_for(timeout=120_000)
        assert row.locator('td[data-field="reason"]').inner_text() == "bad magic byte 0x6E: not Confluent wire format"

        # A brute-force attack shows up among the newest failed-login alerts.
        run = uuid.uuid4().hex[:8]
        victim, start = f"dashboard_victim_{run}", int(time.time() * 1000)
        threshold = settings.auth_alerts.user_threshold
        produce(settings, [attempt(victim, address(run, 1), start + 100 * i) for i in range(threshold)])
        alert = page.locator(f'#alerts td[data-key="{victim}"][data-field="subject"]').first
        alert.wait_for(timeout=120_000)
        assert alert.inner_text() == f"user {victim}"

        wait_for(lambda: shown(page, "auth_logs", "latency_p99_s") is not None, 60, "a latency sample on the page")
        page.screenshot(path=str(OUTPUT / "dashboard.png"), full_page=True)
    assert (OUTPUT / "dashboard.png").stat().st_size > 10_000


def _dashboard(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "dashboard"],
        env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_kafka_and_cassandra_unreachable_leave_the_page_up_and_say_which(pipeline, page: Page) -> None:
    port = pipeline.settings.dashboard_port + 7
    server = _dashboard({"DASHBOARD_PORT": str(port), "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "CASSANDRA_PORT": "1"})
    try:
        url = f"http://127.0.0.1:{port}"

        def answered() -> bool:
            try:
                return requests.get(f"{url}/api/snapshot", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(answered, 90, "the second dashboard's first sample")
        page.goto(url)
        problems = page.locator("#problems")
        problems.wait_for()
        text = problems.inner_text()
        assert "kafka unreachable" in text and "cassandra unreachable" in text, text
        metrics = requests.get(f"{url}/metrics", timeout=5).text
        assert 'pipeline_dashboard_source_up{source="kafka"} 0.0' in metrics
        assert 'pipeline_dashboard_source_up{source="cassandra"} 0.0' in metrics
        page.screenshot(path=str(OUTPUT / "sources-down.png"), full_page=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_taken_port_is_one_clear_error(pipeline) -> None:
    started = time.monotonic()
    server = _dashboard({})  # local mode's dashboard already holds DASHBOARD_PORT
    out, _ = server.communicate(timeout=60)
    assert server.returncode == 1, out
    assert f"port 127.0.0.1:{pipeline.settings.dashboard_port} (dashboard) is already in use" in out, out
    assert "Traceback" not in out
    assert time.monotonic() - started < 60
