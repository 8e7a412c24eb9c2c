from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from churn_local_spark import SQL_SETTINGS, local_spark


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = local_spark(
        "churn-local-spark-tests",
        warehouse_dir=tmp_path_factory.mktemp("warehouse"),
        conf={"spark.sql.shuffle.partitions": "3"},
    )
    yield session
    session.stop()


def test_the_session_is_local_on_loopback_with_the_workarounds(spark: SparkSession) -> None:
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master == "local[2]"
    assert conf.get("spark.driver.host") == "127.0.0.1"
    assert conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert conf.get("spark.pyspark.python") == sys.executable
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    for key, value in SQL_SETTINGS.items():
        assert spark.conf.get(key) == value
    # ``conf`` wins over the defaults
    assert spark.conf.get("spark.sql.shuffle.partitions") == "3"


def test_delta_tables_work_with_time_travel(spark: SparkSession, tmp_path: Path) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS t")
    spark.range(3).write.format("delta").saveAsTable("t.numbers")
    spark.range(5).write.format("delta").mode("overwrite").saveAsTable("t.numbers")
    assert spark.table("t.numbers").count() == 5
    assert spark.sql("SELECT * FROM t.numbers VERSION AS OF 0").count() == 3


def test_python_workers_run_this_interpreter(spark: SparkSession) -> None:
    def executable(_: object) -> str:
        import sys as worker_sys

        return worker_sys.executable

    assert set(spark.sparkContext.parallelize([1, 2], 2).map(executable).collect()) == {
        sys.executable
    }
