#!/bin/sh
# add-connector-jars.sh SOURCE_DIR SPARK_JARS_DIR
# Copy the resolved connector jars into Spark's jars directory, skipping every artifact Spark already ships
# (a second Scala library or Hadoop client on its classpath breaks Spark). Artifacts are compared by name
# without version: `kafka-clients-3.4.1.jar` -> `kafka-clients`, `spark-sql-kafka-0-10_2.12-3.5.7.jar` ->
# `spark-sql-kafka-0-10_2.12` (the version is the first `-N.N...` part), as local/resolve.py does.
set -eu
source_dir="$1"
spark_jars="$2"

artifact() {
  basename "$1" | sed -E 's/-[0-9]+(\.[0-9]+)+.*\.jar$//'
}

shipped="$(for jar in "$spark_jars"/*.jar; do artifact "$jar"; done)"
added=0
for jar in "$source_dir"/*.jar; do
  if printf '%s\n' "$shipped" | grep -qxF "$(artifact "$jar")"; then
    echo "skip $(basename "$jar") (Spark ships $(artifact "$jar"))"
  else
    cp "$jar" "$spark_jars/"
    echo "add  $(basename "$jar")"
    added=$((added + 1))
  fi
done
if [ "$added" -eq 0 ]; then
  echo "error: no connector jar added from $source_dir" >&2
  exit 1
fi
