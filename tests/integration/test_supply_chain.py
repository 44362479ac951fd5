"""What the project downloads is checked: Maven artifacts against the checksums their repository publishes.

A repository on disk serves one artifact twice, once with its real SHA-1 and once with the SHA-1 of other
bytes (what a corrupted mirror or a tampered download looks like). Local mode's own Maven call
(local/resolve.py) takes the first and refuses the second; plain Maven, for comparison, only warns."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from pathlib import Path

import pytest

from local.errors import LocalModeError
from local.java import find_java17, find_maven
from local.platform import Platform
from local.resolve import _maven

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>{group}</groupId><artifactId>demo</artifactId><version>1.0</version></project>"""


def publish(repo: Path, group: str, jar: bytes, published_sha1: str) -> None:
    folder = repo.joinpath(*group.split("."), "demo", "1.0")
    folder.mkdir(parents=True)
    pom = POM.format(group=group).encode()
    files = (("demo-1.0.pom", pom, hashlib.sha1(pom).hexdigest()), ("demo-1.0.jar", jar, published_sha1))
    for name, body, sha1 in files:
        (folder / name).write_bytes(body)
        (folder / f"{name}.sha1").write_text(sha1)


def get(group: str, repo: Path) -> list[str]:
    return [
        "dependency:get", f"-Dartifact={group}:demo:1.0", f"-DremoteRepositories=disk::default::{repo.as_uri()}",
        "-Dtransitive=false",
    ]  # fmt: skip


@pytest.fixture
def maven(local_mode):
    platform = Platform.load()
    return platform.paths, find_java17()


def test_an_artifact_matching_its_published_checksum_is_taken(maven, tmp_path) -> None:
    paths, java = maven
    group, jar = f"test.checksum.ok{uuid.uuid4().hex[:8]}", b"the real bytes"
    publish(tmp_path / "repo", group, jar, hashlib.sha1(jar).hexdigest())
    _maven(paths, java, get(group, tmp_path / "repo"), "checksum-ok")
    assert (paths.maven_repo.joinpath(*group.split("."), "demo", "1.0", "demo-1.0.jar")).read_bytes() == jar


def test_an_artifact_whose_checksum_differs_is_refused(maven, tmp_path) -> None:
    paths, java = maven
    group = f"test.checksum.bad{uuid.uuid4().hex[:8]}"
    publish(tmp_path / "repo", group, b"tampered bytes", hashlib.sha1(b"the real bytes").hexdigest())
    with pytest.raises(LocalModeError) as refused:
        _maven(paths, java, get(group, tmp_path / "repo"), "checksum-bad")
    log = (paths.logs / "maven-checksum-bad.log").read_text()
    assert "Checksum validation failed" in log, log[-2000:]
    assert "could not be resolved" in str(refused.value) or "Maven failed" in str(refused.value)
    assert not (paths.maven_repo.joinpath(*group.split("."), "demo", "1.0", "demo-1.0.jar")).exists()

    # Maven's default policy only warns and takes the bytes: the flag is what makes the difference.
    other = f"test.checksum.warn{uuid.uuid4().hex[:8]}"
    publish(tmp_path / "repo", other, b"tampered bytes", hashlib.sha1(b"the real bytes").hexdigest())
    plain = subprocess.run(
        [str(find_maven()), "-B", "-ntp", f"-Dmaven.repo.local={paths.maven_repo}", *get(other, tmp_path / "repo")],
        capture_output=True, text=True, timeout=300,
        env={"JAVA_HOME": str(java.home), "PATH": f"{java.home / 'bin'}:/usr/bin:/bin"},
    )  # fmt: skip
    assert plain.returncode == 0 and "Checksum validation failed" in plain.stdout, plain.stdout[-2000:]
