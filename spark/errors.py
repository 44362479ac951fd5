"""One-line causes of JVM failures seen from the job's Python side (py4j and streaming wrappers peeled off)."""

from __future__ import annotations

import re

_NAMED_CAUSES = ("Cassandra", "registry", "Kafka")
_WRAPPERS = ("Py4J", "StreamingQueryException", "Traceback", "An error occurred while calling", "Python Proxy")
_EXCEPTION_LINE = re.compile(r"([\w.$]+(?:Exception|Error)): (.+)")
_BARE_EXCEPTION = re.compile(r"^: ([\w.$]+(?:Exception|Error))\s*$")


def _innermost(line: str) -> re.Match | None:
    """Spark writes a task's failure after its own ("Job aborted due to stage failure: ... (executor 1):
    java.io.IOException: ..."): the last exception named on a line is the cause."""
    match = _EXCEPTION_LINE.search(line)
    while match and (deeper := _EXCEPTION_LINE.search(line, match.start(2))):
        match = deeper
    return match


def _with_latest(message: str, following: list[str]) -> str:
    """The connector's write failures read "Failed to write statements to ks.table. The / latest exception
    was / <the reason>" over three lines: keep the reason (say, a consistency level not achievable)."""
    if message.endswith(" The") and following and following[0].strip() == "latest exception was":
        reason = next((line.strip() for line in following[1:] if line.strip()), "")
        return f"{message[: -len(' The')]}: {reason}" if reason else message
    return message


def first_line(exc: BaseException) -> str:
    """The root cause of a failure in one line, past the py4j and streaming wrappers, e.g.
    `IOException: Failed to open native connection to Cassandra at {127.0.0.1:9042}`."""
    text = str(getattr(exc, "desc", None) or exc)
    lines = text.splitlines()
    causes = [
        f"{m.group(1).rsplit('.', 1)[-1]}: {_with_latest(m.group(2).strip(), lines[i + 1 :])}"[:300]
        for i, line in enumerate(lines)
        if (m := _innermost(line)) and not any(wrapper in line for wrapper in _WRAPPERS)
    ]
    # A cause that names the service at fault beats the first low-level one (a refused socket, say).
    named = [c for c in causes if any(w in c for w in _NAMED_CAUSES)]
    if named or causes:
        return (named or causes)[0]
    # A Java exception without a message (py4j prints it as ": java.util.concurrent.TimeoutException").
    bare = next((m.group(1).rsplit(".", 1)[-1] for line in lines if (m := _BARE_EXCEPTION.match(line))), None)
    if bare:
        return bare
    return next((line.strip() for line in lines if line.strip()), repr(exc))[:300]
