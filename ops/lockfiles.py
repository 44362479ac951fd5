"""`python3 main.py lock`: the hash-pinned lock files pip installs from, regenerated with uv.

    requirements-dev.lock          <- requirements-dev.txt (tests and tools; includes requirements.txt)
    requirements.lock              <- requirements.txt, held to the dev lock's versions
    docker/producer/requirements.lock <- requirements.txt without pyspark (the Spark image brings it)
    docker/spark/requirements.lock <- docker/spark/requirements.txt

Each lock pins every package, dependencies included, with the sha256 of every file PyPI has for that version
(`--universal`: for any platform, so the images' Linux and the users' machines alike). `main.py` and the
Dockerfiles install with `pip install --require-hashes --no-deps`: a file whose hash differs is refused.
Edit the `.txt` files, then run this and commit the locks with them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_VERSION = "3.11"
TIMEOUT_S = 600


def lock_plan(root: Path = ROOT) -> list[tuple[Path, str, list[str]]]:
    """(lock file, its input's text, constraint files), in the order they are made (constraints first)."""
    runtime = (root / "requirements.txt").read_text()
    without_pyspark = "".join(line for line in runtime.splitlines(True) if not line.startswith("pyspark=="))
    return [
        (root / "requirements-dev.lock", (root / "requirements-dev.txt").read_text(), []),
        (root / "requirements.lock", runtime, [root / "requirements-dev.lock"]),
        (root / "docker" / "producer" / "requirements.lock", without_pyspark, [root / "requirements.lock"]),
        (root / "docker" / "spark" / "requirements.lock", (root / "docker" / "spark" / "requirements.txt").read_text(),
         [root / "requirements.lock"]),
    ]  # fmt: skip


def uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(found).exists():
        raise FileNotFoundError("uv is not installed: `python3 main.py test --help` installs requirements-dev.txt")
    return found


def compile_lock(lock: Path, requirements: str, constraints: list[Path]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "requirements.in"
        # -r lines are relative to the project root, as in the .txt files.
        source.write_text(requirements.replace("-r requirements.txt", f"-r {ROOT / 'requirements.txt'}"))
        cmd = [uv(), "pip", "compile", str(source), "--generate-hashes", "--universal", "--quiet"]
        cmd += ["--python-version", PYTHON_VERSION, "--custom-compile-command", "python3 main.py lock"]
        cmd += [arg for c in constraints for arg in ("-c", str(c))] + ["-o", str(lock)]
        subprocess.run(cmd, check=True, timeout=TIMEOUT_S, cwd=ROOT)


def main() -> int:
    for lock, requirements, constraints in lock_plan():
        compile_lock(lock, requirements, constraints)
        print(f"{lock.relative_to(ROOT)}: {lock.read_text().count('--hash=sha256:')} hashes")
    return 0
