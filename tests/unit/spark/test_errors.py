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


def test_a_connector_write_failure_keeps_its_latest_exception() -> None:
    """What losing two of three Cassandra nodes looks like from the job: the reason is on the third line."""
    error = RuntimeError(
        "An error occurred while calling o412.save.\n"
        ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 74.0 failed 4 times, "
        "most recent failure: Lost task 0.3 in stage 74.0 (TID 234) (127.0.0.1 executor 1): "
        "java.io.IOException: Failed to write statements to user_logs.session_logs. The\n"
        "latest exception was\n"
        "  Not enough replicas available for query at consistency LOCAL_QUORUM (2 required but only 1 alive)\n"
    )
    assert first_line(error) == (
        "IOException: Failed to write statements to user_logs.session_logs.: Not enough replicas available "
        "for query at consistency LOCAL_QUORUM (2 required but only 1 alive)"
    )
