"""Compose's bash healthchecks (docker/healthcheck/), run against local mode's real engines: healthy only when
the service answers its protocol, unhealthy (exit 1, one line saying why) when the port is closed or a
listener accepts connections but never answers, and always within the probe's bound."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from config.settings import PROJECT_ROOT, Settings

PROBES = PROJECT_ROOT / "docker" / "healthcheck"


def probe(script: str, *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(["bash", str(PROBES / script), *args], capture_output=True, text=True, timeout=30)
    return done.returncode, done.stderr, time.monotonic() - started


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port whose connections the kernel accepts and nobody reads: like a broker still starting."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kafka_probe_is_healthy_when_the_broker_answers(settings: Settings) -> None:
    code, err, took = probe("kafka-broker.sh", "127.0.0.1", str(settings.kafka_port))
    assert code == 0, err
    assert took < 5


def test_kafka_probe_fails_on_a_closed_port_or_a_silent_listener(closed_port: int, silent_listener: int) -> None:
    code, err, _ = probe("kafka-broker.sh", "127.0.0.1", str(closed_port))
    assert code == 1 and "refused" in err
    code, err, took = probe("kafka-broker.sh", "127.0.0.1", str(silent_listener), "2")
    assert code == 1 and "no ApiVersions reply" in err
    assert took < 5


def test_http_probe_checks_the_status_of_a_real_registry(settings: Settings) -> None:
    url = urlparse(settings.schema_registry_url)
    code, err, _ = probe("http.sh", url.hostname, str(url.port), f"{url.path}/subjects")
    assert code == 0, err
    code, err, _ = probe("http.sh", url.hostname, str(url.port), f"{url.path}/no-such-resource")
    assert code == 1 and " 404" in err


def test_http_probe_fails_on_a_silent_listener_within_its_bound(silent_listener: int) -> None:
    code, err, took = probe("http.sh", "127.0.0.1", str(silent_listener), "/", "2")
    assert code == 1 and "no answer within 2 s" in err
    assert took < 5
