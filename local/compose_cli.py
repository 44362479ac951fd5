"""Docker Compose itself, for checking the Compose files on a machine whose Docker CLI has no compose plugin.

Compose is a Go program (github.com/docker/compose/v5). This builds the pinned version once from the Go
module proxy into `.local/tools/compose/<version>/cli-plugins/docker-compose`, the layout the Docker CLI
looks for under DOCKER_CONFIG, so `docker compose config` runs the real parser, interpolation, merge and
validation. The Go caches live under `.local/tools/go` and are removed after a build (they take ~800 MB).

    python3 -m local.compose_cli           # build if needed; print the DOCKER_CONFIG folder to use
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from local.errors import LocalModeError

MODULE = "github.com/docker/compose/v5"
# Downloads (~360 MB of modules) and a compile on 2 cores took 91 s here; the bound leaves room for a slow proxy.
BUILD_TIMEOUT_S = 900


def compose_version() -> str:
    from config.versions import load_versions

    return load_versions().docker_compose


def tools_dir(local_root: Path) -> Path:
    return local_root / "tools"


def docker_config_dir(local_root: Path, version: str) -> Path:
    """A DOCKER_CONFIG folder holding only the plugin: `DOCKER_CONFIG=<it> docker compose ...`."""
    return tools_dir(local_root) / "compose" / version


def plugin_path(local_root: Path, version: str) -> Path:
    return docker_config_dir(local_root, version) / "cli-plugins" / "docker-compose"


def _go_env(go_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOPATH=str(go_root),
        GOMODCACHE=str(go_root / "pkg" / "mod"),
        GOCACHE=str(go_root / "cache"),
        GOFLAGS="-modcacherw",
        # Compose's go.mod names the Go it needs; an older local Go fetches that toolchain from the proxy.
        GOTOOLCHAIN="auto",
        CGO_ENABLED="0",
    )
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str], what: str, log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        try:
            done = subprocess.run(
                command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            raise LocalModeError(f"{what} took over {BUILD_TIMEOUT_S} s; see {log}") from None
    if done.returncode != 0:
        raise LocalModeError(f"{what} failed (exit {done.returncode}); see {log}")


def build(local_root: Path, version: str) -> Path:
    """Build `docker-compose` at `version` unless already built; return the DOCKER_CONFIG folder. One build at a
    time: a second caller waits for the first (`main.py test` starts one in the background) and uses its result."""
    lock_file = tools_dir(local_root) / f"compose-build-{version}.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        return _build_unlocked(local_root, version)


def prebuild_in_background(local_root: Path, log: Path) -> subprocess.Popen | None:
    """Start building Compose at the lowest CPU priority, so a test suite that needs it later finds it built
    (or waits less); None when already built or Go is missing (the test then says so)."""
    if plugin_path(local_root, compose_version()).is_file() or shutil.which("go") is None:
        return None
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        return subprocess.Popen(
            ["nice", "-n", "19", sys.executable, "-m", "local.compose_cli"],
            cwd=Path(__file__).resolve().parents[1],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so `go` goes with it if stopped early
        )


def _build_unlocked(local_root: Path, version: str) -> Path:
    plugin = plugin_path(local_root, version)
    if plugin.is_file():
        return docker_config_dir(local_root, version)
    go = shutil.which("go")
    if go is None:
        raise LocalModeError(
            "Go is not installed, and Docker Compose is built from its Go module to check the Compose files: "
            "install Go 1.26 (Debian: `apt-get install golang`), or run the checks where `docker compose` exists."
        )
    go_root = tools_dir(local_root) / "go"
    log = tools_dir(local_root) / f"compose-build-{version}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    env = _go_env(go_root)
    # `go install module@version` refuses modules whose go.mod has exclude directives (Compose's has): fetch
    # the module's source and build inside it, so its own go.mod and go.sum pin every dependency.
    _run([go, "mod", "download", f"{MODULE}@{version}"], local_root, env, "downloading Docker Compose", log)
    source = go_root / "pkg" / "mod" / f"{MODULE}@{version}"
    staging = plugin.with_suffix(".building")
    staging.parent.mkdir(parents=True, exist_ok=True)
    ldflags = f"-w -X {MODULE}/internal.Version={version}"
    build_cmd = [go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(staging), "./cmd"]
    _run(build_cmd, source, env, "building Docker Compose", log)
    staging.replace(plugin)
    shutil.rmtree(go_root, ignore_errors=True)
    return docker_config_dir(local_root, version)


def compose_command(docker_config: Path) -> tuple[list[str], dict[str, str]]:
    """`docker compose` through the Docker CLI when it is installed (as users run it), else the plugin binary
    on its own (it runs standalone too); with the environment that makes the CLI find the plugin."""
    env = dict(os.environ, DOCKER_CONFIG=str(docker_config))
    docker = shutil.which("docker")
    if docker:
        return [docker, "compose"], env
    return [str(docker_config / "cli-plugins" / "docker-compose")], env


def main() -> int:
    from config.settings import load_settings

    try:
        print(build(load_settings().local_dir, compose_version()))
    except LocalModeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
