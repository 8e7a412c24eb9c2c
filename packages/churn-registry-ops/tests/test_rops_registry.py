"""ModelRegistry on a real MLflow registry (SQLite), in aliases and stages mode."""

from __future__ import annotations

import tempfile
import threading
import time
import warnings
from collections.abc import Callable

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from rops_models import CONTRACT

from churn_registry_ops import (
    ComparisonRule,
    ConcurrentRegistryChange,
    Decision,
    InvalidRegistryOperation,
    ModelNotFound,
    ModelRegistry,
    NoChampion,
    NoPreviousChampion,
    RegistryLocked,
    RegistryState,
    SanityCheckFailed,
    SanityReport,
    VersionNotFound,
    VersionNotValidated,
    check_model_version,
    compare,
)
from churn_registry_ops import tags as t
from churn_registry_ops.decision_log import log_decision
from churn_registry_ops.lock import RegistryLock
from churn_registry_ops.validation import validate_version

Register = Callable[[str], str]
ReportOf = Callable[[str], SanityReport]


@pytest.fixture(scope="module")
def sample(data: dict) -> pd.DataFrame:
    return data["reference"][0].head(30)


@pytest.fixture(scope="module")
def report_of(logged: dict[str, str], sample: pd.DataFrame) -> ReportOf:
    """The real sanity report of each logged model kind, computed once (loading is slow)."""
    cache: dict[str, SanityReport] = {}

    def get(kind: str) -> SanityReport:
        if kind not in cache:
            cache[kind] = check_model_version(logged[kind], CONTRACT, sample)
        return cache[kind]

    return get


def _validated(registry: ModelRegistry, register: Register, kind: str, report_of: ReportOf) -> str:
    """Register a version of `kind` and record its (passing) sanity report."""
    version = register(kind)
    report = report_of(kind)
    assert report.passed, report.summary()
    registry.record_validation(version, report)
    return version


def _scores(registry: ModelRegistry, version: str, rows: pd.DataFrame) -> np.ndarray:
    # from a copy: run in place, it would leave __pycache__ in the store (verify refuses it)
    with tempfile.TemporaryDirectory(prefix="pyfunc-") as copy:
        model = mlflow.pyfunc.load_model(registry.model_uri(version), dst_path=copy)
        return np.asarray(model.predict(rows))


def _deploy(
    registry: ModelRegistry, data: dict, rule: ComparisonRule
) -> tuple[RegistryState, Decision]:
    """What the model-deployment job does, in a few lines."""
    state = registry.state()
    rows, labels = data["reference"]
    decision = compare(
        _scores(registry, str(state.champion), rows),
        _scores(registry, str(state.challenger), rows),
        labels,
        rule,
    )
    return state, decision


def test_seed_story_better_challenger_is_promoted_and_old_champion_archived(
    registry: ModelRegistry,
    register: Register,
    sample: pd.DataFrame,
    report_of: ReportOf,
    data: dict,
) -> None:
    v1 = _validated(registry, register, "weak", report_of)
    with pytest.raises(NoChampion, match=r"churn promote --version N"):
        registry.require_champion()
    registry.promote_version(v1, expected_champion=None)
    assert registry.state() == RegistryState(champion=v1)

    v2 = register("strong")
    assert registry.newest_unchecked() is not None
    assert registry.newest_unchecked().version == v2  # type: ignore[union-attr]
    validate_version(registry, v2, CONTRACT, sample)  # sanity-checked -> challenger
    assert registry.state() == RegistryState(champion=v1, challenger=v2)
    assert registry.newest_unchecked() is None

    state, decision = _deploy(registry, data, ComparisonRule())
    assert decision.promote, decision.summary()
    with mlflow.start_run(run_name="deployment") as run:
        log_decision(registry.client, run.info.run_id, decision, state)
    after = registry.apply_decision(decision, state, decision_run_id=run.info.run_id)

    assert after == RegistryState(champion=v2, challenger=None, previous_champion=v1)
    roles = {i.version: i for i in registry.versions()}
    assert roles[v2].role == "champion"
    assert roles[v2].decision == "promoted"
    assert roles[v2].tags[t.DECISION_RUN_ID] == run.info.run_id
    assert roles[v1].role == "archived"
    assert roles[v1].is_previous_champion
    assert f"replaced by version {v2}" in (roles[v1].archived_reason or "")
    if registry.mode == "stages":
        assert (roles[v1].stage, roles[v2].stage) == ("Archived", "Production")
    else:
        assert roles[v2].aliases == ["champion"]
        assert roles[v1].aliases == ["previous_champion"]

    # the deployment run holds both metric sets and the decision
    logged = registry.client.get_run(run.info.run_id).data
    assert logged.metrics["champion_roc_auc"] == pytest.approx(decision.champion_metrics["roc_auc"])
    assert logged.metrics["challenger_roc_auc"] > logged.metrics["champion_roc_auc"]
    assert logged.metrics["promote"] == 1.0
    assert logged.params["challenger_version"] == v2
    assert logged.tags["churn_decision"] == "promote"


def test_worse_challenger_is_archived_and_champion_stays(
    registry: ModelRegistry,
    register: Register,
    sample: pd.DataFrame,
    report_of: ReportOf,
    data: dict,
) -> None:
    v1 = _validated(registry, register, "strong", report_of)
    registry.promote_version(v1, expected_champion=None)
    v2 = register("weak")
    validate_version(registry, v2, CONTRACT, sample)

    state, decision = _deploy(registry, data, ComparisonRule())
    assert not decision.promote
    after = registry.apply_decision(decision, state)

    assert after == RegistryState(champion=v1, challenger=None, previous_champion=None)
    info = registry.version(v2)
    assert info.role == "archived"
    assert info.decision == "rejected"
    assert "not better" in (info.decision_reason or "")
    assert f"rejected against champion version {v1}" in (info.archived_reason or "")
    if registry.mode == "stages":
        assert info.stage == "Archived"


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("wrong_signature", "missing columns: contract"),
        ("constant", "a constant model has no skill"),
    ],
)
def test_broken_model_never_becomes_challenger(
    registry: ModelRegistry,
    register: Register,
    sample: pd.DataFrame,
    report_of: ReportOf,
    kind: str,
    reason: str,
) -> None:
    v1 = _validated(registry, register, "weak", report_of)
    registry.promote_version(v1, expected_champion=None)
    bad = register(kind)
    with pytest.raises(SanityCheckFailed, match="will not become challenger") as err:
        validate_version(registry, bad, CONTRACT, sample)
    assert reason in str(err.value)

    info = registry.version(bad)
    assert info.validation == "failed"
    assert reason in (info.validation_reason or "")
    assert registry.state().challenger is None
    # and no other path makes it challenger or champion either
    with pytest.raises(VersionNotValidated, match="failed validation"):
        registry.make_challenger(bad)
    with pytest.raises(VersionNotValidated):
        registry.promote_version(bad, expected_champion=v1)
    assert registry.state() == RegistryState(champion=v1)


def test_two_concurrent_deployments_apply_exactly_one_decision(
    registry: ModelRegistry,
    register: Register,
    report_of: ReportOf,
    data: dict,
    tracking_uri: str,
) -> None:
    v1 = _validated(registry, register, "weak", report_of)
    registry.promote_version(v1, expected_champion=None)
    v2 = _validated(registry, register, "strong", report_of)
    registry.make_challenger(v2)
    state, decision = _deploy(registry, data, ComparisonRule())
    assert decision.promote

    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def run() -> None:
        # each "job" has its own client, as two processes would
        own = ModelRegistry(
            MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri),
            registry.model_name,
            registry.mode,
            lock_wait_seconds=20,
        )
        barrier.wait()
        try:
            outcomes.append(own.apply_decision(decision, state))
        except ConcurrentRegistryChange as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    applied = [o for o in outcomes if isinstance(o, RegistryState)]
    refused = [o for o in outcomes if isinstance(o, ConcurrentRegistryChange)]
    assert len(applied) == 1, outcomes
    assert len(refused) == 1, outcomes
    assert f"the champion is now version {v2}, expected version {v1}" in str(refused[0])
    assert registry.state() == RegistryState(champion=v2, previous_champion=v1)
    assert registry.version(v1).role == "archived"


def test_stale_expectation_is_refused_and_nothing_changes(
    registry: ModelRegistry, register: Register, report_of: ReportOf
) -> None:
    v1 = _validated(registry, register, "weak", report_of)
    v2 = _validated(registry, register, "strong", report_of)
    v3 = _validated(registry, register, "strong", report_of)
    registry.promote_version(v1, expected_champion=None)
    registry.make_challenger(v2)
    before = registry.state()
    # someone made v3 challenger after our deployment read the state
    registry.make_challenger(v3, expected_challenger=v2)
    assert registry.version(v2).role == "archived"  # the replaced challenger is archived
    moved = registry.state()
    with pytest.raises(ConcurrentRegistryChange, match=f"challenger is now version {v3}"):
        registry.promote(v2, expected_champion=v1, expected_challenger=v2)
    with pytest.raises(ConcurrentRegistryChange, match="champion is now version"):
        registry.promote_version(v3, expected_champion=None)
    assert registry.state() == moved != before


def test_rollback_restores_the_previous_champion(
    registry: ModelRegistry, register: Register, report_of: ReportOf
) -> None:
    v1 = _validated(registry, register, "weak", report_of)
    v2 = _validated(registry, register, "strong", report_of)
    registry.promote_version(v1, expected_champion=None)
    with pytest.raises(NoPreviousChampion):
        registry.rollback(expected_champion=v1)
    registry.make_challenger(v2)
    registry.promote(v2, expected_champion=v1, expected_challenger=v2)
    assert registry.version(v1).role == "archived"

    with pytest.raises(ConcurrentRegistryChange):
        registry.rollback(expected_champion=v1)  # stale: v2 is the champion now
    after = registry.rollback(expected_champion=v2, reason="bad scores in production")

    assert after == RegistryState(champion=v1)
    back, out = registry.version(v1), registry.version(v2)
    assert back.role == "champion"
    assert back.archived_reason is None
    assert t.ARCHIVED not in back.tags
    assert out.role == "archived"
    assert "bad scores in production" in (out.archived_reason or "")
    if registry.mode == "stages":
        assert (back.stage, out.stage) == ("Production", "Archived")
    with pytest.raises(NoPreviousChampion, match="churn promote --version N"):
        registry.rollback(expected_champion=v1)


def test_invalid_operations_are_clear_errors(
    registry: ModelRegistry, register: Register, report_of: ReportOf
) -> None:
    v1 = _validated(registry, register, "weak", report_of)
    unchecked = register("strong")
    with pytest.raises(VersionNotValidated, match="has not been validated"):
        registry.promote_version(unchecked, expected_champion=None)
    registry.promote_version(v1, expected_champion=None)
    with pytest.raises(InvalidRegistryOperation, match="already the champion"):
        registry.promote_version(v1, expected_champion=v1)
    with pytest.raises(InvalidRegistryOperation, match="cannot be archived"):
        registry.archive(v1, "no reason")
    with pytest.raises(VersionNotFound, match="has no version '99'"):
        registry.make_challenger("99")
    with pytest.raises(NoChampion):
        ModelRegistry(registry.client, registry.model_name, registry.mode).apply_decision(
            compare([0.2, 0.8], [0.1, 0.9], [0, 1], ComparisonRule()), RegistryState()
        )


def test_held_lock_blocks_and_expired_lock_is_broken(
    registry: ModelRegistry, register: Register, report_of: ReportOf
) -> None:
    v1 = _validated(registry, register, "weak", report_of)
    hurried = ModelRegistry(
        registry.client, registry.model_name, registry.mode, lock_wait_seconds=0.5
    )
    with (
        RegistryLock(registry.client, registry.model_name, operation="test holder"),
        pytest.raises(RegistryLocked, match="test holder"),
    ):
        hurried.promote_version(v1, expected_champion=None)
    assert registry.state().champion is None
    # a holder that died: its lease is over, the next operation breaks the lock
    dead = RegistryLock(registry.client, registry.model_name, lease_seconds=0.3)
    dead.acquire()
    time.sleep(0.5)
    hurried.promote_version(v1, expected_champion=None)
    assert registry.state().champion == v1
    with pytest.raises(ConcurrentRegistryChange, match="lost the registry lock"):
        dead.renew()


def test_stages_mode_emits_no_stage_deprecation_warning(
    client: MlflowClient, model_name: str, register: Register, report_of: ReportOf
) -> None:
    registry = ModelRegistry(client, model_name, "stages")
    v1 = _validated(registry, register, "weak", report_of)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        registry.promote_version(v1, expected_champion=None)
        registry.versions()
    assert not [w for w in seen if "stages" in str(w.message)]
    # ...while the MLflow call itself does warn: the suppression is ours, and local
    with pytest.warns(FutureWarning, match="Model registry stages will be removed"):
        client.get_latest_versions(model_name, stages=["Production"])


def test_versions_lists_roles_validation_and_metrics(
    registry: ModelRegistry, register: Register, sample: pd.DataFrame, report_of: ReportOf
) -> None:
    v1 = _validated(registry, register, "weak", report_of)
    v2 = _validated(registry, register, "strong", report_of)
    v3 = register("constant")
    # what model-train writes (one format, `tags.metric_tags`), and what `versions()` reads
    for key, value in t.metric_tags({"test_roc_auc": 0.81}).items():
        registry.client.set_model_version_tag(registry.model_name, v2, key, value)
    registry.promote_version(v1, expected_champion=None)
    registry.make_challenger(v2)
    with pytest.raises(SanityCheckFailed):
        validate_version(registry, v3, CONTRACT, sample)

    listed = registry.versions()
    assert [i.version for i in listed] == [v3, v2, v1]
    by = {i.version: i for i in listed}
    assert (by[v1].role, by[v2].role, by[v3].role) == ("champion", "challenger", "none")
    assert (by[v2].validation, by[v3].validation) == ("passed", "failed")
    assert by[v2].metrics == {"test_roc_auc": 0.81}
    assert by[v3].tags[t.VALIDATION_FAILED_CHECKS] == "constant_predictions"
    assert by[v1].run_id is not None
    assert by[v1].uri == f"models:/{registry.model_name}/{v1}"
    assert registry.champion().version == v1  # type: ignore[union-attr]
    assert registry.challenger().version == v2  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["aliases", "stages"])
def test_unknown_model_is_a_clear_error(client: MlflowClient, mode: str) -> None:
    registry = ModelRegistry(client, "no_such_churn_model", mode)  # type: ignore[arg-type]
    with pytest.raises(ModelNotFound, match="churn-model-train"):
        registry.state()
    with pytest.raises(ModelNotFound):
        registry.promote_version(1, expected_champion=None)
