"""Shared fixtures. Local mode is started once per test session (by the first test that needs it)."""

from __future__ import annotations

import os
import uuid

import pytest

from config.security import SECRETS_FILE_NAME
from config.settings import Settings, local_dir_before_settings
from local import platform as local_platform
from local.secrets import ensure_secrets

# The generated passwords exist before any settings load (as `main.py test` and `up` make sure).
ensure_secrets(local_dir_before_settings() / SECRETS_FILE_NAME)

# The cluster tests run in a pytest process of their own, started with PIPELINE_CLUSTER=1 (`main.py test` does),
# and only they do: the settings of one process come from one mode.
CLUSTER_PROCESS = os.environ.get("PIPELINE_CLUSTER") == "1"
collect_ignore_glob = ["e2e/*", "integration/*", "unit/*"] if CLUSTER_PROCESS else ["cluster/*"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that stop and restart local mode run last, so every other test sees it up; audits of what the
    whole run left behind after them."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("audit") is not None,
            item.get_closest_marker("lifecycle") is not None,
        )
    )


@pytest.fixture(scope="session")
def local_mode() -> local_platform.Platform:
    """Local mode's engines, up: started once for the whole session and stopped at its end (unless they
    were already running before the session, in which case they are left running)."""
    platform = local_platform.Platform.load()
    was_running = platform.supervisor.running()
    local_platform.up(platform, pipeline=False)
    yield platform
    if not was_running:
        local_platform.down(platform)


@pytest.fixture(scope="session")
def settings(local_mode: local_platform.Platform) -> Settings:
    """The settings local mode runs with (from .env and the environment)."""
    return local_mode.settings


@pytest.fixture
def unique_name() -> str:
    """A name no other test run uses: topics, subjects and keyspaces never collide."""
    return f"t_{uuid.uuid4().hex[:12]}"
