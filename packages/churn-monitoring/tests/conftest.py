"""One local Spark + Delta session for the Spark tests (the kernels' tests need none), from the
one local builder (churn-local-spark)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from churn_local_spark import local_spark

    session = local_spark(
        "churn-monitoring-tests",
        master="local[2]",
        driver_memory="1g",
        shuffle_partitions=2,
        warehouse_dir=tmp_path_factory.mktemp("warehouse"),
    )
    yield session
    session.stop()
