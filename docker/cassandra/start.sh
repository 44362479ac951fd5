#!/usr/bin/env bash
# Compose's Cassandra: the image's cassandra.yaml with the pipeline's settings of docker/cassandra/pipeline.yaml
# (what local mode writes too: password logins and permissions, a commit log synced before a write is
# acknowledged), then the image's own entrypoint. Every top-level key that file sets is first removed from the
# image's file with its indented lines (`authenticator:` nests a `class_name:`), so none is set twice, and so is
# commitlog_sync_period, which Cassandra refuses next to group sync. Safe to run again on a restart.
set -euo pipefail

conf="${CASSANDRA_CONF:-/etc/cassandra}/cassandra.yaml"
overrides="$(dirname "$0")/pipeline.yaml"
keys="$(grep -oE '^[a-z_]+:' "$overrides" | tr -d ':' | tr '\n' ' ')commitlog_sync_period"

edited="$(mktemp)"
awk -v keys="$keys" '
  BEGIN { n = split(keys, list, " "); for (i = 1; i <= n; i++) drop[list[i]] = 1 }
  /^#/ { print; next }
  /^[A-Za-z_][A-Za-z0-9_]*[ \t]*:/ { key = $0; sub(/[ \t]*:.*/, "", key); skipping = (key in drop) }
  !skipping { print }
' "$conf" > "$edited"
{ cat "$edited"; echo "# The pipeline's settings (docker/cassandra/pipeline.yaml)"; cat "$overrides"; } > "$conf"
rm -f "$edited"

# `docker exec -it cassandra cqlsh` (run as root) logs in as the admin: cqlsh reads ~/.cassandra/credentials.
if [[ -n "${CASSANDRA_ADMIN_PASSWORD:-}" ]]; then
  mkdir -p "${HOME:-/root}/.cassandra"
  (
    umask 077
    printf '[plain_text_auth]\nusername = %s\npassword = %s\n' "${CASSANDRA_ADMIN_USERNAME:-pipeline_admin}" \
      "$CASSANDRA_ADMIN_PASSWORD" > "${HOME:-/root}/.cassandra/credentials"
  )
fi

exec "${CASSANDRA_ENTRYPOINT:-docker-entrypoint.sh}" cassandra -f
