import json

from kafka.contract import AUTH
from ops.doctor import Check, canonical, job_jars, missing_columns


def test_a_line_is_a_mark_a_name_what_was_found_and_for_a_cross_what_to_do():
    assert Check("topics", True, "3 partitions", "unused").line() == "✓ topics: 3 partitions"
    assert Check("topics", False, "missing", "run setup").line() == "✗ topics: missing -> run setup"


def test_schemas_compare_by_what_decoding_depends_on():
    documented = json.dumps({**AUTH.schema, "doc": "a note"}, indent=2)
    assert canonical(documented) == canonical(AUTH.schema_str)
    renamed = json.dumps({**AUTH.schema, "fields": AUTH.schema["fields"][:-1]})
    assert canonical(renamed) != canonical(AUTH.schema_str)


def test_columns_missing_or_of_another_type_are_named_with_the_type_wanted():
    fields = [{"name": "a", "type": "string"}, {"name": "b", "type": ["null", "long"]}, {"name": "c", "type": "int"}]
    assert missing_columns({"a": "text", "b": "int"}, fields) == ["b bigint", "c int"]


def test_the_connector_jars_are_read_from_the_driver_classpath():
    environment = {
        "classpathEntries": [
            ["spark://localhost:1/jars/spark-cassandra-connector_2.12-3.5.1.jar", "Added By User"],
            ["spark://localhost:1/jars/spark-cassandra-connector-driver_2.12-3.5.1.jar", "Added By User"],
            ["spark://localhost:1/jars/spark-sql-kafka-0-10_2.12-3.5.7.jar", "Added By User"],
            ["/opt/spark/jars/spark-core_2.12-3.5.7.jar", "System Classpath"],
        ]
    }
    assert job_jars(environment) == {"spark-cassandra-connector": "3.5.1", "spark-sql-kafka-0-10": "3.5.7"}
