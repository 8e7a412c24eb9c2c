"""Record a champion/challenger decision in an MLflow run (the deployment job's run)."""

from __future__ import annotations

import time

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from churn_registry_ops import tags as t
from churn_registry_ops.comparison import Decision
from churn_registry_ops.state import RegistryState


def log_decision(
    client: MlflowClient, run_id: str, decision: Decision, compared: RegistryState
) -> None:
    """Both metric sets, the rule, the decision and the compared versions, in one run.

    Metrics: champion_<m>, challenger_<m>, improvement, CI bounds, promote (1/0).
    Params: rule.*, champion_version, challenger_version. Tags: churn_decision, reasons.
    Artifact: decision.json (the full `Decision`, including every reason).
    """
    now = int(time.time() * 1000)
    params = dict(decision.rule.to_mlflow_params())
    params["champion_version"] = str(compared.champion)
    params["challenger_version"] = str(compared.challenger)
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, now, 0) for k, v in decision.to_mlflow_metrics().items()],
        params=[Param(k, v) for k, v in params.items()],
        tags=[
            RunTag(t.DECISION, "promote" if decision.promote else "reject"),
            RunTag(t.DECISION_REASON, "; ".join(decision.reasons)[:5000]),
        ],
    )
    client.log_dict(
        run_id,
        {"compared": compared.model_dump(), **decision.model_dump(mode="json")},
        "decision.json",
    )
