"""Hold out a reference set that training never sees (the deployment job compares models on it).

Exactly stratified and deterministic: within each label class, customers are ranked by a seeded
hash of their id and the lowest ``fraction`` go to the reference set. The assignment depends only
on the id, the seed and the class sizes, not on partitioning or row order, so a rerun reproduces it.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from churn_features.contract import KEY, LABEL


def reference_split(
    labels: DataFrame, fraction: float, seed: int, key: str = KEY, label: str = LABEL
) -> tuple[DataFrame, DataFrame]:
    """Split labelled customers into (training-eligible, reference), stratified by ``label``."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"reference fraction must be in (0, 1), got {fraction}")
    rank = F.percent_rank().over(
        Window.partitionBy(label).orderBy(F.xxhash64(F.lit(seed), F.col(key)), F.col(key))
    )
    ranked = labels.withColumn("_rank", rank)
    reference = ranked.where(F.col("_rank") < fraction).drop("_rank")
    training = ranked.where(F.col("_rank") >= fraction).drop("_rank")
    return training, reference
