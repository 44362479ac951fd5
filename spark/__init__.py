"""The streaming job: Kafka (Confluent Avro) -> from_avro -> foreachBatch -> Cassandra."""
