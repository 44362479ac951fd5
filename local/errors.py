"""The one exception type local mode raises for expected failures."""


class LocalModeError(RuntimeError):
    """An expected failure: the message says what went wrong and what to do; the CLI prints it and exits 1."""
