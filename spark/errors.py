"""One-line causes of JVM failures seen from the job's Python side (py4j and streaming wrappers peeled off)."""

from __future__ import annotations

import re

_NAMED_CAUSES = ("Cassandra", "registry", "Kafka")
_WRAPPERS = ("Py4J", "StreamingQueryException", "Traceback", "An error occurred while calling", "Python Proxy")
_EXCEPTION_LINE = re.compile(r"([\w.$]+(?:Exception|Error)): (.+)")
_BARE_EXCEPTION = re.compile(r"^: ([\w.$]+(?:Exception|Error))\s*$")


def first_line(exc: BaseException) -> str:
    """The root cause of a failure in one line, past the py4j and streaming wrappers, e.g.
    `IOException: Failed to open native connection to Cassandra at {127.0.0.1:9042}`."""
    text = str(getattr(exc, "desc", None) or exc)
    lines = text.splitlines()
    causes = [
        f"{m.group(1).rsplit('.', 1)[-1]}: {m.group(2).strip()}"[:300]
        for line in lines
        if (m := _EXCEPTION_LINE.search(line)) and not any(wrapper in line for wrapper in _WRAPPERS)
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
