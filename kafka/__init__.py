"""Producer side: the Avro contract, the log generators and the Kafka producer."""
