from pathlib import Path

import pytest
from conftest import raw_row, write_csv
from pyspark.sql import SparkSession

from churn_features.contract import RAW_COLUMN_NAMES
from churn_features.errors import TooManyBadRowsError
from churn_features.ingest import read_raw
from churn_features.validation import (
    check_bad_fraction,
    flag_rows,
    quarantined_rows,
    summarize,
    typed_rows,
)


def reasons_by_id(spark: SparkSession, tmp_path: Path, rows: list[dict[str, str]]) -> dict:
    flagged = flag_rows(read_raw(spark, write_csv(tmp_path / "v.csv", rows)))
    # Spark reads an empty field as null: key such rows by ""
    return {r["customerID"] or "": list(r["_reasons"]) for r in flagged.collect()}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"gender": " "}, "missing_value:gender"),
        ({"customerID": ""}, "missing_value:customerID"),
        ({"MonthlyCharges": ""}, "missing_value:MonthlyCharges"),
        ({"tenure": "twelve"}, "wrong_type:tenure"),
        ({"MonthlyCharges": "8O.5"}, "wrong_type:MonthlyCharges"),
        ({"tenure": "-1"}, "out_of_range:tenure"),
        ({"SeniorCitizen": "2"}, "out_of_range:SeniorCitizen"),
        ({"MonthlyCharges": "NaN"}, "out_of_range:MonthlyCharges"),
        ({"Contract": "Three year"}, "unknown_category:Contract"),
        ({"PaymentMethod": "Bitcoin"}, "unknown_category:PaymentMethod"),
        ({"Churn": "Maybe"}, "bad_label:Churn"),
        ({"Churn": ""}, "bad_label:Churn"),
        # blank TotalCharges is only legitimate for a brand-new customer
        ({"TotalCharges": " ", "tenure": "5"}, "missing_value:TotalCharges"),
    ],
)
def test_each_reason_is_recorded(
    spark: SparkSession, tmp_path: Path, overrides: dict[str, str], reason: str
) -> None:
    bad = raw_row(**{"customerID": "BAD-1", **overrides})
    reasons = reasons_by_id(spark, tmp_path, [raw_row(), bad])
    assert reasons["0001-AAAAA"] == []
    assert reasons[bad["customerID"]] == [reason]


def test_conflicting_duplicates_are_all_held_back_and_exact_copies_keep_one(
    spark: SparkSession, tmp_path: Path
) -> None:
    rows = [
        raw_row(customerID="DUP-1", tenure="3"),
        raw_row(customerID="DUP-1", tenure="4"),
        raw_row(customerID="COPY-1"),
        raw_row(customerID="COPY-1"),
    ]
    flagged = flag_rows(read_raw(spark, write_csv(tmp_path / "d.csv", rows)))
    outcome = sorted((r["customerID"], tuple(r["_reasons"])) for r in flagged.collect())
    assert outcome == [
        ("COPY-1", ()),
        ("COPY-1", ("duplicate_row:customerID",)),
        ("DUP-1", ("duplicate_customer_id:customerID",)),
        ("DUP-1", ("duplicate_customer_id:customerID",)),
    ]


def test_malformed_line_is_quarantined_with_its_raw_text(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", [raw_row()])
    with path.open("a") as handle:
        handle.write("only,three,fields\n")
    quarantine = quarantined_rows(flag_rows(read_raw(spark, path))).collect()
    assert len(quarantine) == 1
    assert quarantine[0]["reason"] == "malformed_row:_corrupt_record"
    assert quarantine[0]["raw_line"] == "only,three,fields"


def test_new_customers_blank_total_charges_are_imputed_not_lost(spark: SparkSession) -> None:
    flagged = flag_rows(read_raw(spark, "vendored"))
    report = summarize(flagged)
    assert report.rows_read == 7043
    assert report.rows_quarantined == 0
    assert report.total_charges_imputed == 11
    typed = typed_rows(flagged)
    new = typed.where("tenure = 0").collect()
    assert len(new) == 11
    assert {r["total_charges"] for r in new} == {0.0}


def test_typed_rows_have_snake_case_columns_and_a_01_label(
    spark: SparkSession, tmp_path: Path
) -> None:
    rows = [raw_row(), raw_row(customerID="0002-B", Churn="No")]
    typed = typed_rows(flag_rows(read_raw(spark, write_csv(tmp_path / "t.csv", rows))))
    assert dict(typed.dtypes)["tenure"] == "int"
    assert dict(typed.dtypes)["monthly_charges"] == "double"
    assert sorted((r["customer_id"], r["churn"]) for r in typed.collect()) == [
        ("0001-AAAAA", 1),
        ("0002-B", 0),
    ]


def test_report_counts_reasons_and_the_fraction_check_refuses_bad_input(
    spark: SparkSession, tmp_path: Path
) -> None:
    rows = [raw_row(customerID=f"OK-{i}") for i in range(8)] + [
        raw_row(customerID="B-1", Churn="?"),
        raw_row(customerID="B-2", tenure="x", Contract="Never"),
    ]
    report = summarize(flag_rows(read_raw(spark, write_csv(tmp_path / "r.csv", rows))))
    assert (report.rows_read, report.rows_quarantined) == (10, 2)
    assert report.by_reason == {"bad_label": 1, "wrong_type": 1, "unknown_category": 1}
    check_bad_fraction(report, max_bad_fraction=0.2)
    with pytest.raises(TooManyBadRowsError, match=r"2 of 10 rows \(20.0%\)"):
        check_bad_fraction(report, max_bad_fraction=0.1)


@pytest.mark.parametrize(
    ("extra_header_column", "fields"),
    [
        (False, len(RAW_COLUMN_NAMES) - 1),  # the last field (Churn) missing
        (False, len(RAW_COLUMN_NAMES) - 2),
        (False, len(RAW_COLUMN_NAMES) + 1),
        # a header column the contract does not read: Spark would prune it and not count fields
        (True, len(RAW_COLUMN_NAMES)),
        (True, len(RAW_COLUMN_NAMES) + 2),
    ],
)
def test_a_row_with_another_number_of_fields_than_the_header_is_malformed_only(
    spark: SparkSession, tmp_path: Path, extra_header_column: bool, fields: int
) -> None:
    columns = (*RAW_COLUMN_NAMES, "Extra") if extra_header_column else RAW_COLUMN_NAMES
    path = write_csv(tmp_path / "f.csv", [raw_row(Extra="x")], columns=columns)
    values = [*raw_row(customerID="ODD-1").values(), "x", "y", "z"]
    line = ",".join(values[:fields])
    with path.open("a") as handle:
        handle.write(line + "\n")
    flagged = flag_rows(read_raw(spark, path))
    report = summarize(flagged)
    assert report.by_reason == {"malformed_row": 1}, "one reason, not a missing last value"
    quarantine = quarantined_rows(flagged).collect()
    assert [(r["reason"], r["raw_line"]) for r in quarantine] == [
        ("malformed_row:_corrupt_record", line)
    ]
    assert typed_rows(flagged).count() == 1
