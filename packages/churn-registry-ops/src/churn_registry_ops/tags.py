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
METRIC_PREFIX = "churn_metric_"  # churn_metric_<name> = float, shown by `versions()`

# registered model tag (stages mode: the legacy registry has no spare alias for it)
PREVIOUS_CHAMPION = "churn_previous_champion"

PASSED = "passed"
FAILED = "failed"

MAX_TAG_VALUE = 1000


def tag_value(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_TAG_VALUE else text[: MAX_TAG_VALUE - 1] + "…"
