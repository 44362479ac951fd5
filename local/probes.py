"""Readiness probes: each asks the engine itself, through its real client, whether it serves.

Every probe returns None when ready, or a short reason when not, and never blocks longer than its timeout.
"""

from __future__ import annotations

import logging

import requests

from config.settings import Settings

log = logging.getLogger(__name__)


def kafka_node_ready(settings: Settings, bootstrap: str, node_id: int, timeout: float = 3.0) -> str | None:
    """A metadata request answered by this node, which lists itself among the live brokers (it has joined
    the controller quorum's cluster and been unfenced). Asked as the admin user when security is on."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**settings.kafka_client("admin"), "bootstrap.servers": bootstrap, "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=timeout)
    except Exception as exc:  # KafkaException on timeout: not ready yet
        return f"no metadata: {exc}"
    return None if node_id in metadata.brokers else f"node {node_id} not among the live brokers yet"


def _http_ok(url: str, timeout: float, auth: tuple[str, str] | None = None) -> str | None:
    try:
        response = requests.get(url, auth=auth, timeout=timeout)
    except requests.RequestException as exc:
        return f"no answer: {exc.__class__.__name__}"
    return None if response.status_code == 200 else f"HTTP {response.status_code}"


def registry_ready(settings: Settings, timeout: float = 3.0) -> str | None:
    """A GET on the Confluent-compatible API."""
    return _http_ok(f"{settings.schema_registry_url}/subjects", timeout, settings.registry_http_auth("admin"))


def cassandra_node_ready(settings: Settings, host: str, min_peers: int = 0, timeout: float = 5.0) -> str | None:
    """`SELECT release_version FROM system.local` over the native protocol of this node; a node joining a
    cluster also knows at least `min_peers` other nodes through gossip (system.peers_v2)."""
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import NoHostAvailable

    from database.cassandra_connection import auth_refused, build_cluster
    from database.roles import DEFAULT_SUPERUSER

    cluster = build_cluster(settings, connect_timeout=timeout, only_host=host)
    try:
        try:
            session = cluster.connect()
        except NoHostAvailable as exc:
            if not auth_refused(exc):
                raise
            if any("Unable to perform authentication" in str(e) for e in exc.errors.values()):
                # It serves CQL but cannot read its roles (their replicas are down): up, as far as starting
                # the other nodes goes (they bring the replicas back); a joining node must log in to count peers.
                return None if not min_peers else "cannot read its roles yet (their replicas are down)"
            # A node that has just started has only the default superuser, which `up` replaces (database/roles.py).
            cluster.shutdown()
            auth = PlainTextAuthProvider(*DEFAULT_SUPERUSER)
            cluster = build_cluster(settings, connect_timeout=timeout, only_host=host, auth=auth)
            try:
                session = cluster.connect()
            except NoHostAvailable as again:
                if auth_refused(again):
                    return "serves CQL but refuses the admin's login (CASSANDRA_ADMIN_PASSWORD) and the default one"
                raise
        row = session.execute("SELECT release_version FROM system.local", timeout=timeout).one()
        if not (row and row.release_version):
            return "no release_version"
        if min_peers:
            peers = len(session.execute("SELECT peer FROM system.peers_v2", timeout=timeout).all())
            if peers < min_peers:
                return f"knows {peers} other nodes, waiting for {min_peers}"
        return None
    except (NoHostAvailable, OSError) as exc:
        return f"not serving CQL: {exc.__class__.__name__}"
    except Exception as exc:  # driver timeouts and errors while the node bootstraps
        return f"not ready: {exc.__class__.__name__}"
    finally:
        cluster.shutdown()


def _spark_master_json(settings: Settings, timeout: float) -> dict | str:
    try:
        response = requests.get(f"{settings.spark_master_ui_url}/json/", timeout=timeout)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as exc:
        return f"no answer: {exc.__class__.__name__}"


def spark_master_ready(settings: Settings, timeout: float = 3.0) -> str | None:
    state = _spark_master_json(settings, timeout)
    if isinstance(state, str):
        return state
    return None if state.get("status") == "ALIVE" else f"master status {state.get('status')}"


def spark_worker_ready(settings: Settings, host: str = "127.0.0.1", timeout: float = 3.0) -> str | None:
    """The master's JSON shows an alive worker on this host."""
    state = _spark_master_json(settings, timeout)
    if isinstance(state, str):
        return state
    alive = [w for w in state.get("workers", []) if w.get("host") == host and w.get("state") == "ALIVE"]
    return None if alive else f"no alive worker on {host} registered"


def stream_job_ready(settings: Settings, timeout: float = 3.0) -> str | None:
    """The streaming job is registered with the master as a running application."""
    state = _spark_master_json(settings, timeout)
    if isinstance(state, str):
        return state
    running = [
        a for a in state.get("activeapps", []) if a.get("name") == settings.job_name and a.get("state") == "RUNNING"
    ]
    return None if running else f"{settings.job_name} not running on the master"


def dashboard_ready(settings: Settings, timeout: float = 3.0) -> str | None:
    """The page's server answers its health check."""
    return _http_ok(f"{settings.dashboard_url}/healthz", timeout)
