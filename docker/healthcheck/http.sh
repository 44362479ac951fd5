#!/usr/bin/env bash
# http.sh HOST PORT PATH [TIMEOUT_S]
# Healthy when an HTTP GET of PATH answers 2xx. Bash only: the Confluent images this probes (the schema
# registry, Control Center) run their launch scripts with bash but are not documented to ship curl or wget.
# Where the container knows the Kafka admin's login (the schema registry's, whose users are the Kafka users),
# the GET logs in with it.
set -euo pipefail
host="$1"
port="$2"
path="$3"
timeout_s="${4:-5}"

exec 3<>"/dev/tcp/${host}/${port}"
login=""
if [[ -n "${KAFKA_ADMIN_PASSWORD:-}" ]]; then
  login="Authorization: Basic $(printf '%s:%s' "${KAFKA_ADMIN_USERNAME:-pipeline-admin}" "${KAFKA_ADMIN_PASSWORD}" | base64 | tr -d '\n')\r\n"
fi
printf "GET %s HTTP/1.0\r\nHost: %s\r\n${login}Connection: close\r\n\r\n" "$path" "$host" >&3
status_line="$(timeout "$timeout_s" head -n 1 <&3)" || true
exec 3<&-
if [[ ! "$status_line" =~ ^HTTP/[0-9.]+\ 2[0-9][0-9] ]]; then
  echo "GET http://${host}:${port}${path}: ${status_line:-no answer within ${timeout_s} s}" >&2
  exit 1
fi
