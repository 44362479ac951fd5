"""Fetch every JVM component from Maven Central into `.local/`, once.

Each component has its own pom under `local/maven/` and its own classpath file, so Kafka's and
Cassandra's dependencies never mix. A classpath file is keyed by a hash of its pom and versions:
when it exists and its jars are present, nothing is resolved again (a second run downloads nothing).
`up` resolves once (`resolve_all`) and hands the resulting `Resolved` to whatever builds a command line.
"""

from __future__ import annotations

import hashlib
import logging
import re
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from config.settings import PROJECT_ROOT
from config.versions import Versions
from local.errors import LocalModeError
from local.java import JavaRuntime, find_maven
from local.paths import LocalPaths

log = logging.getLogger(__name__)

POMS = PROJECT_ROOT / "local" / "maven"
COMPONENTS = ("kafka", "cassandra", "spark-connectors")
MAVEN_TIMEOUT_S = 1200

_MISSING = re.compile(
    r"(?:Could not find artifact|Could not transfer artifact|Failed to read artifact descriptor for|"
    r"Could not resolve dependencies for project \S+: (?:The following artifacts could not be resolved: )?)\s*"
    r"([\w.\-]+:[\w.\-]+(?::[\w.\-]+)*)"
)


def _maven(paths: LocalPaths, java: JavaRuntime, args: list[str], log_name: str) -> None:
    log_file = paths.logs / f"maven-{log_name}.log"
    # --strict-checksums: every artifact downloaded is checked against the checksum the repository publishes
    # with it, and a mismatch fails the build (Maven's default only warns).
    cmd = [str(find_maven()), "-B", "-ntp", "--strict-checksums", f"-Dmaven.repo.local={paths.maven_repo}", *args]
    env = {"JAVA_HOME": str(java.home), "PATH": f"{java.home / 'bin'}:/usr/bin:/bin"}
    try:
        with log_file.open("w") as out:
            done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=MAVEN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise LocalModeError(
            f"Maven did not finish resolving {log_name} within {MAVEN_TIMEOUT_S} s; is Maven Central reachable? "
            f"Log: {log_file}"
        ) from None
    if done.returncode != 0:
        text = log_file.read_text(errors="replace")
        missing = _MISSING.search(text)
        what = f"artifact {missing.group(1)} could not be resolved" if missing else "Maven failed"
        raise LocalModeError(
            f"{log_name}: {what} from Maven Central. Check the version in the Versions block of .env. Log: {log_file}"
        )


def _fingerprint(pom: Path, versions: Versions) -> str:
    digest = hashlib.sha256(pom.read_bytes())
    digest.update(repr(sorted(versions.maven_properties().items())).encode())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Resolved:
    """Every JVM component's jars, as `up` resolved them."""

    classpaths: dict[str, tuple[Path, ...]]
    registry_runner: Path

    def classpath(self, component: str) -> str:
        """The component's jars as a `-cp` value."""
        return ":".join(str(j) for j in self.classpaths[component])


def load(paths: LocalPaths, versions: Versions) -> Resolved:
    """What an earlier `up` resolved; fails with what to do if it never ran."""
    return Resolved({c: tuple(classpath(paths, c)) for c in COMPONENTS}, registry_runner(paths, versions))


def classpath(paths: LocalPaths, component: str) -> list[Path]:
    """The resolved jars of one component, in Maven's order (fails if `resolve_all` has not run)."""
    pointer = paths.classpath_file(component)
    if not pointer.exists():
        raise LocalModeError(f"{component} is not resolved yet: run `python main.py up` (it fetches the jars).")
    return [Path(p) for p in pointer.read_text().strip().split(":") if p]


def resolve_classpath(paths: LocalPaths, java: JavaRuntime, versions: Versions, component: str) -> list[Path]:
    pom = POMS / component / "pom.xml"
    pointer = paths.classpath_file(component)
    keyed = paths.classpaths / f"{component}-{_fingerprint(pom, versions)}.txt"
    if keyed.exists():
        jars = [Path(p) for p in keyed.read_text().strip().split(":") if p]
        if jars and all(j.exists() for j in jars):
            pointer.write_text(keyed.read_text())
            return jars
    print(f"  resolving {component} from Maven Central (first run only)...", flush=True)
    props = [f"-D{k}={v}" for k, v in versions.maven_properties().items()]
    _maven(paths, java, ["-f", str(pom), *props, "dependency:build-classpath", f"-Dmdep.outputFile={keyed}"], component)
    pointer.write_text(keyed.read_text())
    return classpath(paths, component)


def registry_dir(paths: LocalPaths, versions: Versions) -> Path:
    return paths.registry_home / f"apicurio-registry-{versions.apicurio_registry}"


def registry_runner(paths: LocalPaths, versions: Versions) -> Path:
    return registry_dir(paths, versions) / f"apicurio-registry-app-{versions.apicurio_registry}-runner.jar"


def resolve_registry(paths: LocalPaths, java: JavaRuntime, versions: Versions) -> Path:
    """Apicurio ships as a Quarkus distribution (`-all.tar.gz`). `dependency:get` without transitives
    fetches it even for releases whose parent pom Central lacks (3.0.9's), which `dependency:unpack` needs."""
    runner = registry_runner(paths, versions)
    if runner.exists():
        return runner
    version = versions.apicurio_registry
    print(f"  fetching Apicurio Registry {version} from Maven Central (first run only)...", flush=True)
    _maven(
        paths,
        java,
        ["dependency:get", f"-Dartifact=io.apicurio:apicurio-registry-app:{version}:tar.gz:all", "-Dtransitive=false"],
        "registry",
    )
    archive = (
        paths.maven_repo / "io/apicurio/apicurio-registry-app" / version / f"apicurio-registry-app-{version}-all.tar.gz"
    )
    target = registry_dir(paths, versions)
    staging = target.with_suffix(".partial")
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    staging.rename(target)
    if not runner.exists():
        raise LocalModeError(
            f"Apicurio {version} ships no {runner.name}: pick another version in .env's Versions block"
        )
    return runner


def _artifact_id(jar: Path) -> str:
    """`kafka-clients-3.4.1.jar` -> `kafka-clients`: the version is the first `-N.N...` part
    (`spark-sql-kafka-0-10_2.12-3.5.7.jar` keeps its `-0-10_2.12`)."""
    match = re.match(r"^(.*?)-\d+(?:\.\d+)+.*\.jar$", jar.name)
    return match.group(1) if match else jar.name.removesuffix(".jar")


def spark_connector_jars(connectors: Iterable[Path], spark_home: Path) -> list[Path]:
    """Connector jars minus those pyspark already ships: a second Scala library or Hadoop client on
    Spark's classpath breaks it."""
    shipped = {_artifact_id(j) for j in (spark_home / "jars").glob("*.jar")}
    return [j for j in connectors if _artifact_id(j) not in shipped]


def resolve_all(paths: LocalPaths, java: JavaRuntime, versions: Versions) -> Resolved:
    paths.make()
    classpaths = {c: tuple(resolve_classpath(paths, java, versions, c)) for c in COMPONENTS}
    return Resolved(classpaths, resolve_registry(paths, java, versions))
