"""Finding the tools local mode needs on the host: a Java 17 runtime and Maven."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from local.errors import LocalModeError

REQUIRED_JAVA = 17
INSTALL_JAVA = "install it (Debian/Ubuntu: `apt-get install openjdk-17-jdk-headless`) or point JAVA_HOME at one"


@dataclass(frozen=True)
class JavaRuntime:
    home: Path
    major: int

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


def _major_version(java: Path) -> int | None:
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def _candidates() -> list[Path]:
    homes: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        homes.append(Path(os.environ["JAVA_HOME"]))
    on_path = shutil.which("java")
    if on_path:
        homes.append(Path(on_path).resolve().parent.parent)
    jvm_dir = Path("/usr/lib/jvm")
    if jvm_dir.is_dir():
        homes.extend(sorted(p for p in jvm_dir.iterdir() if "17" in p.name))
    return homes


def find_java17() -> JavaRuntime:
    """Java 17 is what Cassandra 5.0 and every other engine here run on (Cassandra refuses 21+)."""
    seen = []
    for home in _candidates():
        major = _major_version(home / "bin" / "java")
        if major == REQUIRED_JAVA:
            return JavaRuntime(home=home, major=major)
        if major is not None:
            seen.append(f"{home} is Java {major}")
    found = f" (found: {'; '.join(seen)})" if seen else ""
    raise LocalModeError(f"Java {REQUIRED_JAVA} not found{found}: {INSTALL_JAVA}.")


def find_maven() -> Path:
    mvn = shutil.which("mvn")
    if not mvn:
        raise LocalModeError(
            "Maven (`mvn`) not found: it fetches Kafka, Cassandra, the registry and Spark's connectors "
            "from Maven Central. Install it (Debian/Ubuntu: `apt-get install maven`)."
        )
    return Path(mvn)
