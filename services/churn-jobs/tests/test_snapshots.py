"""The one place jobs resolve which table versions to read (the Spark reads are covered by
test_refresh_crash.py; a name check needs no Spark)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from churn_features.errors import InvalidTableNameError
from churn_features.refresh_log import CompletedRefresh
from churn_jobs.snapshots import TableSnapshot

REFRESH = CompletedRefresh(
    refresh_id="r1",
    completed_at=datetime(2026, 11, 27, tzinfo=UTC),
    source="vendored",
    versions={"churn.churn_features": 3, "churn.churn_labels": 5},
)


class NoSpark:
    """Any use of Spark fails the test: a refused name must be refused before any read."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Spark was used ({name}) for a name that must be refused")


def test_versions_are_those_of_the_last_completed_refresh() -> None:
    snapshot = TableSnapshot(NoSpark(), REFRESH)  # type: ignore[arg-type]
    assert snapshot.version("churn.churn_labels") == 5
    assert snapshot.version("churn.churn_predictions") is None
    assert snapshot.versions == {"churn.churn_features": 3, "churn.churn_labels": 5}


@pytest.mark.parametrize(
    "name", ["x; DROP TABLE churn.churn_features", "churn.churn_features` --", "a.b.c.d"]
)
def test_a_table_name_from_a_forged_feature_spec_is_refused_before_any_read(name: str) -> None:
    snapshot = TableSnapshot(NoSpark(), REFRESH)  # type: ignore[arg-type]
    with pytest.raises(InvalidTableNameError, match="is not a table name"):
        snapshot.read(name)
