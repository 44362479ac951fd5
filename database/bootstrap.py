"""The Cassandra half of setup in one call, the same code for both deployments: the keyspace and tables of
cassandra/cassandra_setup.cql (with the settings' replication and TTL), dead letters of the first, daily layout
moved into hourly partitions, and the roles' grants. `python3 main.py setup` runs it (pipeline_setup.py);
Compose's cassandra-init runs `python -m database.bootstrap`, which first secures the roles (local mode's `up`
does that before setup: local/platform.py)."""

from __future__ import annotations

from config.settings import Settings
from database import dead_letters, roles
from database.cassandra_connection import CassandraConnection
from database.schema import KEYSPACE, apply_setup, render_setup


def dead_letters_statement(settings: Settings) -> str:
    table = f"{KEYSPACE}.{dead_letters.TABLE} ("
    return next(s for s in render_setup(settings) if table in s)


def setup_keyspace(settings: Settings) -> list[str]:
    """Apply the DDL and the grants as the admin; returns what was done, a line each."""
    with CassandraConnection.open(settings) as cassandra:
        count = apply_setup(cassandra.session, settings)
        moved = dead_letters.move_to_hourly(cassandra.session, dead_letters_statement(settings))
        granted = roles.grant(cassandra.session, settings, KEYSPACE)
    lines = [f"cassandra: {count} statements of cassandra/cassandra_setup.cql applied (keyspace {KEYSPACE})"]
    if granted:
        lines.append(f"cassandra: {granted} grants (job: {', '.join(roles.JOB_PERMISSIONS)}; reader: SELECT)")
    if moved is not None:
        lines.append(f"cassandra: dead_letters moved to hourly partitions ({moved:,} rows kept)")
    return lines


def main() -> int:
    """`python -m database.bootstrap` (Compose's cassandra-init): roles, then the keyspace."""
    import sys

    from config.security import CredentialMissing
    from config.settings import load_settings
    from database.cassandra_connection import CassandraUnavailable

    settings = load_settings()
    try:
        created = roles.secure(settings, retry_s=settings.cassandra_connect_retry_s)
        if created:
            print(f"cassandra: roles {', '.join(created)} (password logins; default `cassandra` superuser dropped)")
        print("\n".join(setup_keyspace(settings)))
    except (roles.CassandraAuthError, CassandraUnavailable, CredentialMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
