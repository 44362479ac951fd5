"""The pinned engine and connector versions, read from the Versions block of `.env` (their one place)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from dotenv import dotenv_values

from config.settings import PROJECT_ROOT

VERSIONS_FILE = PROJECT_ROOT / ".env"


@dataclass(frozen=True)
class Versions:
    kafka: str
    kafka_scala: str
    cassandra: str
    apicurio_registry: str
    spark: str
    spark_scala: str
    spark_cassandra_connector: str
    log4j: str
    docker_compose: str
    confluent_platform: str  # Compose's images

    def maven_properties(self) -> dict[str, str]:
        """The -D properties the poms under local/maven/ refer to."""
        return {
            "kafka.version": self.kafka,
            "kafka.scala.version": self.kafka_scala,
            "cassandra.version": self.cassandra,
            "spark.version": self.spark,
            "spark.scala.version": self.spark_scala,
            "spark.cassandra.connector.version": self.spark_cassandra_connector,
            "log4j.version": self.log4j,
        }


@cache
def load_versions() -> Versions:
    values = dotenv_values(VERSIONS_FILE)

    def pick(name: str) -> str:
        value = values.get(name)
        if not value:
            raise KeyError(f"{VERSIONS_FILE.name} has no {name}")
        return value

    return Versions(
        kafka=pick("KAFKA_VERSION"),
        kafka_scala=pick("KAFKA_SCALA_VERSION"),
        cassandra=pick("CASSANDRA_VERSION"),
        apicurio_registry=pick("APICURIO_REGISTRY_VERSION"),
        spark=pick("SPARK_VERSION"),
        spark_scala=pick("SPARK_SCALA_VERSION"),
        spark_cassandra_connector=pick("SPARK_CASSANDRA_CONNECTOR_VERSION"),
        log4j=pick("LOG4J_VERSION"),
        docker_compose=pick("DOCKER_COMPOSE_VERSION"),
        confluent_platform=pick("CONFLUENT_PLATFORM_VERSION"),
    )
