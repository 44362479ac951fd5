#!/usr/bin/env bash
# Compose's Cassandra healthcheck: healthy once CQL answers a query under a login: the generated admin's
# (CASSANDRA_ADMIN_USERNAME/PASSWORD), or, on the first start before cassandra-init has replaced it, the
# image's default superuser. The credentials go through an owner-only file, never the command line.
set -euo pipefail

credentials="$(mktemp)"
trap 'rm -f "$credentials"' EXIT
users=("${CASSANDRA_ADMIN_USERNAME:-pipeline_admin}" cassandra)
passwords=("${CASSANDRA_ADMIN_PASSWORD:-}" cassandra)
for i in 0 1; do
  [[ -n "${passwords[$i]}" ]] || continue
  printf '[plain_text_auth]\nusername = %s\npassword = %s\n' "${users[$i]}" "${passwords[$i]}" > "$credentials"
  if cqlsh --credentials "$credentials" -e "SELECT release_version FROM system.local" >/dev/null 2>&1; then
    exit 0
  fi
done
echo "cassandra: no CQL answer to the admin's or the default superuser's login" >&2
exit 1
