"""Cassandra's roles (config/security.py names them) and their permissions, applied as the admin.

`secure` runs once the nodes serve: the first time, it logs in as the default `cassandra` superuser, creates the
generated admin, and drops `cassandra` (no default password is left to guess); every time, it sets each
role's password to the one the settings hold (so a rotated secret is applied) and, in a cluster, keeps
`system_auth` on every node. `grant` gives the job and the reader their rights on a keyspace once it exists.
"""

from __future__ import annotations

import time

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import NoHostAvailable, Session

from config.settings import Settings
from database.cassandra_connection import CassandraConnection, auth_refused, build_cluster

DEFAULT_SUPERUSER = ("cassandra", "cassandra")
TIMEOUT_S = 60
# The job writes (MODIFY), reads back what it checks (SELECT) and adds a column for a new optional schema field
# (ALTER); it may not DROP or CREATE. The reader only SELECTs.
JOB_PERMISSIONS = ("SELECT", "MODIFY", "ALTER")
READER_PERMISSIONS = ("SELECT",)


class CassandraAuthError(RuntimeError):
    """Neither the admin's password nor the default superuser was accepted; the message says what to fix."""


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _session(settings: Settings, username: str, password: str) -> CassandraConnection | None:
    """A session as this user, or None when Cassandra refuses the login (any other failure raises)."""
    cluster = build_cluster(settings, auth=PlainTextAuthProvider(username, password))
    try:
        return CassandraConnection(cluster, cluster.connect())
    except NoHostAvailable as exc:
        cluster.shutdown()
        if auth_refused(exc):
            return None
        raise


def _logs_in(settings: Settings, username: str, password: str) -> bool:
    connection = _session(settings, username, password)
    if connection is None:
        return False
    connection.close()
    return True


def _admin_session(settings: Settings, deadline: float) -> CassandraConnection:
    """The admin's session, creating the admin from the default superuser first when it does not exist yet.
    The default role appears a moment after the node first serves: retried until `deadline`."""
    admin = settings.security.cassandra("admin")
    while True:
        connection = _session(settings, admin.username, admin.password)
        if connection is not None:
            return connection
        default = _session(settings, *DEFAULT_SUPERUSER)
        if default is not None:
            with default:
                _replicate_system_auth(default.session, settings)
                default.session.execute(
                    f'CREATE ROLE IF NOT EXISTS "{admin.username}" WITH SUPERUSER = true AND LOGIN = true '
                    f"AND PASSWORD = {_quoted(admin.password)}",
                    timeout=TIMEOUT_S,
                )
            continue
        if time.monotonic() > deadline:
            raise CassandraAuthError(
                f"Cassandra refused the admin role {admin.username} ({admin.password_variable}) and the default "
                "superuser is gone: set the admin's current password in .local/secrets.env, or start from empty "
                "data (`python3 main.py down`, then remove .local/data/cassandra*)"
            )
        time.sleep(1)


def _replicate_system_auth(session: Session, settings: Settings) -> None:
    """Roles on every node of a cluster (the default, one replica, loses logins with the node that holds them)."""
    nodes = len(settings.cassandra_host.split(","))
    if nodes > 1:
        replicas = min(nodes, 3)
        session.execute(
            "ALTER KEYSPACE system_auth WITH replication = "
            f"{{'class': 'NetworkTopologyStrategy', '{settings.cassandra_local_dc}': {replicas}}}",
            timeout=TIMEOUT_S,
        )


def secure(settings: Settings, retry_s: float = 120) -> list[str]:
    """Admin, job and reader roles with the settings' passwords; the default superuser dropped. Returns the roles."""
    if not settings.security.enabled:
        return []
    with _admin_session(settings, time.monotonic() + retry_s) as admin:
        session = admin.session
        _replicate_system_auth(session, settings)
        names = []
        for role in ("admin", "job", "reader"):
            credential = settings.security.cassandra(role)
            superuser = "true" if role == "admin" else "false"
            options = f"SUPERUSER = {superuser} AND LOGIN = true AND PASSWORD = {_quoted(credential.password)}"
            session.execute(f'CREATE ROLE IF NOT EXISTS "{credential.username}" WITH {options}', timeout=TIMEOUT_S)
            # A role whose login fails has another password (rotated in the secrets file): set it. (Only then:
            # Cassandra refuses a second change of one role's password within 5 s.)
            if role != "admin" and not _logs_in(settings, credential.username, credential.password):
                password = f"PASSWORD = {_quoted(credential.password)}"
                session.execute(f'ALTER ROLE "{credential.username}" WITH {password}', timeout=TIMEOUT_S)
            names.append(credential.username)
        session.execute(f'DROP ROLE IF EXISTS "{DEFAULT_SUPERUSER[0]}"', timeout=TIMEOUT_S)
    return names


def grant(session: Session, settings: Settings, keyspace: str) -> int:
    """The job's and the reader's permissions on `keyspace` (as the admin); returns the statements run."""
    if not settings.security.enabled:
        return 0
    statements = [
        f'GRANT {permission} ON KEYSPACE {keyspace} TO "{settings.security.usernames[("cassandra", role)]}"'
        for role, permissions in (("job", JOB_PERMISSIONS), ("reader", READER_PERMISSIONS))
        for permission in permissions
    ]
    for statement in statements:
        session.execute(statement, timeout=TIMEOUT_S)
    return len(statements)
