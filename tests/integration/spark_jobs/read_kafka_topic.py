"""A tiny batch job for the platform test: read one Kafka topic through Spark's Kafka connector and print
each record's key and value as `RECORD key=value` lines.

    spark-submit --master spark://127.0.0.1:7077 read_kafka_topic.py BOOTSTRAP TOPIC
"""

import sys
from pathlib import Path

from pyspark.sql import SparkSession

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project, for its settings

from config.settings import load_settings  # noqa: E402


def main(bootstrap: str, topic: str) -> None:
    # The test's own topic: read as the admin user when security is on.
    login = {f"kafka.{k}": v for k, v in load_settings().kafka_java_client("admin").items()}
    spark = SparkSession.builder.appName("platform-test-read-kafka").getOrCreate()
    rows = (
        spark.read.format("kafka")
        .options(**login)
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
        .selectExpr("CAST(key AS STRING) AS key", "CAST(value AS STRING) AS value")
        .collect()
    )
    for row in rows:
        print(f"RECORD {row.key}={row.value}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
