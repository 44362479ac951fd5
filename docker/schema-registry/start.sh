#!/usr/bin/env bash
# Compose's schema registry: HTTP basic authentication whose users are the pipeline's Kafka users (the same
# names and passwords: the admin, the producer and the job), written at each start to owner-only files under a
# fresh temporary folder, then the image's own start. The community edition authenticates but cannot tell
# readers from writers: every user it knows may also register schemas (docs/security.md).
set -euo pipefail
umask 077

folder="$(mktemp -d)"
for role in ADMIN PRODUCER JOB; do
  user="KAFKA_${role}_USERNAME" password="KAFKA_${role}_PASSWORD"
  if [[ -z "${!user:-}" || -z "${!password:-}" ]]; then
    echo "schema-registry: ${user} and ${password} must be set (docs/compose.md)" >&2
    exit 1
  fi
  printf '%s: %s,%s\n' "${!user}" "${!password}" "${role,,}"
done > "$folder/users.properties"

cat > "$folder/jaas.conf" <<JAAS
SchemaRegistry {
  org.eclipse.jetty.security.jaas.spi.PropertyFileLoginModule required
  file="$folder/users.properties";
};
JAAS

export SCHEMA_REGISTRY_OPTS="-Djava.security.auth.login.config=$folder/jaas.conf ${SCHEMA_REGISTRY_OPTS:-}"
exec "${REGISTRY_RUN:-/etc/confluent/docker/run}"
