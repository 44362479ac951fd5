"""The Compose files as Docker Compose itself reads them: `docker compose config` (the real parser,
interpolation from `.env`, override merge and validation) for every supported combination of files and
profiles, with no warning allowed (an unset variable is only a warning to Compose). Compose is built from
its pinned Go module once (local/compose_cli.py). The static tests under tests/unit/compose read the files
with a small model of their own; here that model is also held to what Compose renders."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT, load_settings
from local import compose_cli
from tests.unit.compose.compose_model import BASE, SECRETS, STACKS, active_services, stack


@pytest.fixture(scope="module")
def compose(tmp_path_factory) -> tuple[list[str], dict[str, str]]:
    """Compose as docs/compose.md runs it: reading .env and a secrets file (here with the model's made-up
    passwords, never the real ones) through COMPOSE_ENV_FILES."""
    docker_config = compose_cli.build(load_settings().local_dir, compose_cli.compose_version())
    command, env = compose_cli.compose_command(docker_config)
    secrets = tmp_path_factory.mktemp("compose") / "secrets.env"
    secrets.write_text("".join(f"{name}={value}\n" for name, value in SECRETS.items()))
    env = {k: v for k, v in env.items() if k not in SECRETS}
    return command, {**env, "COMPOSE_ENV_FILES": f"{PROJECT_ROOT / '.env'},{secrets}"}


def run_compose(compose, files: tuple[Path, ...], *args: str) -> subprocess.CompletedProcess:
    command, env = compose
    file_args = [arg for f in files for arg in ("-f", str(f))]
    return subprocess.run(
        [*command, *file_args, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("name", STACKS)
def test_compose_without_the_secrets_file_stops_and_says_what_to_do(compose, name: str) -> None:
    command, env = compose
    without = (command, {k: v for k, v in env.items() if k != "COMPOSE_ENV_FILES"})
    done = run_compose(without, STACKS[name], "config", "--quiet")
    assert done.returncode != 0
    assert "required variable" in done.stderr and "_PASSWORD is missing a value" in done.stderr
    assert "run python3 main.py secrets; then export COMPOSE_ENV_FILES=.env,.local/secrets.env" in done.stderr


def test_the_built_compose_is_the_pinned_version(compose) -> None:
    done = run_compose(compose, (BASE,), "version", "--short")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().lstrip("v") == compose_cli.compose_version().lstrip("v")


@pytest.mark.parametrize("name", STACKS)
def test_compose_accepts_each_stack_and_profile_without_warnings(compose, name: str) -> None:
    files = STACKS[name]
    profiles = run_compose(compose, files, "config", "--profiles")
    assert profiles.returncode == 0, profiles.stderr
    for profile in [None, *profiles.stdout.split()]:
        args = ("--profile", profile) if profile else ()
        done = run_compose(compose, files, *args, "config", "--quiet")
        assert done.returncode == 0, f"{name} {profile or ''}: {done.stderr}"
        assert done.stderr.strip() == "", f"{name} {profile or ''}: {done.stderr}"


@pytest.mark.parametrize("name", STACKS)
def test_the_static_tests_model_agrees_with_compose(compose, name: str) -> None:
    files = STACKS[name]
    done = run_compose(compose, files, "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    rendered = json.loads(done.stdout)["services"]
    model = stack(files)
    assert set(rendered) == set(active_services(model))
    for name, service in rendered.items():
        ours = model["services"][name]
        assert service.get("image") == ours.get("image"), name
        env = {k: str(v) for k, v in (ours.get("environment") or {}).items()}
        assert service.get("environment", {}) == env, name


def test_topic_settings_reach_the_topics_init_only(compose) -> None:
    """The broker's image turns every KAFKA_* variable into a config property: the topic settings are meant
    for kafka/create_topics.sh, in topics-init."""
    for files in STACKS.values():
        services = json.loads(run_compose(compose, files, "config", "--format", "json").stdout)["services"]
        for name, service in services.items():
            has_topic_settings = any(key.startswith("KAFKA_TOPIC_") for key in service.get("environment", {}))
            if name.startswith("broker"):
                assert not has_topic_settings, name
        assert "KAFKA_TOPIC_REPLICATION_FACTOR" in services["topics-init"]["environment"]
