"""Where local mode keeps its files, all under one ignored folder (`.local/` by default)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalPaths:
    root: Path

    @property
    def maven_repo(self) -> Path:
        return self.root / "m2"

    @property
    def classpaths(self) -> Path:
        return self.root / "classpath"

    def classpath_file(self, component: str) -> Path:
        return self.classpaths / f"{component}.txt"

    @property
    def registry_home(self) -> Path:
        return self.root / "registry"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log_file(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def run(self) -> Path:
        return self.root / "run"

    def make(self) -> None:
        for folder in (self.maven_repo, self.classpaths, self.registry_home, self.data, self.logs, self.conf, self.run):
            folder.mkdir(parents=True, exist_ok=True)
