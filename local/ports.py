"""Port checks before a service starts: a taken port gets one line naming the process that holds it."""

from __future__ import annotations

import errno
import socket

import psutil


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """False when something holds the port; raises OSError (EADDRNOTAVAIL) when `host` is not local at all."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise
            return False
    return True


def holder(port: int) -> str:
    """`pid 123 (java ...)` for the process listening on the port, or a hint when it cannot be seen."""
    try:
        conns = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        return "a process this user cannot see (try `ss -ltnp`)"
    for conn in conns:
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            try:
                proc = psutil.Process(conn.pid)
                cmd = " ".join(proc.cmdline())[:80]
            except psutil.Error:
                cmd = "?"
            return f"pid {conn.pid} ({cmd})"
    return "an unknown process"
