import pytest
from pyspark.sql import SparkSession

from churn_features.errors import InvalidTableNameError
from churn_features.identifiers import checked_table_name, quote_identifier
from churn_features.tables import ensure_database, read_version, replace_table


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("t", "`t`"),
        ("churn.churn_features", "`churn`.`churn_features`"),
        ("main.churn.churn_features", "`main`.`churn`.`churn_features`"),
        ("we`ird.x", "`we``ird`.`x`"),
        ("a-b.c d", "`a-b`.`c d`"),
    ],
)
def test_each_part_is_backticked_and_backticks_are_doubled(name: str, quoted: str) -> None:
    assert quote_identifier(name) == quoted


@pytest.mark.parametrize("name", ["t", "churn.features", "main.churn.churn_features", "_x.y1"])
def test_plain_table_names_pass(name: str) -> None:
    assert checked_table_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "x; DROP TABLE churn.churn_features",
        "churn.features` --",
        "a.b.c.d",
        "",
        "1table",
        "churn..features",
        "`churn`.`features`",
        "churn.features WHERE 1=1",
    ],
)
def test_anything_else_is_refused_with_the_fix(name: str) -> None:
    with pytest.raises(InvalidTableNameError, match="is not a table name") as refused:
        checked_table_name(name, "The feature spec")
    assert str(refused.value).startswith(f"The feature spec names the table {name!r}")
    assert "fix:" in str(refused.value)


def test_sql_statements_quote_schema_names(spark: SparkSession) -> None:
    """A schema name that needs quoting is created as named: unquoted, an all-digit name is a
    number to Spark's parser (and Spark 4.1's catalog refuses names with `-` even quoted)."""
    try:
        ensure_database(spark, "2024.small")
        # SHOW DATABASES prints a name that needs quoting quoted
        assert "`2024`" in {row[0] for row in spark.sql("SHOW DATABASES").collect()}
    finally:
        spark.sql("DROP DATABASE IF EXISTS `2024` CASCADE")


def test_reads_at_a_version_quote_the_table_name(spark: SparkSession) -> None:
    name = "t_versions.small"
    first = replace_table(spark.createDataFrame([(1,)], "x int"), name, "a test table")
    replace_table(spark.createDataFrame([(2,)], "x int"), name, "a test table")
    try:
        assert [r["x"] for r in read_version(spark, name, first).collect()] == [1]
    finally:
        spark.sql("DROP DATABASE IF EXISTS t_versions CASCADE")
