"""Tag keys and aliases the registry facade writes; other members read them through these names.

Keys use underscores, not dots: Unity Catalog rejects `. , - = / :` in tag keys, and caps tag
values at 1000 characters (`MAX_TAG_VALUE`).
"""

from __future__ import annotations

CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"
PREVIOUS_CHAMPION_ALIAS = "previous_champion"

# model version tags
VALIDATION = "churn_validation"  # "passed" | "failed"
VALIDATION_REASON = "churn_validation_reason"
VALIDATED_AT = "churn_validated_at"
ARCHIVED = "churn_archived"  # "true" while archived
ARCHIVED_REASON = "churn_archived_reason"
ARCHIVED_AT = "churn_archived_at"
PROMOTED_AT = "churn_promoted_at"
DECISION = "churn_decision"  # "promoted" | "rejected"
DECISION_REASON = "churn_decision_reason"
DECISION_RUN_ID = "churn_decision_run_id"
VALIDATION_FAILED_CHECKS = "churn_validation_failed_checks"  # reason codes, comma-separated
METRIC_PREFIX = "churn_metric_"  # churn_metric_<name> = float, shown by `versions()`

# registered model tags
PREVIOUS_CHAMPION = "churn_previous_champion"  # stages mode: the legacy registry has no alias
PENDING_CHANGE = "churn_pending_change"  # JSON intent of a change in progress (see registry.py)

# tags of the registry lock's registered models (see lock.py)
LOCK_OWNER = "churn_lock_owner"
LOCK_LEASE = "churn_lock_lease_seconds"  # lease length; expiry is on the server's timestamps
LOCK_OPERATION = "churn_lock_operation"
LOCK_FOR = "churn_lock_for"
LOCK_RELEASED = "churn_lock_released"  # "true" once its holder released it

PASSED = "passed"
FAILED = "failed"

MAX_TAG_VALUE = 1000


def tag_value(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_TAG_VALUE else text[: MAX_TAG_VALUE - 1] + "…"


def metric_tag(name: str) -> str:
    """Tag key of a key metric on a model version (`churn_metric_test_roc_auc`)."""
    return f"{METRIC_PREFIX}{name}"


def metric_tags(metrics: dict[str, float]) -> dict[str, str]:
    """Key metrics as model-version tags: one format for the writer (model-train) and the reader
    (`ModelRegistry.versions`)."""
    return {metric_tag(name): f"{float(value):.6f}" for name, value in metrics.items()}


def metrics_from_tags(tags: dict[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in tags.items():
        if key.startswith(METRIC_PREFIX):
            try:
                out[key[len(METRIC_PREFIX) :]] = float(value)
            except ValueError:
                continue  # a hand-written tag that is not a number is not a metric
    return out
