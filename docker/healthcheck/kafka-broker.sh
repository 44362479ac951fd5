#!/usr/bin/env bash
# kafka-broker.sh HOST PORT [TIMEOUT_S]
# Compose's broker healthcheck: healthy once the broker answers a Kafka ApiVersions request, which it does
# only after it has started serving requests (a bound port alone is not enough: the kernel accepts
# connections before the broker reads them). Bash and coreutils only, instead of a JVM every interval.
set -euo pipefail
host="$1"
port="$2"
timeout_s="${3:-5}"

exec 3<>"/dev/tcp/${host}/${port}"
# ApiVersions v0: size 12 | api_key 18 | api_version 0 | correlation_id 7 | client_id "hc" (length 2).
printf '\x00\x00\x00\x0c\x00\x12\x00\x00\x00\x00\x00\x07\x00\x02hc' >&3
# The reply starts with its size (4 bytes), the correlation id (4) and the error code (2).
reply="$(timeout "$timeout_s" head -c 10 <&3 | od -An -tx1 | tr -d ' \n')" || true
exec 3<&-
if [[ "${reply:8:12}" != "000000070000" ]]; then
  echo "no ApiVersions reply from ${host}:${port} (got '${reply}')" >&2
  exit 1
fi
