from pyspark.sql import SparkSession

from churn_features.featurize import build_labels
from churn_features.ingest import read_raw
from churn_features.split import previous_assignment, reference_split
from churn_features.validation import flag_rows, typed_rows


def test_reference_split_is_disjoint_complete_stratified_and_reproducible(
    spark: SparkSession,
) -> None:
    labels = build_labels(typed_rows(flag_rows(read_raw(spark, "vendored")))).cache()
    training, reference = reference_split(labels, fraction=0.2, seed=42)
    train_ids = {r.customer_id for r in training.collect()}
    ref_rows = reference.collect()
    ref_ids = {r.customer_id for r in ref_rows}
    assert not train_ids & ref_ids
    assert len(train_ids) + len(ref_ids) == 7043
    # stratified: the reference churn rate is the whole set's (26.5%)
    assert abs(len(ref_ids) - 0.2 * 7043) <= 2
    assert abs(sum(r.churn for r in ref_rows) / len(ref_rows) - 1869 / 7043) < 0.002
    _, again = reference_split(labels.repartition(5), fraction=0.2, seed=42)
    assert {r.customer_id for r in again.collect()} == ref_ids
    _, other_seed = reference_split(labels, fraction=0.2, seed=7)
    assert {r.customer_id for r in other_seed.collect()} != ref_ids


def test_a_customer_never_changes_side_when_others_come_or_go(spark: SparkSession) -> None:
    labels = build_labels(typed_rows(flag_rows(read_raw(spark, "vendored")))).cache()
    training, reference = reference_split(labels, fraction=0.2, seed=42)
    before = {r.customer_id for r in reference.collect()}
    previous = previous_assignment(training, reference)
    # a later refresh: a third of the customers left, and a thousand new ones arrived
    later = labels.where("customer_id > '4'").unionByName(
        spark.createDataFrame(
            [(f"NEW-{i}", i % 2) for i in range(1000)], "customer_id string, churn int"
        )
    )
    later_training, later_reference = reference_split(later, 0.2, 42, previous=previous)
    stayed = {r.customer_id for r in labels.where("customer_id > '4'").collect()}
    later_ref = {r.customer_id for r in later_reference.collect()}
    assert later_ref & stayed == before & stayed, "reference customers stay reference"
    assert not {r.customer_id for r in later_training.collect()} & before
    new_in_reference = {c for c in later_ref if c.startswith("NEW-")}
    assert abs(len(new_in_reference) - 200) <= 2, "new customers are split at the fraction"
