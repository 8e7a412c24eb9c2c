import gzip

from churn_features.dataset import (
    VENDORED_ROWS,
    VENDORED_SHA256,
    vendored_csv_path,
    vendored_sha256,
)


def test_vendored_file_matches_its_published_checksum() -> None:
    assert vendored_sha256() == VENDORED_SHA256


def test_vendored_file_has_the_documented_rows() -> None:
    with gzip.open(vendored_csv_path(), "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert lines[0].startswith("customerID,gender,SeniorCitizen")
    assert len(lines) - 1 == VENDORED_ROWS
