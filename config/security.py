"""Who each component is to Kafka and Cassandra, and the client settings that say so. Pure: no I/O.

Kafka users (SASL/SCRAM-SHA-512): `admin` (setup, tools, operator commands; a super user), `producer`
(writes the three topics), `job` (reads them), `registry` (Apicurio's storage topics). Cassandra roles:
`admin` (a superuser that replaces the default `cassandra`), `job` (SELECT/MODIFY/ALTER on the pipeline's
keyspace, no DROP), `reader` (SELECT; what `cqlsh` logs in as).

Each credential is read from `<ENGINE>_<ROLE>_USERNAME` / `<ENGINE>_<ROLE>_PASSWORD` (KAFKA_PRODUCER_PASSWORD,
CASSANDRA_READER_USERNAME, ...): usernames default to the names below; passwords come from the environment or
from the secrets file local mode generates (`.local/secrets.env`, see local/secrets.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

SECURITY_ENV = "PIPELINE_SECURITY"
SECRETS_FILE_NAME = "secrets.env"
SCRAM_MECHANISM = "SCRAM-SHA-512"
PLAIN_MECHANISM = "PLAIN"
TARGET_ENV = "PIPELINE_TARGET"  # which deployment: local mode or the Compose stack (config/settings.py)
# The admin's Kafka login. Local mode writes its SCRAM credential when it formats the storage; the Compose
# broker's image cannot, so there the admin is a static SASL/PLAIN user of the broker's own config (the
# identity that creates the SCRAM users of everyone else).
ADMIN_MECHANISM_ENV = "KAFKA_ADMIN_SASL_MECHANISM"
ADMIN_MECHANISMS = {"local": SCRAM_MECHANISM, "compose": PLAIN_MECHANISM}
# Whether clients log in to the schema registry (HTTP basic auth, as the Kafka user of their role): Compose's
# Confluent registry asks for it; local mode's Apicurio authenticates only through OpenID Connect, so none.
REGISTRY_AUTH_ENV = "SCHEMA_REGISTRY_AUTH"
REGISTRY_AUTH_DEFAULTS = {"local": "none", "compose": "basic"}

KAFKA_ROLES = ("admin", "producer", "job", "registry")
CASSANDRA_ROLES = ("admin", "job", "reader")
DEFAULT_USERNAMES = {
    ("kafka", "admin"): "pipeline-admin",
    ("kafka", "producer"): "pipeline-producer",
    ("kafka", "job"): "pipeline-job",
    ("kafka", "registry"): "pipeline-registry",
    ("cassandra", "admin"): "pipeline_admin",
    ("cassandra", "job"): "pipeline_job",
    ("cassandra", "reader"): "pipeline_reader",
}
# Secrets that only the engines' own configs use (no client logs in with them).
KAFKA_CONTROLLER_PASSWORD = "KAFKA_CONTROLLER_PASSWORD"


class CredentialMissing(ValueError):
    """A component needs a password that is not set; the message names the variable."""


def variable(engine: str, role: str, part: str) -> str:
    return f"{engine.upper()}_{role.upper()}_{part}"


def password_variables() -> list[str]:
    """Every password the pipeline's engines and clients use, as the secrets file names them."""
    roles = [("kafka", r) for r in KAFKA_ROLES] + [("cassandra", r) for r in CASSANDRA_ROLES]
    return [variable(engine, role, "PASSWORD") for engine, role in roles] + [KAFKA_CONTROLLER_PASSWORD]


@dataclass(frozen=True)
class Credential:
    username: str
    password: str = field(repr=False)  # never in a repr, a log line or an exception message
    password_variable: str = ""

    def __str__(self) -> str:
        return self.username


@dataclass(frozen=True)
class Security:
    """Whether clients authenticate, and as whom. `enabled` is False only under `PIPELINE_SECURITY=off`."""

    enabled: bool
    usernames: dict[tuple[str, str], str]
    passwords: dict[str, str] = field(repr=False)
    admin_mechanism: str = SCRAM_MECHANISM
    registry_auth: bool = False

    def kafka_mechanism(self, role: str) -> str:
        return self.admin_mechanism if role == "admin" else SCRAM_MECHANISM

    def credential(self, engine: str, role: str) -> Credential:
        name = variable(engine, role, "PASSWORD")
        password = self.passwords.get(name)
        if not password:
            raise CredentialMissing(
                f"{name} is not set: `python3 main.py up` generates it into .local/{SECRETS_FILE_NAME} "
                "(or set it in the environment)"
            )
        return Credential(self.usernames[(engine, role)], password, name)

    def kafka(self, role: str) -> Credential:
        return self.credential("kafka", role)

    def cassandra(self, role: str) -> Credential:
        return self.credential("cassandra", role)

    @property
    def controller_password(self) -> str:
        password = self.passwords.get(KAFKA_CONTROLLER_PASSWORD)
        if not password:
            raise CredentialMissing(f"{KAFKA_CONTROLLER_PASSWORD} is not set: `python3 main.py up` generates it")
        return password


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(name, "").strip() or default
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: choose one of {', '.join(allowed)}")
    return value


def load_security() -> Security:
    """From the environment (settings.load_settings has loaded `.env` and the secrets file into it)."""
    enabled = os.environ.get(SECURITY_ENV, "on").strip().lower() not in ("off", "0", "false", "no")
    target = os.environ.get(TARGET_ENV, "").strip() or "local"
    target = target if target in ADMIN_MECHANISMS else "local"  # settings reports a bad target
    admin_mechanism = _choice(ADMIN_MECHANISM_ENV, ADMIN_MECHANISMS[target], (SCRAM_MECHANISM, PLAIN_MECHANISM))
    registry_auth = _choice(REGISTRY_AUTH_ENV, REGISTRY_AUTH_DEFAULTS[target], ("none", "basic"))
    usernames = {
        key: os.environ.get(variable(*key, "USERNAME"), "").strip() or default
        for key, default in DEFAULT_USERNAMES.items()
    }
    passwords = {name: os.environ[name] for name in password_variables() if os.environ.get(name)}
    return Security(
        enabled=enabled,
        usernames=usernames,
        passwords=passwords,
        admin_mechanism=admin_mechanism,
        registry_auth=enabled and registry_auth == "basic",
    )


LOGIN_MODULES = {
    SCRAM_MECHANISM: "org.apache.kafka.common.security.scram.ScramLoginModule",
    PLAIN_MECHANISM: "org.apache.kafka.common.security.plain.PlainLoginModule",
}


def kafka_jaas(credential: Credential, mechanism: str = SCRAM_MECHANISM) -> str:
    """The JAAS line a Java Kafka client (the registry, Spark, the CLI tools) logs in with."""
    return f'{LOGIN_MODULES[mechanism]} required username="{credential.username}" password="{credential.password}";'


def librdkafka_auth(security: Security, role: str) -> dict[str, str]:
    """The confluent-kafka (librdkafka) settings of one Kafka user; none when security is off."""
    if not security.enabled:
        return {}
    credential = security.kafka(role)
    return {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": security.kafka_mechanism(role),
        "sasl.username": credential.username,
        "sasl.password": credential.password,
    }


def java_kafka_auth(security: Security, role: str) -> dict[str, str]:
    """The same for Java clients (property names of the Kafka Java client)."""
    if not security.enabled:
        return {}
    mechanism = security.kafka_mechanism(role)
    return {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": kafka_jaas(security.kafka(role), mechanism),
    }


def registry_auth(security: Security, role: str) -> dict[str, str]:
    """The registry client's (confluent-kafka SchemaRegistryClient) login: the role's Kafka user and password,
    when the registry asks for one (SCHEMA_REGISTRY_AUTH=basic)."""
    if not security.registry_auth:
        return {}
    credential = security.kafka(role)
    return {"basic.auth.user.info": f"{credential.username}:{credential.password}"}


def registry_http_auth(security: Security, role: str) -> tuple[str, str] | None:
    """The same for a plain HTTP client (requests' `auth`)."""
    if not security.registry_auth:
        return None
    credential = security.kafka(role)
    return credential.username, credential.password
