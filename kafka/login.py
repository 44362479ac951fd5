"""Why a Kafka client cannot get metadata, in one sentence: its login was refused (naming the setting to fix),
it sent no login to a secured broker, or nothing answers. Never the password itself."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from config.security import variable


def metadata_problem(client: dict, role: str, timeout_s: float) -> tuple[str | None, dict]:
    """(None, topics) when the client gets metadata within the bound; else (the reason, {})."""
    errors: list[KafkaError] = []
    admin = AdminClient({**client, "log_level": 0, "error_cb": errors.append})
    try:
        return None, admin.list_topics(timeout=timeout_s).topics
    except KafkaException:
        admin.poll(0.5)  # delivers the client's errors (the refused login among them) to error_cb
    where = client.get("bootstrap.servers", "?")
    if any(e.code() == KafkaError._AUTHENTICATION for e in errors):
        user = client.get("sasl.username", "?")
        return (
            f"Kafka at {where} refused the login of user {user}: check {variable('kafka', role, 'PASSWORD')} "
            "(.local/secrets.env or the environment)"
        ), {}
    if "sasl.username" not in client:
        return (
            f"no answer from Kafka at {where} within {timeout_s:.0f} s to a client without a login: is it running, "
            "and with security off (`up --insecure`)? Local mode is secured by default (`python3 main.py status`)"
        ), {}
    return f"cannot reach Kafka at {where} within {timeout_s:.0f} s: is it running? (`python3 main.py status`)", {}
