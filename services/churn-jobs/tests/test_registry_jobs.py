"""model-deployment's first champion (opt-in) and `churn models` / `churn repair` on a real
local MLflow registry (SQLite under a temporary CHURN_HOME). No Spark: neither path needs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import churn_model
from churn_infra.environment import INFRA_DIR_VARIABLE
from churn_jobs.context import JobContext
from churn_jobs.environments import load_runtime_settings
from churn_jobs.jobs import model_deployment
from churn_jobs.registry_access import registry
from churn_jobs.registry_cli import repair, show_models
from churn_registry_ops import CheckResult, ModelRegistry, NoChampion, RegistryState, SanityReport
from churn_registry_ops import tags as t

PASSED = SanityReport(
    model_uri="models:/test", checks=[CheckResult(name="test", passed=True, detail="ok")]
)


@pytest.fixture
def ctx(tmp_path: Path, infra_dir: Path, monkeypatch: pytest.MonkeyPatch) -> JobContext:
    monkeypatch.setenv("CHURN_HOME", str(tmp_path))
    monkeypatch.setenv(INFRA_DIR_VARIABLE, str(infra_dir))
    monkeypatch.chdir(tmp_path)
    return JobContext(
        runtime=load_runtime_settings("local"), console=Console(width=200), home=tmp_path
    )


def _versions(ctx: JobContext, n: int) -> tuple[ModelRegistry, list[str]]:
    import mlflow

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"tenure": rng.integers(0, 72, 200), "monthly_charges": rng.random(200)})
    labels = pd.Series((frame["tenure"] < 20).astype(int))
    config = churn_model.model_config_from_mapping(
        {
            "estimator": {"kind": "logistic_regression"},
            "features": {"numeric": list(frame), "categorical": []},
        }
    )
    result = churn_model.train(frame, labels, config)
    ctx.use_experiment()
    reg = registry(ctx)
    with mlflow.start_run():
        info = churn_model.log_model(result.pipeline, result.config)
    out = []
    for _ in range(n):
        v = str(mlflow.register_model(info.model_uri, reg.model_name).version)
        reg.record_validation(v, PASSED)
        out.append(v)
    return reg, out


def test_deployment_promotes_a_first_champion_only_when_asked(ctx: JobContext) -> None:
    reg, (v1,) = _versions(ctx, 1)
    reg.make_challenger(v1)
    with pytest.raises(NoChampion, match="promote_when_no_champion"):
        model_deployment.run(ctx, model_deployment.Params())
    assert reg.state() == RegistryState(challenger=v1)

    after = model_deployment.run(ctx, model_deployment.Params(promote_when_no_champion=True))
    assert after == RegistryState(champion=v1)
    assert reg.version(v1).decision == "promoted"
    runs = ctx.mlflow.search_runs(
        [ctx.use_experiment()], "tags.job = 'model-deployment'", max_results=5
    )
    assert [r.data.tags["churn_decision_applied"] for r in runs] == ["true"]


def test_models_shows_a_half_applied_promotion_and_repair_completes_it(
    ctx: JobContext, capsys: pytest.CaptureFixture[str]
) -> None:
    reg, (v1, v2) = _versions(ctx, 2)
    reg.promote_version(v1, expected_champion=None)
    reg.make_challenger(v2)
    # what a crash after the first writes of "promote v2" leaves (see registry.py's write order)
    client, name = ctx.mlflow, reg.model_name
    intent = {"op": "promote", "version": v2, "old": v1, "reason": "challenger won"}
    client.set_registered_model_tag(name, t.PENDING_CHANGE, json.dumps(intent))
    client.delete_registered_model_alias(name, t.CHALLENGER_ALIAS)

    console = Console(width=200)
    with console.capture() as shown:
        show_models("local", console)
    assert "half-applied change: promote version 2 (champion was version 1)" in shown.get()
    assert "churn repair --env local" in shown.get()

    with console.capture() as repaired:
        repair("local", console)
    assert "repaired: completed promote version 2" in repaired.get()
    assert reg.state() == RegistryState(champion=v2, previous_champion=v1)
    assert reg.problems() == []
    with console.capture() as again:
        repair("local", console)
    assert "nothing to repair" in again.get()
