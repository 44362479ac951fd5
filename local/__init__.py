"""Local mode: the pipeline's real engines (Kafka, Apicurio Registry, Cassandra, Spark) as plain
processes on 127.0.0.1, fetched from package registries and run under supervisord."""
