"""``score_batch``: keys in, churn probabilities out, on Spark, with the model's own pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType

from churn_features.store.base import FeatureStore
from churn_scoring.errors import KeysColumnError, ModelFeatureSpecError
from churn_scoring.keys import read_keys
from churn_scoring.lookup import LookedUp, look_up_features, missing_features_reason
from churn_scoring.model_bundle import ModelBundle, fetch_model
from churn_scoring.model_ref import resolve_model
from churn_scoring.worker import score_partition

PROBABILITY = "churn_probability"
PREDICTION = "churn_prediction"
REASON = "missing_features_reason"
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
OUTPUT_COLUMNS = (PROBABILITY, PREDICTION, REASON, MODEL_NAME, MODEL_VERSION)


def score_batch(
    spark: SparkSession,
    model_uri: str,
    keys_df: DataFrame,
    feature_store: FeatureStore,
    *,
    key: str = "customer_id",
    passthrough: Sequence[str] | None = None,
    hash_keys: bool = True,
) -> DataFrame:
    """Score every row of ``keys_df`` with the churn model at ``model_uri``.

    Features are looked up by key with the model's feature spec (columns already in ``keys_df``
    win). Returns ``key``, the ``passthrough`` columns (default: every column of ``keys_df`` that
    is not a model feature), ``churn_probability`` (double), ``churn_prediction`` (int, at the
    model's threshold), ``missing_features_reason`` (null when scored; rows that cannot be scored
    are kept with null probability/prediction), ``model_name`` and ``model_version`` (the
    concrete version an alias or stage pointed at). Lazy: nothing runs until an action.
    ``hash_keys``: see ``lookup.look_up_features``.
    """
    if key not in keys_df.columns:
        raise KeysColumnError(
            f"The keys to score have no {key!r} column (columns: {keys_df.columns}).",
            f"select or rename the customer key column to {key!r}",
        )
    bundle = fetch_model(resolve_model(model_uri))
    return _score_keys(spark, bundle, keys_df, feature_store, key, passthrough, hash_keys)


def score_table(
    spark: SparkSession,
    model_uri: str,
    table_name: str,
    feature_store: FeatureStore,
    *,
    columns: Sequence[str] = ("customer_id",),
    key: str = "customer_id",
) -> DataFrame:
    """Score every row of ``table_name``, keeping ``columns`` (the key first): the same rows and
    values as ``score_batch(spark, model_uri, spark.table(table_name).select(*columns), ...)``.

    When ``table_name`` is the model's own feature table (the batch job's default: score every
    customer with features), its features are read in the same scan as the keys: no join, no
    shuffle. Any other table is read as keys and its features are looked up.
    """
    keys = read_keys(spark, table_name, key=key)
    table_columns = set(keys.columns)
    absent = [c for c in columns if c not in table_columns]
    if absent:
        raise KeysColumnError(
            f"The keys table {table_name} has no column(s) {absent}.",
            "keep only columns of the keys table (the inference job's `columns` parameter)",
        )
    keys = keys.select(*dict.fromkeys([key, *columns]))
    bundle = fetch_model(resolve_model(model_uri))
    lookups = bundle.feature_spec.lookups
    own_table = (
        bool(lookups)
        and all(lk.table_name == table_name and list(lk.lookup_key) == [key] for lk in lookups)
        and set(bundle.feature_names) <= table_columns
    )
    if not own_table:
        return _score_keys(spark, bundle, keys, feature_store, key, None, True)
    kept = _passthrough(keys, key, None, bundle)
    features = [n for n in bundle.feature_names if n not in kept]
    looked_up = LookedUp(
        frame=feature_store.read_table(table_name), added={table_name: tuple(features)}
    )
    return _score_rows(spark, bundle, looked_up, keys, kept, key)


def _score_keys(
    spark: SparkSession,
    bundle: ModelBundle,
    keys_df: DataFrame,
    feature_store: FeatureStore,
    key: str,
    passthrough: Sequence[str] | None,
    hash_keys: bool,
) -> DataFrame:
    spec = bundle.feature_spec
    missing_keys = sorted({k for lk in spec.lookups for k in lk.lookup_key} - set(keys_df.columns))
    if missing_keys:
        raise KeysColumnError(
            f"The keys to score lack the lookup key column(s) {missing_keys} that model "
            f"{bundle.ref.uri} looks its features up by.",
            "include those columns in the keys table",
        )
    unavailable = sorted(set(bundle.feature_names) - set(spec.feature_names) - set(keys_df.columns))
    if unavailable:
        raise ModelFeatureSpecError(
            f"Model {bundle.ref.uri} consumes {unavailable}, which neither its feature spec looks "
            "up nor the keys provide.",
            "re-log the model with a feature spec covering config.features.columns",
        )
    kept = _passthrough(keys_df, key, passthrough, bundle)
    looked_up = look_up_features(keys_df, spec, feature_store, hash_keys=hash_keys)
    return _score_rows(spark, bundle, looked_up, keys_df, kept, key)


def _score_rows(
    spark: SparkSession,
    bundle: ModelBundle,
    looked_up: LookedUp,
    keys_df: DataFrame,
    kept: list[str],
    key: str,
) -> DataFrame:
    """Keys + features in ``looked_up.frame`` -> the scored columns (mapInArrow)."""
    features = [n for n in bundle.feature_names if n not in kept]
    rows = looked_up.frame.select(
        *kept, *features, missing_features_reason(key, looked_up.added).alias(REASON)
    )
    by_name = {f.name: f for f in keys_df.schema.fields}
    schema = StructType(
        [
            *(by_name[name] for name in kept),
            StructField(PROBABILITY, DoubleType()),
            StructField(PREDICTION, IntegerType()),
            StructField(REASON, StringType()),
        ]
    )
    scorer = partial(
        score_partition,
        key=bundle.key,
        model_bytes=spark.sparkContext.broadcast(bundle.model),
        feature_names=bundle.feature_names,
        threshold=bundle.threshold,
        passthrough=tuple(kept),
        reason_column=REASON,
        output_names=tuple(schema.fieldNames()),
    )
    return (
        rows.mapInArrow(scorer, schema)
        .withColumn(MODEL_NAME, F.lit(bundle.ref.name).cast(StringType()))
        .withColumn(MODEL_VERSION, F.lit(bundle.ref.version).cast(StringType()))
    )


def _passthrough(
    keys_df: DataFrame, key: str, passthrough: Sequence[str] | None, bundle: ModelBundle
) -> list[str]:
    if passthrough is None:
        chosen = [c for c in keys_df.columns if c not in bundle.feature_names]
    else:
        absent = [c for c in passthrough if c not in keys_df.columns]
        if absent:
            raise KeysColumnError(
                f"Passthrough column(s) {absent} are not in the keys to score "
                f"(columns: {keys_df.columns}).",
                "pass only columns of the keys table",
            )
        chosen = list(passthrough)
    clashing = sorted(set(chosen) & set(OUTPUT_COLUMNS))
    if clashing:
        raise KeysColumnError(
            f"The keys to score already have column(s) {clashing}, which scoring produces.",
            "drop or rename them before scoring",
        )
    return [key, *(c for c in dict.fromkeys(chosen) if c != key)]
