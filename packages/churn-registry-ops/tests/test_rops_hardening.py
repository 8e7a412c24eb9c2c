"""Hardening of the registry (issue 11/12): lock, write order and repair, untrusted versions,
Unity Catalog's search semantics. Real MLflow (SQLite); where a test needs the registry to
behave as a remote one does (slow, crashing, Unity-Catalog-shaped answers), a subclass of the
real `MlflowClient` adds exactly that behaviour on top of the real store.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.protos.databricks_pb2 import PERMISSION_DENIED
from rops_models import CONTRACT

from churn_registry_ops import (
    CheckResult,
    ComparisonRule,
    ConcurrentRegistryChange,
    ModelRegistry,
    OlderThanChallenger,
    RegistryLocked,
    RegistryState,
    SanityCheckFailed,
    SanityReport,
    compare,
)
from churn_registry_ops import tags as t
from churn_registry_ops.lock import RegistryLock, RegistryLockPermission, lock_name_for
from churn_registry_ops.validation import validate_version

PASSED = SanityReport(
    model_uri="models:/test", checks=[CheckResult(name="test", passed=True, detail="ok")]
)
PROMOTE = compare([0.6, 0.4, 0.7, 0.3], [0.2, 0.8, 0.1, 0.9], [0, 1, 0, 1], ComparisonRule())


def _new_model(client: MlflowClient) -> str:
    name = f"churn_{uuid.uuid4().hex[:10]}"
    client.create_registered_model(name)
    return name


def _versions(registry: ModelRegistry, uri: str, n: int) -> list[str]:
    out = []
    for _ in range(n):
        v = str(mlflow.register_model(uri, registry.model_name).version)
        registry.record_validation(v, PASSED)
        out.append(v)
    return out


# ----------------------------------------------------------------------------------- the lock


@pytest.mark.timeout(60)
def test_a_lock_without_tags_blocks_until_its_lease_then_is_broken_and_waiting_sleeps(
    client: MlflowClient, model_name: str
) -> None:
    client.create_registered_model(lock_name_for(model_name))  # by hand: no owner, no lease
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    waiter = RegistryLock(
        client, model_name, lease_seconds=30, wait_seconds=0.6, poll_seconds=0.1, sleep=sleep
    )
    with pytest.raises(RegistryLocked, match="owner \\?"):
        waiter.acquire()  # fresh (by the registry's timestamp): honoured, with sleeps
    # every failed attempt slept (0.1 s), so at most wait / poll (+ the first) attempts were made
    assert 1 <= len(sleeps) <= 7
    assert set(sleeps) == {0.1}

    short = RegistryLock(client, model_name, lease_seconds=0.3, wait_seconds=5, poll_seconds=0.1)
    time.sleep(0.4)
    short.acquire()  # the tagless lock is stale after the (default) lease: broken, taken
    assert short.held
    short.release()


@pytest.mark.timeout(60)
def test_an_expiry_far_in_the_future_is_capped_at_the_maximum_lease(
    client: MlflowClient, model_name: str
) -> None:
    client.create_registered_model(
        lock_name_for(model_name), tags={t.LOCK_OWNER: "someone", t.LOCK_LEASE: "1e12"}
    )
    waiter = RegistryLock(
        client, model_name, max_lease_seconds=0.5, wait_seconds=5, poll_seconds=0.1
    )
    started = time.monotonic()
    waiter.acquire()
    assert waiter.held
    assert time.monotonic() - started < 4
    waiter.release()


def test_expiry_is_judged_on_the_registry_clock_not_the_holders(
    client: MlflowClient, model_name: str
) -> None:
    # a holder whose clock runs 1000 s late: its lease must still count from the registry's time
    late = RegistryLock(client, model_name, lease_seconds=30, clock=lambda: time.time() - 1000)
    late.acquire()
    waiter = RegistryLock(client, model_name, wait_seconds=0.3, poll_seconds=0.1)
    with pytest.raises(RegistryLocked):
        waiter.acquire()
    late.renew()  # still ours
    late.release()


def test_a_retried_create_that_succeeded_counts_as_ours(
    client: MlflowClient, model_name: str
) -> None:
    lock = RegistryLock(client, model_name, wait_seconds=0.3)
    # the first attempt reached the registry, its answer was lost; the retry sees "exists"
    client.create_registered_model(lock.name, tags={t.LOCK_OWNER: lock.owner, t.LOCK_LEASE: "120"})
    lock.acquire()
    assert lock.held
    lock.release()
    with pytest.raises(MlflowException, match="not found"):
        client.get_registered_model(lock.name)


def test_breaking_a_stale_lock_never_deletes_a_successors_lock(
    client: MlflowClient, model_name: str
) -> None:
    dead = RegistryLock(client, model_name, lease_seconds=0.2)
    dead.acquire()
    time.sleep(0.3)
    breaker = RegistryLock(client, model_name)
    stale = breaker._read()
    assert stale is not None
    assert breaker.is_stale(stale)
    # meanwhile someone else broke it and a successor took the lock
    client.delete_registered_model(dead.name)
    successor = RegistryLock(client, model_name, wait_seconds=1)
    time.sleep(0.01)  # a distinct creation timestamp
    successor.acquire()
    breaker._break_stale(stale)  # what the slow breaker does next
    successor.renew()  # the successor's lock survived
    successor.release()


def test_deleting_a_stale_lock_without_permission_is_a_clear_error(
    tracking_uri: str, client: MlflowClient, model_name: str
) -> None:
    class DeniedDelete(MlflowClient):
        """Unity Catalog: the job principal may not delete a lock another principal created."""

        def delete_registered_model(self, name: str) -> None:
            raise MlflowException("no MANAGE on it", error_code=PERMISSION_DENIED)

    dead = RegistryLock(client, model_name, lease_seconds=0.2)
    dead.acquire()
    time.sleep(0.3)
    denied = DeniedDelete(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    with pytest.raises(RegistryLockPermission, match="needs MANAGE on"):
        RegistryLock(denied, model_name, wait_seconds=2).acquire()


class SlowClient(MlflowClient):
    """Each version-tag write takes `delay` seconds (a slow workspace, or MLflow's retries)."""

    delay = 0.4

    def set_model_version_tag(self, *args: Any, **kwargs: Any) -> None:
        time.sleep(self.delay)
        super().set_model_version_tag(*args, **kwargs)


@pytest.mark.timeout(120)
def test_the_lease_is_renewed_before_every_write_of_a_long_operation(
    tracking_uri: str, client: MlflowClient, logged: dict[str, str]
) -> None:
    name = _new_model(client)
    fast = ModelRegistry(client, name)
    v1, v2 = _versions(fast, logged["weak"], 2)
    fast.promote_version(v1, expected_champion=None)
    fast.make_challenger(v2)
    slow = ModelRegistry(
        SlowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri),
        name,
        lock_lease_seconds=1.0,
    )
    outcome: list[object] = []
    worker = threading.Thread(
        target=lambda: outcome.append(slow.apply_decision(PROMOTE, fast.state()))
    )
    worker.start()
    probe = RegistryLock(client, name, lease_seconds=1.0)
    seen = []
    while worker.is_alive():
        time.sleep(0.25)
        current = probe._read()
        if current is not None:
            seen.append(probe.is_stale(current))
    worker.join()
    assert outcome == [RegistryState(champion=v2, previous_champion=v1)]
    assert len(seen) >= 6  # the operation outlived its 1 s lease several times over...
    assert not any(seen)  # ...and its lock was never stale


@pytest.mark.timeout(120)
def test_a_run_that_lost_its_lock_stops_before_its_next_write(
    tracking_uri: str, client: MlflowClient, logged: dict[str, str]
) -> None:
    name = _new_model(client)
    fast = ModelRegistry(client, name)
    v1, v2 = _versions(fast, logged["weak"], 2)
    fast.promote_version(v1, expected_champion=None)
    fast.make_challenger(v2)
    slow = ModelRegistry(SlowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri), name)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            slow.apply_decision(PROMOTE, fast.state())
        except ConcurrentRegistryChange as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.6)  # inside the first slow write: someone breaks the lock and takes it
    lock = lock_name_for(name)
    client.delete_registered_model(lock)
    client.create_registered_model(lock, tags={t.LOCK_OWNER: "intruder", t.LOCK_LEASE: "600"})
    worker.join()
    assert len(errors) == 1
    assert "lost the registry lock" in str(errors[0])
    assert fast.state() == RegistryState(champion=v1, challenger=v2)  # no role moved
    client.delete_registered_model(lock)


# ------------------------------------------------------------------ write order and repair


class SimulatedCrash(BaseException):
    """The process dies: nothing catches it."""


class CrashingClient(MlflowClient):
    """The real client, until its `crash_at`-th write on the model (lock writes not counted)."""

    def __init__(self, uri: str, crash_at: int) -> None:
        super().__init__(tracking_uri=uri, registry_uri=uri)
        self.crash_at = crash_at
        self.writes = 0

    def _write(self, name: str) -> None:
        if not name.endswith("__churn_lock"):
            self.writes += 1
            if self.writes == self.crash_at:
                raise SimulatedCrash(f"crashed at write {self.writes}")

    def set_registered_model_alias(self, name: str, *a: Any, **k: Any) -> None:
        self._write(name)
        super().set_registered_model_alias(name, *a, **k)

    def delete_registered_model_alias(self, name: str, *a: Any, **k: Any) -> None:
        self._write(name)
        super().delete_registered_model_alias(name, *a, **k)

    def set_model_version_tag(self, name: str, *a: Any, **k: Any) -> None:
        self._write(name)
        super().set_model_version_tag(name, *a, **k)

    def delete_model_version_tag(self, name: str, *a: Any, **k: Any) -> None:
        self._write(name)
        super().delete_model_version_tag(name, *a, **k)

    def set_registered_model_tag(self, name: str, *a: Any, **k: Any) -> None:
        self._write(name)
        super().set_registered_model_tag(name, *a, **k)

    def delete_registered_model_tag(self, name: str, *a: Any, **k: Any) -> None:
        self._write(name)
        super().delete_registered_model_tag(name, *a, **k)

    def transition_model_version_stage(self, name: str, *a: Any, **k: Any) -> Any:
        self._write(name)
        return super().transition_model_version_stage(name, *a, **k)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["aliases", "stages"])
@pytest.mark.timeout(900)
def test_a_crash_at_any_write_of_a_promotion_leaves_a_valid_state_that_repair_completes(
    tracking_uri: str, client: MlflowClient, logged: dict[str, str], mode: str
) -> None:
    def setup() -> tuple[ModelRegistry, str, str]:
        registry = ModelRegistry(client, _new_model(client), mode)  # type: ignore[arg-type]
        v1, v2 = _versions(registry, logged["weak"], 2)
        registry.promote_version(v1, expected_champion=None)
        registry.make_challenger(v2)
        return registry, v1, v2

    registry, v1, v2 = setup()
    counter = CrashingClient(tracking_uri, crash_at=0)
    ModelRegistry(counter, registry.model_name, mode).apply_decision(  # type: ignore[arg-type]
        PROMOTE, registry.state()
    )
    total = counter.writes
    assert total >= 8

    for crash_at in range(1, total + 1):
        registry, v1, v2 = setup()
        crashing = ModelRegistry(
            CrashingClient(tracking_uri, crash_at),
            registry.model_name,
            mode,  # type: ignore[arg-type]
        )
        with pytest.raises(SimulatedCrash):
            crashing.apply_decision(PROMOTE, registry.state())
        state = registry.state()
        where = f"crash at write {crash_at} of {total}: {state}"
        assert state.champion in (v1, v2), where
        assert state.champion != state.challenger, where
        registry.repair()
        assert registry.problems() == [], where
        after = registry.state()
        # completed, or (a crash before the change was recorded) untouched: never in between
        assert after in (
            RegistryState(champion=v2, previous_champion=v1),
            RegistryState(champion=v1, challenger=v2),
        ), where
        if after.champion == v2:
            assert registry.version(v1).role == "archived", where
            assert registry.version(v2).decision == "promoted", where


def test_models_reports_and_the_next_change_completes_a_half_applied_promotion(
    tracking_uri: str, client: MlflowClient, logged: dict[str, str]
) -> None:
    registry = ModelRegistry(client, _new_model(client))
    v1, v2, v3 = _versions(registry, logged["weak"], 3)
    registry.promote_version(v1, expected_champion=None)
    registry.make_challenger(v2)
    state = registry.state()
    crashing = ModelRegistry(CrashingClient(tracking_uri, crash_at=6), registry.model_name)
    with pytest.raises(SimulatedCrash):
        crashing.apply_decision(PROMOTE, state)
    assert any("half-applied change: promote version" in p for p in registry.problems())
    # the next change completes it first, then checks its own expectation against the result
    with pytest.raises(ConcurrentRegistryChange, match=f"champion is now version {v2}"):
        registry.apply_decision(PROMOTE, state)
    assert registry.problems() == []
    registry.make_challenger(v3)
    assert registry.state() == RegistryState(champion=v2, challenger=v3, previous_champion=v1)


def test_repair_fixes_a_champion_that_is_also_challenger_left_by_an_older_release(
    client: MlflowClient, logged: dict[str, str]
) -> None:
    registry = ModelRegistry(client, _new_model(client))
    (v1,) = _versions(registry, logged["weak"], 1)
    client.set_registered_model_alias(registry.model_name, t.CHAMPION_ALIAS, v1)
    client.set_registered_model_alias(registry.model_name, t.CHALLENGER_ALIAS, v1)
    assert registry.problems() == [f"version {v1} is both champion and challenger"]
    registry.repair()
    assert registry.state() == RegistryState(champion=v1)


def test_an_older_version_never_replaces_a_newer_challenger(
    registry: ModelRegistry, logged: dict[str, str]
) -> None:
    v1, v2, v3 = _versions(registry, logged["weak"], 3)
    registry.promote_version(v1, expected_champion=None)
    registry.make_challenger(v3)
    with pytest.raises(OlderThanChallenger, match=f"older than the challenger, version {v3}"):
        registry.make_challenger(v2)
    assert registry.state() == RegistryState(champion=v1, challenger=v3)
    assert registry.version(v3).role == "challenger"


# ------------------------------------------------------------------------ untrusted versions


def test_a_foreign_models_from_code_version_is_refused_and_its_code_never_runs(
    registry: ModelRegistry,
    logged: dict[str, str],
    data: dict,
    tmp_path: Path,
) -> None:
    """The attack from issue 11: constant 0.5, borrowed signature and feature spec."""
    genuine = Path(mlflow.artifacts.download_artifacts(logged["strong"], dst_path=str(tmp_path)))
    marker = tmp_path / "foreign-code-ran"
    code = tmp_path / "pyfunc_entry.py"  # even its name is borrowed
    code.write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "import numpy as np\n"
        "import mlflow.models\n"
        "from mlflow.pyfunc import PythonModel\n\n"
        "class Constant(PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return np.full(len(model_input), 0.5)\n\n"
        "mlflow.models.set_model(Constant())\n"
    )
    with mlflow.start_run(run_name="attacker"):
        info = mlflow.pyfunc.log_model(
            name="foreign",
            python_model=str(code),
            artifacts={
                "pipeline": str(genuine / "artifacts" / "pipeline.skops"),
                "model_config": str(genuine / "artifacts" / "model_config.yaml"),
                "feature_spec": str(genuine / "artifacts" / "feature_spec.json"),
            },
            signature=Model.load(str(genuine / "MLmodel")).signature,
            pip_requirements=str(genuine / "requirements.txt"),
        )
    marker.unlink(missing_ok=True)  # logging ran it on the attacker's side; that is theirs
    champion = _versions(registry, logged["weak"], 1)[0]
    registry.promote_version(champion, expected_champion=None)
    foreign = str(mlflow.register_model(info.model_uri, registry.model_name).version)
    assert registry.newest_unchecked().version == foreign  # type: ignore[union-attr]

    rows, labels = data["reference"]
    with pytest.raises(SanityCheckFailed, match="not the one churn-model ships"):
        validate_version(registry, foreign, CONTRACT, rows.head(200), labels=labels[:200])

    assert not marker.exists()  # its code never ran on our side
    refused = registry.version(foreign)
    assert refused.validation == "failed"
    assert refused.tags[t.VALIDATION_FAILED_CHECKS] == "foreign_code"
    assert registry.state() == RegistryState(champion=champion)
    with pytest.raises(Exception, match="failed validation"):
        registry.make_challenger(foreign)


# ---------------------------------------------------------------- Unity Catalog semantics


class UnityCatalogLikeClient(MlflowClient):
    """`search_model_versions` as Unity Catalog answers it: versions without tags or aliases
    (MLflow docs, "Unity Catalog ... search_model_versions ... does not return tags/aliases";
    issue 12 item 7). Everything else is the real store."""

    def search_model_versions(self, *args: Any, **kwargs: Any) -> Any:
        page = super().search_model_versions(*args, **kwargs)
        for mv in page:
            mv._tags = {}
            mv._aliases = []
        return page


def test_tags_are_read_per_version_where_search_returns_none(
    tracking_uri: str, client: MlflowClient, logged: dict[str, str]
) -> None:
    name = _new_model(client)
    uc = ModelRegistry(
        UnityCatalogLikeClient(tracking_uri=tracking_uri, registry_uri=tracking_uri), name
    )
    v1, v2 = _versions(uc, logged["weak"], 2)
    v3 = str(mlflow.register_model(logged["weak"], name).version)
    uc.promote_version(v1, expected_champion=None)
    uc.make_challenger(v2)

    assert uc.newest_unchecked().version == v3  # type: ignore[union-attr]
    uc.record_validation(v3, PASSED)
    assert uc.newest_unchecked() is None
    by = {v.version: v for v in uc.versions()}
    assert (by[v1].role, by[v2].role) == ("champion", "challenger")
    assert by[v3].validation == "passed"
    assert by[v1].aliases == ["champion"]
