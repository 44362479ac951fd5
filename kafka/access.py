"""Kafka's users and what each may do (config/security.py names them), applied with the admin's login.

`ensure_users` sets every client user's SCRAM-SHA-512 credential to the password the settings hold (an upsert:
the first `up` creates them, a rotated password is applied the same way). `grant_pipeline` gives the producer
WRITE and the job READ on the settings' topics (a namespace's prefixed topics included) and the job its
consumer groups; `grant_registry` gives the registry its storage topics. Nothing else is allowed: the broker
runs with `allow.everyone.if.no.acl.found=false`.
"""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from config.settings import Settings
from kafka.contract import streams

TIMEOUT_S = 30
SCRAM_ITERATIONS = 8192
CLIENT_USERS = ("producer", "job", "registry")  # the admin's own is set when the storage is formatted
# Spark's Kafka source names its consumer groups `spark-kafka-source-<query id>-...` (option groupIdPrefix).
SPARK_GROUP_PREFIX = "spark-kafka-source-"
# Apicurio's kafkasql storage: topics kafkasql-journal and kafkasql-snapshots, and registry-events (its change
# events); its consumers take a new group id `apicurio-<uuid>` at every start (so each replays the journal
# from the beginning), hence the group prefix.
REGISTRY_TOPIC_PREFIX = "kafkasql-"
REGISTRY_EVENTS_TOPIC = "registry-events"
REGISTRY_GROUP_PREFIX = "apicurio-"
# Compose's Confluent Schema Registry: its store topic, and the group its instances elect a leader in (its
# store reader's group is named after it too: `schema-registry-<host>-<port>`).
CONFLUENT_REGISTRY_TOPIC = "_schemas"
CONFLUENT_REGISTRY_GROUP_PREFIX = "schema-registry"


class KafkaAccessError(RuntimeError):
    """Kafka refused to create a user or an ACL; the message says which (never a password)."""


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient({**settings.kafka_client("admin"), "log_level": 0})


def _wait(futures: dict, what: str) -> None:
    for key, future in futures.items():
        try:
            future.result(timeout=TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0]
            reason = error.str() if hasattr(error, "str") else str(error)
            raise KafkaAccessError(f"Kafka refused {what} {key}: {reason}") from None


def ensure_users(settings: Settings, with_admin: bool = False) -> list[str]:
    """Upsert the client users' credentials (and the admin's: only while the brokers run without security,
    which is how data made before security gets its admin); returns their names."""
    upserts = []
    for role in (*CLIENT_USERS, *(("admin",) if with_admin else ())):
        credential = settings.security.kafka(role)
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
        upserts.append(UserScramCredentialUpsertion(credential.username, info, credential.password.encode()))
    admin = admin_client(settings)
    _wait(admin.alter_user_scram_credentials(upserts), "the credential of user")
    return [u.user for u in upserts]


def _allow(resource: ResourceType, name: str, pattern: ResourcePatternType, user: str, operation: AclOperation):
    return AclBinding(resource, name, pattern, f"User:{user}", "*", operation, AclPermissionType.ALLOW)


def topic_acls(settings: Settings, topics: list[str]) -> list[AclBinding]:
    """The producer writes these topics; the job reads them, in Spark's consumer groups."""
    producer = settings.security.usernames[("kafka", "producer")]
    job = settings.security.usernames[("kafka", "job")]
    bindings = []
    for topic in topics:
        for user, operation in ((producer, AclOperation.WRITE), (job, AclOperation.READ)):
            for op in (operation, AclOperation.DESCRIBE):
                bindings.append(_allow(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, user, op))
    bindings.append(
        _allow(ResourceType.GROUP, SPARK_GROUP_PREFIX, ResourcePatternType.PREFIXED, job, AclOperation.READ)
    )
    return bindings


def pipeline_acls(settings: Settings) -> list[AclBinding]:
    """The settings' three topics (a namespace's are prefixed)."""
    return topic_acls(settings, [stream.topic for stream in streams(settings.topic_prefix)])


def registry_acls(settings: Settings) -> list[AclBinding]:
    registry = settings.security.usernames[("kafka", "registry")]
    return [
        _allow(ResourceType.TOPIC, REGISTRY_TOPIC_PREFIX, ResourcePatternType.PREFIXED, registry, AclOperation.ALL),
        _allow(ResourceType.TOPIC, REGISTRY_EVENTS_TOPIC, ResourcePatternType.LITERAL, registry, AclOperation.ALL),
        _allow(ResourceType.GROUP, REGISTRY_GROUP_PREFIX, ResourcePatternType.PREFIXED, registry, AclOperation.READ),
    ]


def confluent_registry_acls(settings: Settings) -> list[AclBinding]:
    registry = settings.security.usernames[("kafka", "registry")]
    group = (ResourceType.GROUP, CONFLUENT_REGISTRY_GROUP_PREFIX, ResourcePatternType.PREFIXED, registry)
    return [
        _allow(ResourceType.TOPIC, CONFLUENT_REGISTRY_TOPIC, ResourcePatternType.LITERAL, registry, AclOperation.ALL),
        _allow(*group, AclOperation.READ),
        _allow(*group, AclOperation.DESCRIBE),
    ]


def grant(settings: Settings, bindings: list[AclBinding]) -> int:
    """Create the bindings (creating an existing one changes nothing); returns how many."""
    if not settings.security.enabled or not bindings:
        return 0
    admin = admin_client(settings)
    _wait(admin.create_acls(bindings), "the ACL")
    return len(bindings)


def grant_pipeline(settings: Settings) -> int:
    return grant(settings, pipeline_acls(settings))


def grant_registry(settings: Settings) -> int:
    return grant(settings, registry_acls(settings))


def main() -> int:
    """`python -m kafka.access`, Compose's kafka-access-init: with the admin's login (the broker's static
    PLAIN user there), create the SCRAM users of the producer, the job and the registry, and every ACL:
    the pipeline's topics and the Confluent registry's store."""
    import sys

    from config.security import CredentialMissing
    from config.settings import load_settings
    from kafka.login import metadata_problem

    settings = load_settings()
    if not settings.security.enabled:
        print("kafka: security is off (PIPELINE_SECURITY=off): no users or ACLs to create")
        return 0
    try:
        problem, _ = metadata_problem(settings.kafka_client("admin"), "admin", TIMEOUT_S)
        if problem:
            raise KafkaAccessError(problem)
        users = ensure_users(settings)
        count = grant_pipeline(settings) + grant(settings, confluent_registry_acls(settings))
    except (KafkaAccessError, CredentialMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"kafka: users {', '.join(users)} (SCRAM-SHA-512); {count} ACLs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
