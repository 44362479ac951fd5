#!/usr/bin/env bash
# with-kafka-admin.sh COMMAND...: run a script of Kafka's CLI tools (kafka/create_topics.sh) logged in as the
# admin: its login (KAFKA_ADMIN_USERNAME/PASSWORD, with KAFKA_ADMIN_SASL_MECHANISM) goes into a client config
# that only this run can read, named by KAFKA_COMMAND_CONFIG, and removed when the command ends.
set -euo pipefail
umask 077

if [[ -z "${KAFKA_ADMIN_USERNAME:-}" || -z "${KAFKA_ADMIN_PASSWORD:-}" ]]; then
  echo "KAFKA_ADMIN_USERNAME and KAFKA_ADMIN_PASSWORD must be set (python3 main.py secrets; docs/compose.md)" >&2
  exit 1
fi
mechanism="${KAFKA_ADMIN_SASL_MECHANISM:-PLAIN}"
case "$mechanism" in
  PLAIN) module=org.apache.kafka.common.security.plain.PlainLoginModule ;;
  SCRAM-SHA-512) module=org.apache.kafka.common.security.scram.ScramLoginModule ;;
  *) echo "KAFKA_ADMIN_SASL_MECHANISM=${mechanism}: choose PLAIN or SCRAM-SHA-512" >&2; exit 1 ;;
esac

config="$(mktemp --suffix=.properties)"
trap 'rm -f "$config"' EXIT
printf '%s\n' "security.protocol=SASL_PLAINTEXT" "sasl.mechanism=${mechanism}" \
  "sasl.jaas.config=${module} required username=\"${KAFKA_ADMIN_USERNAME}\" password=\"${KAFKA_ADMIN_PASSWORD}\";" \
  > "$config"
KAFKA_COMMAND_CONFIG="$config" "$@"
