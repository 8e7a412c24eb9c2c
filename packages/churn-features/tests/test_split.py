from pyspark.sql import SparkSession

from churn_features.featurize import build_labels
from churn_features.ingest import read_raw
from churn_features.split import reference_split
from churn_features.validation import flag_rows, typed_rows


def test_reference_split_is_stratified_disjoint_complete_and_reproducible(
    spark: SparkSession,
) -> None:
    labels = build_labels(typed_rows(flag_rows(read_raw(spark, "vendored")))).cache()
    training, reference = reference_split(labels, fraction=0.2, seed=42)
    train_ids = {r.customer_id for r in training.collect()}
    ref_rows = reference.collect()
    ref_ids = {r.customer_id for r in ref_rows}
    assert not train_ids & ref_ids
    assert len(train_ids) + len(ref_ids) == 7043
    # stratified: the churn rate of the reference set equals the whole set's (26.5%)
    churners = sum(r.churn for r in ref_rows)
    assert abs(len(ref_ids) - 0.2 * 7043) <= 2
    assert abs(churners / len(ref_rows) - 1869 / 7043) < 0.002
    _, again = reference_split(labels.repartition(5), fraction=0.2, seed=42)
    assert {r.customer_id for r in again.collect()} == ref_ids
    _, other_seed = reference_split(labels, fraction=0.2, seed=7)
    assert {r.customer_id for r in other_seed.collect()} != ref_ids
