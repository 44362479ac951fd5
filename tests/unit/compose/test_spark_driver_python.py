"""The streaming job's driver in Compose runs on the Spark image's Python, the same 3.11 as local mode and the
tests, with pyspark and docker/spark/requirements.txt installed: everything the job imports must be there."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

from tests.unit.compose.compose_model import ROOT, env_file

PROJECT_PACKAGES = {"config", "database", "kafka", "spark"}


def spark_image_python() -> tuple[int, int]:
    """From the Spark image's base, python:<PYTHON_IMAGE_VERSION> (a unit test of the images checks)."""
    major, minor = re.match(r"(\d+)\.(\d+)", env_file()["PYTHON_IMAGE_VERSION"]).groups()
    return int(major), int(minor)


def imported_modules(tree: ast.AST) -> set[str]:
    """Absolute module names a file imports, leaving out the fallbacks of `except ImportError:` branches."""
    fallbacks = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                if isinstance(handler.type, ast.Name) and handler.type.id in ("ImportError", "ModuleNotFoundError"):
                    fallbacks |= {id(n) for stmt in handler.body for n in ast.walk(stmt)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in fallbacks:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def driver_closure() -> tuple[list[Path], set[str]]:
    """The project files the job imports (transitively) and the third-party top-level modules they use."""
    files, external, todo = [], set(), [ROOT / "spark" / "spark_streaming.py"]
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files.append(path)
        for name in imported_modules(ast.parse(path.read_text())):
            top = name.split(".")[0]
            if top in PROJECT_PACKAGES:
                parts = name.split(".")
                todo += [f for i in range(1, len(parts) + 1) if (f := module_file(".".join(parts[:i])))]
            elif top not in sys.stdlib_module_names:
                external.add(top)
    return files, external


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """Distributions pip installs for these requirements on the Spark image's Python (names normalized)."""
    environment = {"python_version": "{}.{}".format(*spark_image_python())}
    normalize = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
    seen, todo = set(), [(r, r.extras) for r in requirements]
    while todo:
        requirement, extras = todo.pop()
        name = normalize(requirement.name)
        if name in seen and not extras:
            continue
        seen.add(name)
        try:
            dependencies = importlib.metadata.requires(requirement.name) or []
        except importlib.metadata.PackageNotFoundError:  # not needed on this Python: a leaf here
            continue
        for text in dependencies:
            dependency = Requirement(text)
            wanted = dependency.marker is None or any(
                dependency.marker.evaluate({**environment, "extra": extra}) for extra in (extras or {""})
            )
            if wanted:
                todo.append((dependency, dependency.extras))
    return seen


def driver_requirements() -> list[Requirement]:
    """What the Spark image's Dockerfile installs (through its lock): pyspark at SPARK_VERSION and the
    driver's requirements."""
    lines = (ROOT / "docker" / "spark" / "requirements.txt").read_text().splitlines()
    listed = [Requirement(line) for line in (line.split("#")[0].strip() for line in lines) if line]
    assert Requirement(f"pyspark=={env_file()['SPARK_VERSION']}") in listed
    return listed


def test_the_spark_image_runs_the_tests_python() -> None:
    files, _ = driver_closure()
    assert len(files) > 5
    assert spark_image_python() == sys.version_info[:2], "the job must run on the Python its tests run on"


def test_every_module_the_job_imports_is_installed_in_the_spark_image() -> None:
    _, external = driver_closure()
    assert {"pyspark", "cassandra", "confluent_kafka", "dotenv"} <= external
    installed = installed_closure(driver_requirements())
    providers = importlib.metadata.packages_distributions()
    missing = {
        module: providers.get(module)
        for module in external
        if not {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(module, [])} & installed
    }
    assert missing == {}


def test_the_import_scan_sees_through_fallbacks() -> None:
    tree = ast.parse("try:\n    import httpx2 as httpx\nexcept ImportError:\n    import httpx\nimport json\n")
    assert imported_modules(tree) == {"httpx2", "json"}
