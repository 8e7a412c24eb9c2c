"""Feature lookup by key through the FeatureStore port, and why a row cannot be scored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from churn_features.store.base import FeatureStore
from churn_model.feature_spec import FeatureSpec

NO_FEATURES = "no features for key in {table}"
NULL_KEY = "null {key}"


@dataclass(frozen=True)
class LookedUp:
    """The keys joined with their features, and the columns each lookup actually added."""

    frame: DataFrame
    added: dict[str, tuple[str, ...]]  # table name -> looked-up columns (input columns win)


def look_up_features(
    keys: DataFrame, spec: FeatureSpec, store: FeatureStore, *, hash_keys: bool = True
) -> LookedUp:
    """Left join of ``keys`` with every lookup of ``spec``: no key is dropped; columns already
    in ``keys`` win over looked-up ones (as in the Databricks feature store).

    ``hash_keys`` hints a shuffled hash join that builds its hash table from the keys side (the
    narrow one): neither side is sorted, which saves a good part of the lookup's CPU (about a
    third at 1M keys on 2 cores). Turn it off when one shuffle partition's keys would not fit in
    executor memory; Spark then sort-merges.
    """
    lookups = spec.lookups  # churn-model's lookups fit the store's Lookup port as they are
    present = set(keys.columns)
    added: dict[str, tuple[str, ...]] = {}
    for lookup in lookups:
        names = tuple(n for n in lookup.feature_names or () if n not in present)
        added[lookup.table_name] = added.get(lookup.table_name, ()) + names
        present.update(names)
    left = keys.hint("shuffle_hash") if hash_keys else keys
    frame = store.create_training_set(left, lookups, label=None)
    return LookedUp(frame=frame, added=added)


def missing_features_reason(key: str, added: dict[str, tuple[str, ...]]) -> Column:
    """Null when the row can be scored; else why not: a null key, or a key absent from a
    feature table (every column looked up from that table is null after the left join)."""
    reason = F.when(F.col(key).isNull(), F.lit(NULL_KEY.format(key=key)))
    for table, columns in added.items():
        if columns:
            reason = reason.when(_all_null(columns), F.lit(NO_FEATURES.format(table=table)))
    return reason.otherwise(F.lit(None).cast("string"))


def _all_null(columns: Sequence[str]) -> Column:
    return reduce(lambda a, b: a & b, (F.col(c).isNull() for c in columns))
