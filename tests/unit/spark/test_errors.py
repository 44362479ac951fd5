"""The one-line causes the job logs and reports for failed batches."""

from __future__ import annotations

from spark.errors import first_line


def test_the_service_at_fault_is_named_past_the_wrappers() -> None:
    text = (
        "An error occurred while calling o3276.save.\n"
        ": java.io.IOException: Failed to open native connection to Cassandra at {127.0.0.1:9042}\n"
        "Caused by: java.net.ConnectException: Connection refused\n"
    )
    assert first_line(RuntimeError(text)) == (
        "IOException: Failed to open native connection to Cassandra at {127.0.0.1:9042}"
    )


def test_an_exception_without_a_message_is_named() -> None:
    text = "An error occurred while calling o81.get.\n: java.util.concurrent.TimeoutException\n\tat java.base/..."
    assert first_line(RuntimeError(text)) == "TimeoutException"
