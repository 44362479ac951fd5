"""One Cassandra cluster/session from settings, with bounded retry while Cassandra starts.

with CassandraConnection.open(settings) as cassandra:
    insert = cassandra.prepare("INSERT INTO ... VALUES (?, ?)")
    cassandra.session.execute(insert, (a, b))
"""

from __future__ import annotations

import logging
import time
from functools import cache

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    NoHostAvailable,
    Session,
    _ControlReconnectionHandler,
)
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
    WhiteListRoundRobinPolicy,
)
from cassandra.pool import _HostReconnectionHandler
from cassandra.query import PreparedStatement

from cassandra import AuthenticationFailed, ConsistencyLevel
from config.settings import Settings

log = logging.getLogger(__name__)


def _reconnect_after_refused_logins() -> None:
    """The driver gives up on a host for good after one refused login while reconnecting. Cassandra refuses
    logins for a while when it restarts (its roles not yet readable, or a node of a fresh cluster on the same
    address before `up` creates the admin): with security on, every long-lived session was left with no host
    after one such restart. Reconnection goes on at the policy's pace instead (a wrong password still fails
    the first connect, with a clear message)."""

    def on_exception(self, exc: Exception, next_delay: float) -> bool:
        if isinstance(exc, AuthenticationFailed):
            log.warning("Cassandra refused a login while reconnecting; retrying in %.0f s", next_delay)
        return True

    _HostReconnectionHandler.on_exception = on_exception
    _ControlReconnectionHandler.on_exception = on_exception


_reconnect_after_refused_logins()


class CassandraUnavailable(RuntimeError):
    """Cassandra did not accept a connection within the retry bound."""


class CassandraAuthRefused(CassandraUnavailable):
    """Cassandra refused the role's login: the message names the role and its password's setting."""


def auth_refused(exc: NoHostAvailable) -> bool:
    return any(isinstance(error, AuthenticationFailed) for error in exc.errors.values())


def login(settings: Settings, role: str) -> PlainTextAuthProvider | None:
    """The login of one role (config/security.py); none when security is off."""
    if not settings.security.enabled:
        return None
    credential = settings.security.cassandra(role)
    return PlainTextAuthProvider(credential.username, credential.password)


def build_cluster(
    settings: Settings,
    connect_timeout: float = 10,
    only_host: str | None = None,
    role: str = "admin",
    auth: PlainTextAuthProvider | None = None,
) -> Cluster:
    """A driver cluster for CASSANDRA_HOST (every node a contact point) logged in as `role` (or with `auth`);
    `only_host` talks to that node alone (readiness probes)."""
    auth = auth or login(settings, role)
    balancing = (
        WhiteListRoundRobinPolicy([only_host])
        if only_host
        else TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.cassandra_local_dc))
    )
    profile = ExecutionProfile(
        load_balancing_policy=balancing,
        consistency_level=ConsistencyLevel.name_to_value[settings.cassandra_write_consistency],
        request_timeout=30,
    )
    return Cluster(
        [only_host] if only_host else [h.strip() for h in settings.cassandra_host.split(",")],
        port=settings.cassandra_port,
        auth_provider=auth,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        protocol_version=5,
        # Back within seconds after an outage (the driver's default backoff grows to 10 minutes).
        reconnection_policy=ExponentialReconnectionPolicy(base_delay=1.0, max_delay=10.0),
        connect_timeout=connect_timeout,
        control_connection_timeout=connect_timeout,
    )


class CassandraConnection:
    """A cluster and its session; prepared statements are cached per query text."""

    def __init__(self, cluster: Cluster, session: Session) -> None:
        self.cluster = cluster
        self.session = session
        self.prepare = cache(self._prepare)

    @classmethod
    def open(cls, settings: Settings, retry_s: float | None = None, role: str = "admin") -> CassandraConnection:
        """Connected as `role`: the admin for setup and the operator's commands, the job for the streaming job."""
        retry_s = settings.cassandra_connect_retry_s if retry_s is None else retry_s
        deadline = time.monotonic() + retry_s
        delay = 1.0
        while True:
            cluster = build_cluster(settings, role=role)
            try:
                return cls(cluster, cluster.connect())
            except NoHostAvailable as exc:
                cluster.shutdown()
                if auth_refused(exc):
                    credential = settings.security.cassandra(role)
                    raise CassandraAuthRefused(
                        f"Cassandra refused the login of role {credential.username}: check "
                        f"{credential.password_variable} (.local/secrets.env or the environment)"
                    ) from None
                if time.monotonic() + delay > deadline:
                    raise CassandraUnavailable(
                        f"Cassandra at {settings.cassandra_host}:{settings.cassandra_port} did not accept a connection "
                        f"within {retry_s:.0f} s: is it running? (`python3 main.py status`)"
                    ) from exc
                log.info("Cassandra not reachable yet; retrying in %.0f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _prepare(self, query: str) -> PreparedStatement:
        return self.session.prepare(query)

    def close(self) -> None:
        self.cluster.shutdown()

    def __enter__(self) -> CassandraConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
