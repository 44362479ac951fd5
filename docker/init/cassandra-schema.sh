#!/usr/bin/env bash
# Compose's cassandra-init: apply cassandra/cassandra_setup.cql with cqlsh. The keyspace's replication and
# the tables' TTL come from the environment, as `python3 main.py setup` does (database/schema.py): the
# file's own values are local mode's single-node defaults. Idempotent: every statement is IF NOT EXISTS,
# and the keyspace is brought to the configured replication when it already exists.
set -euo pipefail

host="${CASSANDRA_HOST:-cassandra}"
host="${host%%,*}"   # cqlsh takes one contact point: the first of the list
port="${CASSANDRA_PORT:-9042}"
dc="${CASSANDRA_LOCAL_DC:-datacenter1}"
factor="${CASSANDRA_REPLICATION_FACTOR:-1}"
ttl="${CASSANDRA_DEFAULT_TTL_S:-2592000}"
replication="{'class': 'NetworkTopologyStrategy', '${dc}': ${factor}}"

rendered="$(mktemp --suffix=.cql)"
sed -E -e "s/replication = \{[^}]*\}/replication = ${replication}/" \
       -e "s/default_time_to_live = [0-9]+/default_time_to_live = ${ttl}/" \
       cassandra/cassandra_setup.cql > "$rendered"

cql() { cqlsh "$host" "$port" --request-timeout=60 "$@"; }
cql -f "$rendered"
cql -e "ALTER KEYSPACE user_logs WITH replication = ${replication};"
echo "cassandra: cassandra/cassandra_setup.cql applied (user_logs, '${dc}': ${factor}, ttl ${ttl} s)"
