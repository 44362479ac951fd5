"""supervisord as local mode's process manager: one daemon owns every engine's process.

We write its config, start it once, and drive it over its XML-RPC socket (what `supervisorctl` does).
It stops each engine with SIGTERM to the whole process group, then SIGKILL after the service's bound.
"""

from __future__ import annotations

import http.client
import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterable
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from local.errors import LocalModeError
from local.paths import LocalPaths
from local.services import Service

DEAD_STATES = {"EXITED", "FATAL", "BACKOFF", "STOPPED", "UNKNOWN"}


def config_file(paths: LocalPaths) -> Path:
    return paths.run / "supervisord.conf"


def socket_file(paths: LocalPaths) -> Path:
    return paths.run / "supervisor.sock"


def render_config(paths: LocalPaths, services: Iterable[Service]) -> str:
    sock = socket_file(paths)
    lines = [
        "[unix_http_server]",
        f"file={sock}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={paths.logs / 'supervisord.log'}",
        f"pidfile={paths.run / 'supervisord.pid'}",
        f"directory={paths.root}",
        "nodaemon=false",
        "silent=true",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{sock}",
        "",
    ]
    for service in services:
        env = ",".join(f'{k}="{v}"' for k, v in service.env.items())
        lines += [
            f"[program:{service.name}]",
            # supervisord expands %(...)s in commands: escape literal percent signs.
            "command=" + shlex.join(service.command).replace("%", "%%"),
            f"directory={paths.root}",
            "autostart=false",
            # Engines: a crash must show up, not be papered over by a restart loop. The pipeline's own
            # processes (job, producer) restart: the job resumes from its checkpoint.
            f"autorestart={'true' if service.autorestart else 'false'}",
            "startsecs=3",
            f"startretries={3 if service.autorestart else 0}",
            "stopsignal=TERM",
            f"stopwaitsecs={service.stop_wait_s}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={paths.log_file(service.name)}",
            "stdout_logfile_maxbytes=50MB",
            "stdout_logfile_backups=2",
            *([f"environment={env}"] if env else []),
            "",
        ]
    return "\n".join(lines)


class Supervisor:
    """A handle on the running supervisord (or on its absence)."""

    def __init__(self, paths: LocalPaths) -> None:
        self.paths = paths
        self._rpc = self._connect()

    def _connect(self) -> xmlrpc.client.ServerProxy:
        transport = SupervisorTransport(None, None, f"unix://{socket_file(self.paths)}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    @property
    def rpc(self):
        return self._rpc.supervisor

    def running(self) -> bool:
        if not socket_file(self.paths).exists():
            return False
        try:
            return self.rpc.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault, http.client.HTTPException):
            # A socket left behind by a supervisord that died with the machine or session: the transport keeps its
            # half-sent request, so start over with a fresh one.
            self._rpc = self._connect()
            return False

    def start_daemon(self, services: list[Service], timeout_s: float = 20) -> None:
        """Write the config and start supervisord; if one already runs, load the new config into it."""
        config_file(self.paths).write_text(render_config(self.paths, services))
        if self.running():
            # Like `supervisorctl update`; a changed program that was running is started again with its new config.
            added, changed, removed = self.rpc.reloadConfig()[0]
            was_running = {n for n in changed if self.info(n)["statename"] in ("RUNNING", "STARTING")}
            for name in removed + changed:
                self.stop(name)
                self.rpc.removeProcessGroup(name)
            for name in added + changed:
                self.rpc.addProcessGroup(name)
            for name in was_running:
                self.start(name)
            return
        socket_file(self.paths).unlink(missing_ok=True)
        subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(config_file(self.paths))],
            check=True,
            timeout=timeout_s,
        )
        deadline = time.monotonic() + timeout_s
        while not self.running():
            if time.monotonic() > deadline:
                raise LocalModeError(
                    f"supervisord did not start within {timeout_s:.0f} s; see {self.paths.logs / 'supervisord.log'}"
                )
            time.sleep(0.2)

    def info(self, name: str) -> dict:
        return self.rpc.getProcessInfo(name)

    def all_info(self) -> dict[str, dict]:
        if not self.running():
            return {}
        return {p["name"]: p for p in self.rpc.getAllProcessInfo()}

    def start(self, name: str) -> None:
        if self.info(name)["statename"] in ("RUNNING", "STARTING"):
            return
        try:
            self.rpc.startProcess(name, False)
        except xmlrpc.client.Fault as fault:
            raise LocalModeError(f"supervisord could not start {name}: {fault.faultString}") from None

    def stop(self, name: str) -> None:
        """SIGTERM to the process group; supervisord sends SIGKILL once stopwaitsecs pass."""
        if self.info(name)["statename"] not in ("RUNNING", "STARTING", "BACKOFF"):
            return
        try:
            self.rpc.stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise

    def stop_together(self, names: list[str], timeout_s: float = 200) -> None:
        """SIGTERM to each at once, then wait until all have stopped (supervisord SIGKILLs any that outlive
        its stopwaitsecs; `timeout_s` only bounds the wait for supervisord itself)."""
        for name in names:
            try:
                self.rpc.stopProcess(name, False)
            except xmlrpc.client.Fault as fault:
                if "NOT_RUNNING" not in fault.faultString:
                    raise
        deadline = time.monotonic() + timeout_s
        while any(self.info(n)["statename"] in ("RUNNING", "STARTING", "BACKOFF", "STOPPING") for n in names):
            if time.monotonic() > deadline:
                raise LocalModeError(f"{', '.join(names)} did not stop within {timeout_s:.0f} s")
            time.sleep(0.2)

    def shutdown(self, timeout_s: float = 30) -> None:
        pid_file = self.paths.run / "supervisord.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        self.rpc.shutdown()
        deadline = time.monotonic() + timeout_s
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
