"""Every file a service mounts, an image copies, or a command runs exists in the repository (and is in
the build context), and the code each image carries imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml

from tests.unit.compose.compose_model import (
    COMPOSE_FILES,
    ROOT,
    all_context_sources,
    dockerignored,
    final_workdir,
    image_files,
    load,
    mounts,
    projects,
)

DOCKERFILES = sorted((ROOT / "docker").glob("*/Dockerfile"))
LEFT_OUT_OF_IMAGES = (
    ".venv/bin/python",
    ".local/data/kafka",
    ".git/HEAD",
    "kafka/__pycache__/contract.cpython-311.pyc",
    ".env",
    "tests/unit/__init__.py",
)
RESOLVED_JARS = (
    "spark-sql-kafka-0-10_2.12-3.5.7.jar",
    "kafka-clients-3.4.1.jar",
    "scala-library-2.12.19.jar",
    "hadoop-client-api-3.3.4.jar",
    "spark-cassandra-connector_2.12-3.5.1.jar",
    "zstd-jni-1.5.5-4.jar",
    "config-1.4.1.jar",
)
# Names compare whole: commons-configuration2 is not typesafe's config.
SPARK_SHIPS = (
    "scala-library-2.12.18.jar",
    "hadoop-client-api-3.3.4.jar",
    "spark-sql_2.12-3.5.7.jar",
    "zstd-jni-1.5.5-4.jar",
    "commons-configuration2-2.8.0.jar",
)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_bind_mount_sources_exist(path) -> None:
    for name, svc in load(path)["services"].items():
        for mount in mounts(svc):
            if mount.is_bind:
                assert (ROOT / mount.source).exists(), f"{name}: {mount.source}"
                assert mount.read_only, f"{name}: project files are mounted read-only ({mount.source})"


def test_build_contexts_and_dockerfiles_exist() -> None:
    builds = {svc["build"]["dockerfile"] for svc in projects()["cluster"]["services"].values() if "build" in svc}
    assert builds == {p.relative_to(ROOT).as_posix() for p in DOCKERFILES}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_copied_files_exist_in_the_build_context(dockerfile) -> None:
    for source in all_context_sources(dockerfile):
        assert (ROOT / source).exists(), f"{dockerfile}: COPY {source}"
        assert not dockerignored(source.rstrip("/")), f"{dockerfile}: COPY {source} is excluded by .dockerignore"


def test_dockerignore_keeps_local_state_out() -> None:
    for path in LEFT_OUT_OF_IMAGES:
        assert dockerignored(path), path
    assert not dockerignored("local/maven/spark-connectors/pom.xml")


def image_of(service: dict) -> Path | None:
    return ROOT / service["build"]["dockerfile"] if "build" in service else None


def container_file(service: dict, path: str) -> Path | None:
    """The repository file behind a path in the container: a bind mount first, then the image's copies."""
    absolute = PurePosixPath(service.get("working_dir", "/")) / path
    for mount in mounts(service):
        if mount.is_bind and absolute.is_relative_to(mount.target):
            return ROOT / mount.source / absolute.relative_to(mount.target)
    dockerfile = image_of(service)
    if dockerfile is not None:
        if "working_dir" not in service:
            absolute = final_workdir(dockerfile) / path
        return image_files(dockerfile).get(absolute)
    return None


def file_arguments(service: dict) -> list[str]:
    """Paths a service's command, entrypoint or healthcheck runs: scripts, and modules given to `-m`."""
    words = []
    for key in ("entrypoint", "command"):
        value = service.get(key) or []
        words += value if isinstance(value, list) else value.split()
    test = service.get("healthcheck", {}).get("test", [])
    words += test[1:] if test[:1] == ["CMD"] else []
    paths = [w for w in words if w.endswith((".py", ".sh", ".cql")) or w.startswith("/usr/local/bin/")]
    paths += [words[i + 1].replace(".", "/") + ".py" for i, w in enumerate(words[:-1]) if w == "-m"]
    return paths


def test_commands_run_files_that_exist() -> None:
    checked = 0
    for name, svc in projects()["cluster"]["services"].items():
        for path in file_arguments(svc):
            found = container_file(svc, path)
            assert found is not None and found.is_file(), f"{name}: {path} is neither mounted nor in the image"
            checked += 1
    assert checked >= 10


def run_imports(dockerfile: Path, tmp_path: Path, statements: str) -> subprocess.CompletedProcess:
    """Lay out the image's copied files under tmp_path and import from its working directory, with this
    virtualenv's packages standing in for the image's."""
    for image_path, repo_path in image_files(dockerfile).items():
        target = tmp_path / image_path.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(repo_path.read_bytes())
    workdir = tmp_path / final_workdir(dockerfile).relative_to("/")
    return subprocess.run(
        [sys.executable, "-c", statements],
        cwd=workdir,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(workdir), "PIPELINE_NO_VENV": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_producer_image_has_what_its_commands_import(tmp_path: Path) -> None:
    """`python3 main.py produce`, the setup steps' modules and the healthcheck, in the image; cassandra-init's
    reads cassandra/cassandra_setup.cql from it."""
    done = run_imports(
        ROOT / "docker" / "producer" / "Dockerfile",
        tmp_path,
        "import main, kafka.kafka_producer, kafka.schema_registry, kafka.access, database.bootstrap, runpy\n"
        "from database.schema import SETUP_CQL; assert SETUP_CQL.is_file(), SETUP_CQL\n"
        "from local import platform, errors, services\n"
        "runpy.run_path('../usr/local/bin/producer-healthcheck', run_name='check')\n"
        "main.parse_args(['produce', '--rate', '1'])",
    )
    assert done.returncode == 0, done.stderr


def test_spark_image_has_what_the_job_imports(tmp_path: Path) -> None:
    done = run_imports(
        ROOT / "docker" / "spark" / "Dockerfile",
        tmp_path,
        "import runpy\n"
        "runpy.run_path('spark/spark_streaming.py')\n"
        "runpy.run_path('../../usr/local/bin/spark-healthcheck', run_name='check')",
    )
    assert done.returncode == 0, done.stderr


def run_script(script: str, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["bash", str(ROOT / script), *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_connector_jars_skip_what_spark_ships(tmp_path: Path) -> None:
    resolved, spark_jars = tmp_path / "resolved", tmp_path / "jars"
    resolved.mkdir()
    spark_jars.mkdir()
    for jar in RESOLVED_JARS:
        (resolved / jar).write_text(jar)
    for jar in SPARK_SHIPS:
        (spark_jars / jar).write_text("shipped")
    run_script("docker/spark/add-connector-jars.sh", [str(resolved), str(spark_jars)], tmp_path)
    assert sorted(p.name for p in spark_jars.iterdir() if p.read_text() != "shipped") == [
        "config-1.4.1.jar",
        "kafka-clients-3.4.1.jar",
        "spark-cassandra-connector_2.12-3.5.1.jar",
        "spark-sql-kafka-0-10_2.12-3.5.7.jar",
    ]
    assert (spark_jars / "scala-library-2.12.18.jar").exists()
    assert not (spark_jars / "scala-library-2.12.19.jar").exists()


def test_control_center_config_is_seeded_once(tmp_path: Path) -> None:
    config, image = tmp_path / "config", tmp_path / "image-etc"
    config.mkdir()
    image.mkdir()
    (image / "recording_rules-generated.yml").write_text("groups: [rules of this Control Center version]\n")
    seeds = sorted(p.name for p in (ROOT / "docker" / "control-center").glob("*.yml"))
    args = [str(ROOT / "docker" / "control-center"), str(config), str(image)]
    run_script("docker/init/control-center-config.sh", args, tmp_path)
    assert sorted(p.name for p in config.iterdir()) == sorted([*seeds, "recording_rules-generated.yml"])
    (config / "trigger_rules-generated.yml").write_text("groups: [written by Control Center]\n")
    (image / "recording_rules-generated.yml").write_text("groups: [rules of the next version]\n")
    run_script("docker/init/control-center-config.sh", args, tmp_path)
    assert (config / "trigger_rules-generated.yml").read_text() == "groups: [written by Control Center]\n"
    assert (config / "recording_rules-generated.yml").read_text() == "groups: [rules of the next version]\n"
    assert all(p.stat().st_mode & 0o666 == 0o666 for p in config.iterdir())


def test_control_center_config_without_the_images_recording_rules_fails_clearly(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    args = ["sh", str(ROOT / "docker/init/control-center-config.sh"), str(ROOT / "docker" / "control-center")]
    done = subprocess.run([*args, str(config), str(tmp_path / "absent")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "recording_rules-generated.yml not found" in done.stderr


def test_control_center_seed_names_match_its_settings() -> None:
    services = projects()["control-center"]["services"]
    env = services["control-center"]["environment"]
    seeds = {p.name for p in (ROOT / "docker" / "control-center").glob("*.yml")}
    for variable in ("CONTROL_CENTER_PROMETHEUS_RULES_FILE", "CONTROL_CENTER_ALERTMANAGER_CONFIG_FILE"):
        assert PurePosixPath(env[variable]).name in seeds
    prometheus = yaml.safe_load((ROOT / "docker" / "control-center" / "prometheus-generated.yml").read_text())
    assert prometheus["rule_files"] == ["recording_rules-generated.yml", "trigger_rules-generated.yml"]
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
