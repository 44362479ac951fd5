"""Kafka's command-line tools for local mode, under the names Confluent's images use (`kafka-topics`, ...).

`up` writes small launchers into the virtualenv's `bin/`, so after `source .venv/bin/activate` the same
commands work here as inside the `kafka` container, `kafka/create_topics.sh` included.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from local.java import JavaRuntime
from local.paths import LocalPaths
from local.resolve import Resolved

TOOLS = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-configs": "kafka.admin.ConfigCommand",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
}


def bin_dir() -> Path:
    return Path(sys.prefix) / "bin"


def launcher(java: JavaRuntime, paths: LocalPaths, resolved: Resolved, main_class: str) -> str:
    classpath = resolved.classpath("kafka")
    log_config = paths.conf / "kafka-tools-log4j2.properties"
    return (
        "#!/bin/sh\n"
        "# Written by `python main.py up` (local/kafka_tools.py): a Kafka CLI tool on local mode's Kafka classpath.\n"
        f"exec {shlex.quote(str(java.java))} -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "
        f"-Dlog4j2.configurationFile={shlex.quote(str(log_config))} "
        f'-cp {shlex.quote(classpath)} {main_class} "$@"\n'
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


def write_launchers(java: JavaRuntime, paths: LocalPaths, resolved: Resolved) -> list[Path]:
    (paths.conf / "kafka-tools-log4j2.properties").write_text(TOOLS_LOG4J2)
    written = []
    for name, main_class in TOOLS.items():
        target = bin_dir() / name
        target.write_text(launcher(java, paths, resolved, main_class))
        target.chmod(0o755)
        written.append(target)
    return written
