"""The operator tools' expected failures: bad arguments, nothing to act on, something missing."""


class OperatorError(RuntimeError):
    """One line saying what is wrong and what to do; `main.py` prints it as `error: ...` and exits 1."""
