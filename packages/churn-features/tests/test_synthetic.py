from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession

from churn_features.contract import RAW_COLUMN_NAMES
from churn_features.ingest import read_raw
from churn_features.synthetic import generate_raw_customers, write_raw_csv
from churn_features.validation import flag_rows, summarize


def test_generator_is_seeded_and_follows_the_real_distribution() -> None:
    a = generate_raw_customers(20_000, seed=1)
    b = generate_raw_customers(20_000, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(generate_raw_customers(20_000, seed=2))
    assert list(a.columns) == list(RAW_COLUMN_NAMES)
    assert a["customerID"].is_unique
    assert abs((a["Churn"] == "Yes").mean() - 1869 / 7043) < 0.01
    assert abs((a["Contract"] == "Month-to-month").mean() - 3875 / 7043) < 0.01


def test_generated_file_passes_validation(spark: SparkSession, tmp_path: Path) -> None:
    path = write_raw_csv(tmp_path / "syn.csv", 5_000, seed=3, chunk_rows=2_000)
    report = summarize(flag_rows(read_raw(spark, path)))
    assert report.rows_read == 5_000
    assert report.rows_quarantined == 0
