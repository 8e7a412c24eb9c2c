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


def test_monthly_cohorts_drift_from_month_3_and_labels_arrive_late() -> None:
    from datetime import date

    from churn_features.synthetic import (
        COHORT_MONTH,
        LABEL_AVAILABLE_ON,
        DriftScenario,
        generate_monthly_cohorts,
    )

    steady = generate_monthly_cohorts(4, 3000, seed=5)
    drifted = generate_monthly_cohorts(4, 3000, seed=5, drift=DriftScenario(start_month=3))
    assert steady[COHORT_MONTH].tolist()[::3000] == [date(2026, m, 1) for m in (1, 2, 3, 4)]
    assert (steady[LABEL_AVAILABLE_ON] > steady[COHORT_MONTH]).all()
    assert steady["customerID"].is_unique
    assert list(steady.columns[:21]) == list(RAW_COLUMN_NAMES)
    # months 1-2 are identical with or without drift; the drift starts in month 3
    early = drifted[COHORT_MONTH] < date(2026, 3, 1)
    pd.testing.assert_frame_equal(drifted[early], steady[early])

    def by_month(frame: pd.DataFrame) -> pd.DataFrame:
        fiber = frame["InternetService"] == "Fiber optic"
        return pd.DataFrame(
            {
                "m2m": (frame["Contract"] == "Month-to-month").groupby(frame[COHORT_MONTH]).mean(),
                "churn": (frame["Churn"] == "Yes").groupby(frame[COHORT_MONTH]).mean(),
                "fiber_price": pd.to_numeric(frame["MonthlyCharges"])[fiber]
                .groupby(frame[COHORT_MONTH][fiber])
                .mean(),
            }
        )

    s, d = by_month(steady), by_month(drifted)
    late = [date(2026, 3, 1), date(2026, 4, 1)]
    assert (d.loc[late, "m2m"] > s.loc[late, "m2m"] + 0.1).all()
    assert (d.loc[late, "churn"] > s.loc[late, "churn"] + 0.05).all()
    assert (d.loc[late, "fiber_price"] > s.loc[late, "fiber_price"] * 1.2).all()
    # without drift the months look alike
    assert s["m2m"].max() - s["m2m"].min() < 0.05
