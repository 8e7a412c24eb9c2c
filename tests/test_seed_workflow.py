"""The seed's whole workflow on the local environment, end to end, with real Spark, Delta and
MLflow: the infra definition of initial-model-train-register run by the local runner, the manual
first promotion, the depth-8 "code change", champion/challenger deployment and batch scoring."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO
from rich.console import Console

from churn_jobs.context import JobContext
from churn_jobs.registry_access import registry
from churn_jobs.request import request_from_files
from churn_jobs.runner import run_job

pytestmark = pytest.mark.slow


def test_seed_workflow_end_to_end(churn_home: Path, infra_dir: Path) -> None:
    from churn_infra.launch import launch

    console = Console(width=120)

    def job(name: str, params: Path | None = None) -> object:
        request = request_from_files(name, "local", params, infra_dir)
        return run_job(name, request, console=console, home=churn_home)

    # 1. the same job definition that deploys to Databricks, run locally from a clean store
    result = launch(
        "initial-model-train-register",
        "local",
        infra_dir=infra_dir,
        repo_root=REPO,
        home=churn_home,
        console=console,
    )
    assert result.succeeded, result
    ctx = JobContext(
        runtime=request_from_files("model-train", "local", None, infra_dir).runtime,
        console=console,
        home=churn_home,
    )
    spark, names = ctx.spark, ctx.runtime.tables
    assert spark.table(ctx.table(names.features)).count() == 7043
    labels = {r.customer_id for r in spark.table(ctx.table(names.labels)).collect()}
    reference = {r.customer_id for r in spark.table(ctx.table(names.reference)).collect()}
    assert not labels & reference, "training must never see the reference customers"
    assert len(labels | reference) == 7043
    reg = registry(ctx)
    assert [(v.version, v.validation, v.role) for v in reg.versions()] == [
        ("1", "passed", "challenger")
    ]
    # the version carries its lineage, its metrics and the feature spec scoring will use
    v1 = reg.version(1)
    assert len(v1.tags["git_commit"]) >= 7
    assert v1.tags["version_churn_model"]
    assert v1.tags[f"delta_version_{ctx.table(names.features).replace('.', '_')}"] == "1"
    assert 0.8 < v1.metrics["test_roc_auc"] < 0.9
    from churn_model import load_feature_spec, load_model

    spec = load_feature_spec(v1.uri)
    assert spec.lookups[0].table_name == ctx.table(names.features)
    assert spec.lookups[0].lookup_key == ["customer_id"]
    loaded = load_model(v1.uri)
    assert sorted(loaded.feature_names) == sorted(spec.feature_names)
    reg.promote_version(1, expected_champion=None)  # the seed's manual first promotion

    # 2.-3. the code change (max_depth 8): version 2, validated, challenger
    job("model-train", infra_dir / "params" / "model-train-depth8.yaml")
    job("model-validation")
    assert reg.state().challenger == "2"

    # 4. deployment compares on churn_reference: depth 8 wins there, v2 promoted, v1 archived
    decision = job("model-deployment")
    assert decision.promote, decision  # type: ignore[attr-defined]
    assert {"roc_auc", "brier"} <= set(decision.champion_metrics)  # type: ignore[attr-defined]
    state = reg.state()
    assert (state.champion, state.challenger, state.previous_champion) == ("2", None, "1")
    assert reg.version(1).role == "archived"
    runs = ctx.mlflow.search_runs(
        [ctx.mlflow.get_experiment_by_name(ctx.runtime.experiment).experiment_id],
        "tags.job = 'model-deployment'",
    )
    assert len(runs) == 1
    logged = runs[0].data.metrics
    assert logged["champion_roc_auc"] == pytest.approx(decision.champion_metrics["roc_auc"])  # type: ignore[attr-defined]
    assert logged["challenger_roc_auc"] > logged["champion_roc_auc"]
    assert runs[0].data.tags["churn_decision"] == "promote"

    # 5. batch scoring by the champion: one prediction per customer, all with features
    summary = job("model-inference-batch")
    predictions = spark.table(ctx.table(names.predictions))
    assert predictions.count() == 7043
    assert predictions.select("customer_id").distinct().count() == 7043
    assert {r.model_version for r in predictions.select("model_version").distinct().collect()} == {
        "2"
    }
    assert predictions.where("churn_probability IS NULL").count() == 0
    assert summary.rows_without_features == 0  # type: ignore[attr-defined]

    # the integration-test job's final check agrees
    job("integration-check")
