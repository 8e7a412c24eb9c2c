"""The seed's whole workflow on the local environment, end to end, with real Spark, Delta and
MLflow: the infra definition of initial-model-train-register run by the local runner, the manual
first promotion, the depth-8 "code change", champion/challenger deployment and batch scoring.

One test per step, in order, sharing one store: a failure names the step that broke, and the
steps after it are skipped (they would only fail for the same reason)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from rich.console import Console

from churn_jobs.context import JobContext
from churn_jobs.request import request_from_files
from churn_jobs.runner import run_job

pytestmark = pytest.mark.slow
CUSTOMERS = 7043


@dataclass
class Workflow:
    """The store every step works on, and which steps completed."""

    home: Path
    infra_dir: Path
    console: Console
    ctx: JobContext
    done: set[str] = field(default_factory=set)
    results: dict[str, Any] = field(default_factory=dict)

    def job(self, name: str, params: Path | dict[str, Any] | None = None) -> Any:
        """The job as `churn run` runs it: its params file, or a file's params with overrides."""
        path = params if isinstance(params, Path) else None
        request = request_from_files(name, "local", path, self.infra_dir)
        if isinstance(params, dict):
            request = request.model_copy(update={"params": {**request.params, **params}})
        return run_job(name, request, console=self.console, home=self.home)

    def require(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.skip(f"an earlier step did not complete: {', '.join(missing)}")

    def table(self, short_name: str) -> Any:
        return self.ctx.spark.table(self.ctx.table(short_name))

    @property
    def registry(self) -> Any:
        from churn_jobs.registry_access import registry

        return registry(self.ctx)


@pytest.fixture(scope="module")
def workflow(churn_home: Path, infra_dir: Path) -> Workflow:
    console = Console(width=120)
    ctx = JobContext(
        runtime=request_from_files("model-train", "local", None, infra_dir).runtime,
        console=console,
        home=churn_home,
    )
    return Workflow(home=churn_home, infra_dir=infra_dir, console=console, ctx=ctx)


def test_1_initial_model_train_register_runs_the_deployed_definition(workflow: Workflow) -> None:
    """The same job definition that deploys to Databricks, run locally from a clean store."""
    from churn_infra.launch import launch

    result = launch(
        "initial-model-train-register",
        "local",
        infra_dir=workflow.infra_dir,
        repo_root=REPO,
        home=workflow.home,
        console=workflow.console,
    )
    assert result.succeeded, result
    workflow.done.add("initial")


def test_2_refresh_keeps_the_reference_customers_out_of_training(workflow: Workflow) -> None:
    workflow.require("initial")
    names = workflow.ctx.runtime.tables
    assert workflow.table(names.features).count() == CUSTOMERS
    labels = {r.customer_id for r in workflow.table(names.labels).collect()}
    reference = {r.customer_id for r in workflow.table(names.reference).collect()}
    assert not labels & reference, "training must never see the reference customers"
    assert len(labels | reference) == CUSTOMERS


def test_3_version_1_carries_lineage_metrics_and_its_feature_spec(workflow: Workflow) -> None:
    from churn_model import load_feature_spec, load_model

    workflow.require("initial")
    ctx, reg = workflow.ctx, workflow.registry
    features_table = ctx.table(ctx.runtime.tables.features)
    assert [(v.version, v.validation, v.role) for v in reg.versions()] == [
        ("1", "passed", "challenger")
    ]
    v1 = reg.version(1)
    assert len(v1.tags["git_commit"]) >= 7
    assert v1.tags["version_churn_model"]
    assert v1.tags[f"delta_version_{features_table.replace('.', '_')}"] == "1"
    assert 0.8 < v1.metrics["test_roc_auc"] < 0.9
    spec = load_feature_spec(v1.uri)
    assert spec.lookups[0].table_name == features_table
    assert spec.lookups[0].lookup_key == ["customer_id"]
    assert sorted(load_model(v1.uri).feature_names) == sorted(spec.feature_names)


def test_4_the_code_change_gives_a_validated_challenger_v2(
    workflow: Workflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    workflow.require("initial")
    reg = workflow.registry
    reg.promote_version(1, expected_champion=None)  # the seed's manual first promotion
    tagged = []  # MLflow's own client, watched (and called through) while model-train runs
    set_tag = MlflowClient.set_model_version_tag

    def watched(self: MlflowClient, *args: Any, **kwargs: Any) -> Any:
        tagged.append(args)
        return set_tag(self, *args, **kwargs)

    with monkeypatch.context() as watch:
        watch.setattr(MlflowClient, "set_model_version_tag", watched)
        workflow.job("model-train", workflow.infra_dir / "params" / "model-train-depth8.yaml")
    assert tagged == [], "v2 is created with its tags, never seen without them"
    assert reg.version(2).tags["training_run_id"]
    workflow.job("model-validation")
    state = reg.state()
    assert (state.champion, state.challenger) == ("1", "2")
    workflow.done.add("challenger")


def test_5_deployment_promotes_v2_on_the_reference_set(workflow: Workflow) -> None:
    """Depth 8 wins on churn_reference: v2 promoted, v1 archived, one decision run logged."""
    workflow.require("challenger")
    decision = workflow.job("model-deployment")
    assert decision.promote, decision
    assert {"roc_auc", "brier"} <= set(decision.champion_metrics)
    reg, ctx = workflow.registry, workflow.ctx
    state = reg.state()
    assert (state.champion, state.challenger, state.previous_champion) == ("2", None, "1")
    assert reg.version(1).role == "archived"
    runs = ctx.mlflow.search_runs(
        [ctx.mlflow.get_experiment_by_name(ctx.runtime.experiment).experiment_id],
        "tags.job = 'model-deployment'",
    )
    assert len(runs) == 1
    logged = runs[0].data.metrics
    assert logged["champion_roc_auc"] == pytest.approx(decision.champion_metrics["roc_auc"])
    assert logged["challenger_roc_auc"] > logged["champion_roc_auc"]
    assert runs[0].data.tags["churn_decision"] == "promote"
    workflow.done.add("deployment")


def test_6_batch_scoring_predicts_every_customer_with_the_champion(workflow: Workflow) -> None:
    workflow.require("deployment")
    summary = workflow.job("model-inference-batch")
    predictions = workflow.table(workflow.ctx.runtime.tables.predictions)
    assert predictions.count() == CUSTOMERS
    assert predictions.select("customer_id").distinct().count() == CUSTOMERS
    versions = {r.model_version for r in predictions.select("model_version").distinct().collect()}
    assert versions == {"2"}
    assert predictions.where("churn_probability IS NULL").count() == 0
    assert summary.rows_without_features == 0
    workflow.done.add("scoring")


def test_7_monitoring_then_the_integration_check_agree(workflow: Workflow) -> None:
    """The integration-test job's last two tasks: model-monitoring (retraining off) writes the
    monitor tables for the champion, and the check requires them."""
    workflow.require("scoring")
    summary = workflow.job("model-monitoring", {"retrain": {"enabled": False}})
    assert summary.model_version == "2"
    assert summary.windows_computed, "today's scoring run is a window"
    assert not summary.fired
    workflow.job("integration-check", {"require_monitoring": True})
