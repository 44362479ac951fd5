#!/usr/bin/env bash
# Create the pipeline's three topics, idempotently, with partitions, replication factor, retention and
# min.insync.replicas from the environment (.env). Safe to run again: existing topics keep their partitions
# and get the configured retention and min ISR.
#
#   Compose:     docker compose run --rm topics-init   (logged in as the admin: docker/init/with-kafka-admin.sh)
#   Local mode:  source .venv/bin/activate && bash kafka/create_topics.sh   (or: python3 main.py setup)
#
# The brokers are secured: the tools log in with the client config KAFKA_COMMAND_CONFIG names, if set (local
# mode's launchers in .venv/bin add the admin's own when it is not).
set -euo pipefail

BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:-localhost:9092}"
PARTITIONS="${KAFKA_TOPIC_PARTITIONS:-3}"
REPLICATION_FACTOR="${KAFKA_TOPIC_REPLICATION_FACTOR:-1}"
MIN_INSYNC_REPLICAS="${KAFKA_TOPIC_MIN_INSYNC_REPLICAS:-1}"
RETENTION_MS="${KAFKA_TOPIC_RETENTION_MS:-604800000}"
# The topic names of kafka/contract.py (a unit test keeps the two lists equal).
TOPICS=(user_session_logs user_auth_logs user_activity_logs)

find_tool() {
  for candidate in "$1" "$1.sh" "${KAFKA_HOME:-/opt/kafka}/bin/$1.sh"; do
    if command -v "$candidate" >/dev/null 2>&1; then echo "$candidate"; return 0; fi
  done
  echo "error: $1 not found: run this inside the kafka container, or in local mode after 'source .venv/bin/activate'" >&2
  return 1
}
KAFKA_TOPICS="$(find_tool kafka-topics)"
KAFKA_CONFIGS="$(find_tool kafka-configs)"
LOGIN=()
if [[ -n "${KAFKA_COMMAND_CONFIG:-}" ]]; then LOGIN=(--command-config "$KAFKA_COMMAND_CONFIG"); fi

configs="retention.ms=${RETENTION_MS},min.insync.replicas=${MIN_INSYNC_REPLICAS},cleanup.policy=delete"
for topic in "${TOPICS[@]}"; do
  created="$("$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" "${LOGIN[@]}" --create --if-not-exists --topic "$topic" \
    --partitions "$PARTITIONS" --replication-factor "$REPLICATION_FACTOR" \
    --config "retention.ms=${RETENTION_MS}" --config "min.insync.replicas=${MIN_INSYNC_REPLICAS}" \
    --config cleanup.policy=delete)"
  if [[ "$created" != *"Created topic"* ]]; then
    # The topic was there already: apply the settings, which may have changed since it was created.
    "$KAFKA_CONFIGS" --bootstrap-server "$BOOTSTRAP" "${LOGIN[@]}" --alter --entity-type topics --entity-name "$topic" \
      --add-config "$configs" >/dev/null
  fi
  echo "topic ${topic}: partitions=${PARTITIONS} replication-factor=${REPLICATION_FACTOR} ${configs}"
done
