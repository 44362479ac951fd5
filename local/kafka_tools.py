"""The command-line tools of local mode, logged in with the generated credentials: Kafka's (under the names
Confluent's images use: `kafka-topics`, ...) and `cqlsh`.

`up` writes small launchers into the virtualenv's `bin/`, so after `source .venv/bin/activate` the same
commands work here as inside the containers, `kafka/create_topics.sh` included. With security on, each Kafka
tool gets the admin's client properties (`--command-config`, unless given one) and `cqlsh` the read-only role's
credentials file (`CQLSH_ROLE=admin` for the admin; `-u`/`--credentials` of your own win). Both files are
owner-only under `.local/conf/`.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from config.security import java_kafka_auth
from config.settings import Settings
from local.configs import private_file
from local.java import JavaRuntime
from local.paths import LocalPaths
from local.resolve import Resolved

# Tool -> (main class, the option that names a client properties file).
TOOLS = {
    "kafka-topics": ("org.apache.kafka.tools.TopicCommand", "--command-config"),
    "kafka-configs": ("kafka.admin.ConfigCommand", "--command-config"),
    "kafka-consumer-groups": ("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--command-config"),
    "kafka-console-consumer": ("org.apache.kafka.tools.consumer.ConsoleConsumer", "--consumer.config"),
    "kafka-get-offsets": ("org.apache.kafka.tools.GetOffsetShell", "--command-config"),
    "kafka-acls": ("org.apache.kafka.tools.AclCommand", "--command-config"),
}
CQLSH_ROLES = ("reader", "admin")


def bin_dir() -> Path:
    return Path(sys.prefix) / "bin"


def admin_properties_file(paths: LocalPaths) -> Path:
    return paths.conf / "kafka-admin-client.properties"


def cqlsh_credentials_file(paths: LocalPaths, role: str) -> Path:
    return paths.conf / f"cqlsh-{role}.credentials"


def launcher(java: JavaRuntime, paths: LocalPaths, resolved: Resolved, main_class: str, config: str | None) -> str:
    """`config`: the option and file the tool logs in with, added when the caller names none."""
    classpath = resolved.classpath("kafka")
    log_config = paths.conf / "kafka-tools-log4j2.properties"
    run = (
        f"{shlex.quote(str(java.java))} -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "
        f"-Dlog4j2.configurationFile={shlex.quote(str(log_config))} "
        f'-cp {shlex.quote(classpath)} {main_class} "$@"'
    )
    head = (
        "#!/bin/sh\n"
        "# Written by `python main.py up` (local/kafka_tools.py): a Kafka CLI tool on local mode's Kafka classpath.\n"
    )
    if config is None:
        return f"{head}exec {run}\n"
    option, path = config.split(" ", 1)
    return (
        f"{head}# Logged in as the pipeline's Kafka admin ({option} {path}) unless told otherwise.\n"
        f'case " $* " in *" {option}"*) exec {run} ;; esac\n'
        f"exec {run} {option} {shlex.quote(path)}\n"
    )


def cqlsh_launcher(paths: LocalPaths, secured: bool) -> str:
    """The real cqlsh (cqlshlib, from requirements), with the read-only role's credentials by default."""
    start = "import sys; from cqlshlib.__main__ import main; sys.argv[0] = 'cqlsh'; sys.exit(main())"
    run = f'{shlex.quote(sys.executable)} -c "{start}"'
    head = "#!/bin/sh\n# Written by `python main.py up` (local/kafka_tools.py): cqlsh, logged in as a pipeline role.\n"
    if not secured:
        return f'{head}exec {run} "$@"\n'
    credentials = shlex.quote(str(paths.conf / "cqlsh-"))
    return (
        f"{head}# The read-only role by default; CQLSH_ROLE=admin for the admin. Your own -u/--credentials win.\n"
        f'case " $* " in *" -u "*|*" --username"*|*" --credentials"*) exec {run} "$@" ;; esac\n'
        'role="${CQLSH_ROLE:-reader}"\n'
        f'case "$role" in {"|".join(CQLSH_ROLES)}) ;; *) echo "cqlsh: CQLSH_ROLE must be one of '
        f'{", ".join(CQLSH_ROLES)}" >&2; exit 2 ;; esac\n'
        f'exec {run} --credentials {credentials}"$role".credentials "$@"\n'
    )


TOOLS_LOG4J2 = """\
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
"""


def write_client_files(settings: Settings, paths: LocalPaths) -> None:
    """The admin's Kafka client properties and each cqlsh role's credentials file (owner-only)."""
    security = settings.security
    if not security.enabled:
        return
    properties = "".join(f"{key}={value}\n" for key, value in java_kafka_auth(security, "admin").items())
    private_file(admin_properties_file(paths), properties)
    for role in CQLSH_ROLES:
        credential = security.cassandra(role)
        text = f"[plain_text_auth]\nusername = {credential.username}\npassword = {credential.password}\n"
        private_file(cqlsh_credentials_file(paths, role), text)


def write_launchers(settings: Settings, java: JavaRuntime, paths: LocalPaths, resolved: Resolved) -> list[Path]:
    (paths.conf / "kafka-tools-log4j2.properties").write_text(TOOLS_LOG4J2)
    write_client_files(settings, paths)
    secured = settings.security.enabled
    written = []
    for name, (main_class, option) in TOOLS.items():
        config = f"{option} {admin_properties_file(paths)}" if secured else None
        target = bin_dir() / name
        target.write_text(launcher(java, paths, resolved, main_class, config))
        target.chmod(0o755)
        written.append(target)
    target = bin_dir() / "cqlsh"
    target.write_text(cqlsh_launcher(paths, secured))
    target.chmod(0o755)
    written.append(target)
    return written
