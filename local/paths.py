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

    def kafka_properties(self, node: str) -> Path:
        """`kafka-server.properties` for the single node (as before cluster mode), `kafka-2-server.properties`..."""
        return self.conf / ("kafka-server.properties" if node == "kafka" else f"{node}-server.properties")

    def cassandra_yaml(self, node: str) -> Path:
        return self.conf / ("cassandra.yaml" if node == "cassandra" else f"{node}.yaml")

    @staticmethod
    def worker_dir_name(worker: str) -> str:
        return "work" if worker == "spark-worker" else f"work-{worker.rsplit('-', 1)[1]}"

    @property
    def mode_file(self) -> Path:
        """Written by `up --cluster` and removed by `down` (config.settings.cluster_mode_marker finds it before
        the settings are loaded): while it exists, every command reads `.env.cluster` too."""
        return self.run / "cluster-mode"

    @property
    def insecure_file(self) -> Path:
        """Written by `up --insecure` and removed by `down` (config.settings.insecure_mode_marker)."""
        return self.run / "insecure-mode"

    def make(self) -> None:
        for folder in (self.maven_repo, self.classpaths, self.registry_home, self.data, self.logs, self.conf, self.run):
            folder.mkdir(parents=True, exist_ok=True)
