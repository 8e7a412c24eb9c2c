"""feature-publish on real parts: local Spark + Delta feature table -> the embedded PostgreSQL."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli, stop_spark
from rich.console import Console

from churn_jobs.errors import UserError
from churn_jobs.online_store import LocalOnlineStore, describe_status
from churn_jobs.request import JobRequest
from churn_jobs.runner import run_job
from churn_jobs.settings import RuntimeSettings

FEATURES = "churn_test.churn_features"


def outside_pytest_tmp() -> Path:
    """A home outside pytest's temp root: pytest resets that root to mode 0700 at every session
    start (also another process's), which locks out the server's own system user as root."""
    return Path(tempfile.mkdtemp(prefix="churn-jobs-test-"))


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    home = outside_pytest_tmp()
    yield home
    LocalOnlineStore(home).stop()
    stop_spark()  # its metastore and warehouse are under home: the next module starts its own
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def refreshed(home: Path, runtime_module: RuntimeSettings) -> RuntimeSettings:
    run_job("feature-table-refresh", JobRequest(runtime=runtime_module), Console(), home)
    return runtime_module


@pytest.fixture(scope="module")
def runtime_module() -> RuntimeSettings:
    return RuntimeSettings(
        environment="test", schema="churn_test", experiment="t", registered_model_name="m"
    )


def publish(runtime: RuntimeSettings, home: Path):  # type: ignore[no-untyped-def]
    return run_job("feature-publish", JobRequest(runtime=runtime), Console(), home)


def test_publish_mirrors_the_delta_version_and_follows_changes(
    refreshed: RuntimeSettings, home: Path
) -> None:
    from churn_features.tables import table_version
    from churn_jobs.local_platform import LocalPlatform

    spark = LocalPlatform(home).spark()
    first = publish(refreshed, home)
    count = spark.table(FEATURES).count()
    assert first.source_version == table_version(spark, FEATURES)
    assert (first.rows_inserted, first.rows_total) == (count, count)

    store = LocalOnlineStore(home).client()
    sample = spark.table(FEATURES).orderBy("customer_id").limit(3).collect()
    ids = [r["customer_id"] for r in sample]
    found = store.lookup(FEATURES, "customer_id", ids, ["tenure", "monthly_charges", "contract"])
    assert found == {
        r["customer_id"]: (r["tenure"], r["monthly_charges"], r["contract"]) for r in sample
    }

    again = publish(refreshed, home)
    assert (again.rows_inserted, again.rows_updated, again.rows_deleted) == (0, 0, 0)

    gone, changed = ids[0], ids[1]
    spark.sql(f"DELETE FROM {FEATURES} WHERE customer_id = '{gone}'")
    spark.sql(f"UPDATE {FEATURES} SET tenure = tenure + 100 WHERE customer_id = '{changed}'")
    third = publish(refreshed, home)
    assert (third.rows_inserted, third.rows_updated, third.rows_deleted) == (0, 1, 1)
    assert third.source_version == table_version(spark, FEATURES) == first.source_version + 2
    found = store.lookup(FEATURES, "customer_id", [gone, changed], ["tenure"])
    assert found == {changed: (sample[1]["tenure"] + 100,)}
    published = store.published_version(FEATURES)
    assert published is not None
    assert published.source_version == third.source_version
    store.close()
    assert f"{FEATURES}: version {third.source_version}" in describe_status(LocalOnlineStore(home))


def test_publish_without_a_feature_table_names_the_fix(home: Path) -> None:
    runtime = RuntimeSettings(
        environment="test", schema="churn_empty", experiment="t", registered_model_name="m"
    )
    with pytest.raises(UserError, match="feature-table-refresh"):
        publish(runtime, home)


def test_cli_store_start_status_stop() -> None:
    tmp_path = outside_pytest_tmp()
    started = run_cli("churn", "store", "start", home=tmp_path)
    assert started.returncode == 0, started.stderr
    assert "online store running" in started.stdout
    status = run_cli("churn", "store", "status", home=tmp_path)
    assert "nothing published yet" in status.stdout
    stopped = run_cli("churn", "store", "stop", home=tmp_path)
    assert "online store stopped" in stopped.stdout
    assert not LocalOnlineStore(tmp_path).status().running
    again = run_cli("churn", "store", "stop", home=tmp_path)
    assert "was not running" in again.stdout
    shutil.rmtree(tmp_path, ignore_errors=True)
