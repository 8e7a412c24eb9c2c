"""Hold out a reference set that training never sees (the deployment job compares models on it).

Exactly stratified and deterministic: within each label class, customers are ranked by a seeded
hash of their id and the lowest ``fraction`` go to the reference set, independent of row order and
partitioning. And sticky: customers already assigned by an earlier refresh (``previous``) keep
their side, and only new customers are ranked, so no refresh can move a reference customer into
the training labels (or a customer a champion was trained on into the reference set) when
customers come and go. To re-split with another seed or fraction, drop the labels and reference
tables first.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from churn_features.contract import KEY, LABEL

IN_REFERENCE = "_in_reference"


def reference_split(
    labels: DataFrame,
    fraction: float,
    seed: int,
    previous: DataFrame | None = None,
    key: str = KEY,
    label: str = LABEL,
) -> tuple[DataFrame, DataFrame]:
    """Split labelled customers into (training-eligible, reference), stratified by ``label``.

    ``previous``: the earlier assignment, rows of (``key``, ``_in_reference`` boolean).
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"reference fraction must be in (0, 1), got {fraction}")
    if previous is not None:
        labels = labels.join(previous.select(key, IN_REFERENCE), on=key, how="left")
    else:
        labels = labels.withColumn(IN_REFERENCE, F.lit(None).cast("boolean"))
    rank = F.percent_rank().over(
        Window.partitionBy(label, F.col(IN_REFERENCE).isNull()).orderBy(
            F.xxhash64(F.lit(seed), F.col(key)), F.col(key)
        )
    )
    side = F.coalesce(F.col(IN_REFERENCE), rank < fraction)
    assigned = labels.withColumn(IN_REFERENCE, side)
    reference = assigned.where(F.col(IN_REFERENCE)).drop(IN_REFERENCE)
    training = assigned.where(~F.col(IN_REFERENCE)).drop(IN_REFERENCE)
    return training, reference


def previous_assignment(training: DataFrame, reference: DataFrame, key: str = KEY) -> DataFrame:
    """The (``key``, ``_in_reference``) rows of an earlier split, for ``reference_split``."""
    return training.select(key, F.lit(False).alias(IN_REFERENCE)).unionByName(
        reference.select(key, F.lit(True).alias(IN_REFERENCE))
    )
