"""End-to-end fixtures: the whole pipeline (topics, schemas, tables, the streaming job) on local mode."""

from __future__ import annotations

import pytest

from database.cassandra_connection import CassandraConnection
from local import platform as local_platform


@pytest.fixture(scope="session")
def pipeline(local_mode: local_platform.Platform) -> local_platform.Platform:
    """Local mode plus setup and the streaming job under supervisord (no background generator: each
    test produces exactly what it checks)."""
    local_platform.up(local_mode, pipeline=True, producer=False)
    return local_mode


@pytest.fixture(scope="session")
def cassandra(pipeline) -> CassandraConnection:
    """A cassandra-driver session on the pipeline's keyspace."""
    connection = CassandraConnection.open(pipeline.settings)
    yield connection
    connection.close()
