"""8 processes promote, roll back and deploy at random against one local registry (SQLite).

Afterwards: exactly one champion, champion != challenger, no half-applied change, and every
applied deployment decision is recorded exactly once (its run says applied, one version carries
its run id) while every refused one is recorded nowhere.

The workers start their clocks together, at a barrier once all eight have imported MLflow and
built their clients: every second of the run is then eight-way contention. (Before, each worker
timed itself from its own start, and on two cores the last ones were still importing when the
first had been running alone for seconds.)

The run ends once the workers together have applied ``ENOUGH_APPLIED`` deployment decisions and
been refused ``ENOUGH_REFUSED`` times for a concurrent change (the evidence the invariants are
checked against), or after ``SECONDS``, whichever comes first. A fixed duration kept both cores
busy for all of it, however much contention it had already shown, and slowed every test running
beside it in CI (about 49 CPU seconds for the test; 42 with this, on a quiet machine).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import queue
import random
import time
import traceback
from collections import Counter
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.pyfunc import PythonModel

from churn_registry_ops import (
    CheckResult,
    ComparisonRule,
    ConcurrentRegistryChange,
    ModelRegistry,
    RegistryOpsError,
    SanityReport,
    compare,
)
from churn_registry_ops import tags as t

PROCESSES = 8
SECONDS = 20.0  # at most, of eight-way contention from the barrier
#: about half of what 20 s gave on a quiet 2-core machine (16 applied, 45 refused)
ENOUGH_APPLIED = 8
ENOUGH_REFUSED = 20
START_TIMEOUT = 600.0  # for all eight to import and reach the barrier (a loaded box is slow)
APPLIED = "churn_decision_applied"

PASSED = SanityReport(
    model_uri="models:/stress", checks=[CheckResult(name="stress", passed=True, detail="ok")]
)
#: What a worker imports, for the fork server to import once: this module's imports (a worker
#: unpickles its function by importing this module; ``compare`` brings scikit-learn) and MLflow's
#: SQLAlchemy stores (imported by a worker's first client call). Not this module itself: the fork
#: server does not get pytest's ``sys.path`` and skips a module it cannot import, silently.
#: Each worker importing scikit-learn and the stores itself cost more CPU than its registry
#: operations: the test took 31 and 33 CPU seconds so, 22 and 21 with these preloaded.
WORKER_IMPORTS = [
    "pytest",
    "mlflow.pyfunc",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "churn_registry_ops.comparison",
    "churn_registry_ops.registry",
]
LABELS = [0, 1, 0, 1]
WIN = [0.2, 0.8, 0.1, 0.9]
LOSE = [0.6, 0.4, 0.7, 0.3]


class Identity(PythonModel):
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return model_input


def _worker_process(results: Any, start: Any, shared: Any, *args: Any) -> None:
    """A worker's process: its counts, or the traceback it failed with, go to ``results``."""
    try:
        results.put(("ok", _worker(start, shared, *args)))
    except BaseException:
        results.put(("failed", traceback.format_exc()))


def _worker(
    start: Any,
    shared: Any,
    uri: str,
    name: str,
    mode: str,
    source: str,
    experiment: str,
    seed: int,
    seconds: float,
) -> dict[str, int]:
    import warnings

    warnings.simplefilter("ignore")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    reg = ModelRegistry(client, name, mode, lock_lease_seconds=10, lock_wait_seconds=20)  # type: ignore[arg-type]
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    reg.state()  # the first registry call (SQLAlchemy's set-up) before the clocks start
    start.wait(timeout=START_TIMEOUT)
    until = time.time() + seconds
    applied, refused = shared  # the counts of all workers
    while time.time() < until and (
        applied.value < ENOUGH_APPLIED or refused.value < ENOUGH_REFUSED
    ):
        op = rng.choice(["challenger", "promote", "rollback", "deploy", "deploy", "deploy"])
        try:
            if op == "challenger":
                v = str(mlflow.register_model(source, name).version)
                reg.record_validation(v, PASSED)
                reg.make_challenger(v)
            elif op == "promote":
                state = reg.state()
                candidates = [
                    i.version
                    for i in reg.versions()
                    if i.validation == t.PASSED and i.version != state.champion
                ]
                if not candidates:
                    continue
                reg.promote_version(rng.choice(candidates), expected_champion=state.champion)
            elif op == "rollback":
                reg.rollback(expected_champion=reg.state().champion)
            else:
                state = reg.state()
                if state.champion is None or state.challenger is None:
                    continue
                challenger = WIN if rng.random() < 0.5 else LOSE
                decision = compare(
                    LOSE if challenger is WIN else WIN, challenger, LABELS, ComparisonRule()
                )
                run = client.create_run(experiment, run_name="stress-deployment")
                try:
                    reg.apply_decision(decision, state, decision_run_id=run.info.run_id)
                except RegistryOpsError:
                    client.set_tag(run.info.run_id, APPLIED, "false")
                    raise
                client.set_tag(run.info.run_id, APPLIED, "true")
                with applied.get_lock():
                    applied.value += 1
            counts[f"{op}:done"] += 1
        except RegistryOpsError as exc:
            counts[f"{op}:{type(exc).__name__}"] += 1
            if isinstance(exc, ConcurrentRegistryChange):
                with refused.get_lock():
                    refused.value += 1
    return dict(counts)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_eight_processes_at_random_leave_one_champion_and_each_decision_once(
    tracking_uri: str, client: MlflowClient, model_name: str
) -> None:
    mode = "aliases"  # the default, Unity-Catalog-ready mode; stages share the facade's order
    reg = ModelRegistry(client, model_name, mode)
    with mlflow.start_run(run_name="stress-model"):
        # the registry's roles do not depend on what the versions hold: a tiny model will do
        source = mlflow.pyfunc.log_model(
            name="stress", python_model=Identity(), pip_requirements=["mlflow"]
        ).model_uri  # requirements given: no inference (a subprocess that imports the model)
    first = str(mlflow.register_model(source, model_name).version)
    reg.record_validation(first, PASSED)
    reg.promote_version(first, expected_champion=None)
    experiment = mlflow.create_experiment(f"stress-{model_name}")

    results = _run_workers(tracking_uri, model_name, mode, source, experiment)
    totals: Counter[str] = Counter()
    for counts in results:
        totals.update(counts)
    print("stress outcome:", dict(sorted(totals.items())))

    # exactly one champion, never also the challenger, nothing half-applied
    state = reg.state()
    assert state.champion is not None
    assert state.champion != state.challenger
    assert reg.problems() == []
    champions = [v for v in reg.versions() if v.role == "champion"]
    assert [v.version for v in champions] == [state.champion]

    # every decision recorded once: applied runs <-> version tags, one to one
    runs = client.search_runs([experiment], max_results=5000)
    applied = {r.info.run_id for r in runs if r.data.tags.get(APPLIED) == "true"}
    refused = {r.info.run_id for r in runs if r.data.tags.get(APPLIED) == "false"}
    tagged = [v.tags[t.DECISION_RUN_ID] for v in reg.versions() if t.DECISION_RUN_ID in v.tags]
    assert len(tagged) == len(set(tagged))
    assert set(tagged) == applied
    assert not refused & set(tagged)
    assert len(applied) == totals["deploy:done"]
    assert totals["deploy:done"] >= 1  # not vacuous (on a quiet machine: dozens, and refusals)
    refusals = sum(n for key, n in totals.items() if key.endswith(":ConcurrentRegistryChange"))
    assert refusals >= 1, "the workers never contended: the invariants were not put to the test"


def _run_workers(*args: str) -> list[dict[str, int]]:
    """``PROCESSES`` worker processes (one each, so that all reach the barrier), their counts.

    Forked from a fresh server process that imported what the workers run once
    (``forkserver``, ``WORKER_IMPORTS``): no thread or connection of this pytest process is
    inherited, as with ``spawn``, but the workers do not each import it again."""
    # the fork server skips a module it cannot import without a word: say it here instead
    assert all(importlib.util.find_spec(name) for name in WORKER_IMPORTS), WORKER_IMPORTS
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_IMPORTS)
    start, results = ctx.Barrier(PROCESSES), ctx.Queue()
    shared = (ctx.Value("i", 0), ctx.Value("i", 0))  # applied decisions, refusals
    workers = [
        ctx.Process(target=_worker_process, args=(results, start, shared, *args, seed, SECONDS))
        for seed in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    counts: list[dict[str, int]] = []
    try:
        while len(counts) < PROCESSES:
            try:
                status, detail = results.get(timeout=5)
            except queue.Empty:
                died = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
                assert not died, f"a worker process died without a result: exit codes {died}"
                continue
            assert status == "ok", detail  # the others may wait at the barrier: stop them all
            counts.append(detail)
    finally:
        for worker in workers:
            if len(counts) < PROCESSES:
                worker.kill()
            worker.join(timeout=60)
    return counts
