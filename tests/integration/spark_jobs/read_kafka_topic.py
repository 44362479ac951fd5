"""A tiny batch job for the platform test: read one Kafka topic through Spark's Kafka connector and print
each record's key and value as `RECORD key=value` lines.

    spark-submit --master spark://127.0.0.1:7077 read_kafka_topic.py BOOTSTRAP TOPIC
"""

import sys

from pyspark.sql import SparkSession


def main(bootstrap: str, topic: str) -> None:
    spark = SparkSession.builder.appName("platform-test-read-kafka").getOrCreate()
    rows = (
        spark.read.format("kafka")
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
