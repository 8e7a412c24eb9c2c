import math
from pathlib import Path

from conftest import raw_row, write_csv
from pyspark.sql import SparkSession

from churn_features.contract import FEATURE_COLUMNS, KEY
from churn_features.featurize import build_features, build_labels
from churn_features.ingest import read_raw
from churn_features.validation import flag_rows, typed_rows


def featurize(spark: SparkSession, tmp_path: Path, rows: list[dict[str, str]]) -> dict:
    typed = typed_rows(flag_rows(read_raw(spark, write_csv(tmp_path / "f.csv", rows))))
    return {r[KEY]: r.asDict() for r in build_features(typed).collect()}


def test_feature_table_columns_are_the_contract(spark: SparkSession) -> None:
    typed = typed_rows(flag_rows(read_raw(spark, "vendored")))
    assert build_features(typed).columns == [KEY, *FEATURE_COLUMNS]
    assert build_labels(typed).columns == [KEY, "churn"]


def test_engineered_features(spark: SparkSession, tmp_path: Path) -> None:
    features = featurize(
        spark,
        tmp_path,
        [
            # phone, fiber internet, online backup, streaming TV: 4 services
            raw_row(customerID="A", tenure="12", TotalCharges="966.00"),
            raw_row(
                customerID="NEW",
                tenure="0",
                TotalCharges=" ",
                PhoneService="No",
                MultipleLines="No phone service",
                InternetService="No",
                OnlineSecurity="No internet service",
                OnlineBackup="No internet service",
                DeviceProtection="No internet service",
                TechSupport="No internet service",
                StreamingTV="No internet service",
                StreamingMovies="No internet service",
            ),
            raw_row(customerID="OLD", tenure="60", MultipleLines="Yes", TechSupport="Yes"),
        ],
    )
    a = features["A"]
    assert a["num_services"] == 4
    assert a["avg_monthly_charge"] == 966.0 / 12
    assert math.isclose(a["log_tenure"], math.log(13))
    assert a["tenure_bucket"] == "1-2y"
    new = features["NEW"]
    assert (new["num_services"], new["total_charges"], new["tenure_bucket"]) == (0, 0.0, "0-1y")
    assert new["avg_monthly_charge"] == 80.5, "tenure 0: the monthly charge is the average"
    old = features["OLD"]
    assert (old["num_services"], old["tenure_bucket"]) == (6, "4y+")
