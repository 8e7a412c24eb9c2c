"""The refresh's query-bound steps, this tree against a baseline revision, paired in one JVM.

Times ``validation.summarize``, ``deletion_guard.check_customer_loss`` and the first write of a new
feature table (``store.delta.merge_by_key`` into a table just created) on the vendored 7,043 rows,
once with this tree's modules and once with the same modules as they were at ``--baseline`` (read
with ``git show``), alternating which goes first, in one Spark session. Whole refreshes in separate
JVMs differ by more than these steps save on a noisy 2-core machine (±20% run to run); paired
calls in one JVM do not. The outputs of both are checked equal before anything is timed.

    uv run python benchmarks/refresh_steps.py --baseline 348b0bb --rounds 12
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _paired import parse_args, step_result
from _report import emit

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "packages/churn-features/src/churn_features"
MODULES = {"validation": "validation.py", "guard": "deletion_guard.py", "delta": "store/delta.py"}
# The revision before summarize and the deletion guard became one query each and a new table's
# first write an overwrite.
DEFAULT_BASELINE = "348b0bb"


def _baseline_module(revision: str, path: str, name: str, into: Path) -> ModuleType:
    shown = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:{SOURCE}/{path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        raise SystemExit(
            f"cannot read {SOURCE}/{path} at --baseline {revision}: {shown.stderr.strip()}\n"
            "  fix: pass a revision this clone has (a shallow clone may lack it: git fetch "
            "--unshallow)"
        )
    text = shown.stdout
    file = into / f"{name}.py"
    file.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    args = parse_args(__doc__, DEFAULT_BASELINE, default_rounds=12)

    import churn_features.deletion_guard as guard_new
    import churn_features.store.delta as delta_new
    import churn_features.validation as validation_new
    from churn_features.featurize import build_features
    from churn_features.ingest import read_raw
    from churn_features.store.delta import DeltaFeatureStore
    from churn_jobs.local_platform import LocalPlatform

    with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
        home = Path(tmp)
        old = {
            key: _baseline_module(args.baseline, path, f"baseline_{key}", home)
            for key, path in MODULES.items()
        }
        new = {"validation": validation_new, "guard": guard_new, "delta": delta_new}
        spark = LocalPlatform(home).spark(master="local[2]", app_name="bench-refresh-steps")
        flagged = validation_new.flag_rows(read_raw(spark)).persist()
        features = build_features(validation_new.typed_rows(flagged)).localCheckpoint(eager=True)
        rows = features.count()
        store = DeltaFeatureStore(spark)
        spark.sql("CREATE DATABASE IF NOT EXISTS bench")
        store.create_table("bench.current", ["customer_id"], features.schema, "current")
        store.write_table("bench.current", features)
        current = spark.table("bench.current")
        guard = guard_new.DeletionGuard()
        tables = iter(range(10_000))

        def summarize(arm: dict[str, ModuleType]) -> Any:
            return vars(arm["validation"].summarize(flagged))

        def check_loss(arm: dict[str, ModuleType]) -> Any:
            loss = arm["guard"].check_customer_loss(guard, features, rows, current, "bench.current")
            return (loss.previous, loss.deleted)

        def first_write(arm: dict[str, ModuleType]) -> tuple[Any, float]:
            name = f"bench.new_{next(tables)}"
            store.create_table(name, ["customer_id"], features.schema, "new")
            started = time.perf_counter()
            write = arm["delta"].merge_by_key(spark, name, features, ["customer_id"])
            seconds = time.perf_counter() - started
            counts = (write.rows_inserted, write.rows_updated, write.rows_deleted, write.version)
            return (counts, sorted(map(str, spark.table(name).collect()))), seconds

        steps = {"summarize": summarize, "check_customer_loss": check_loss}
        for label, step in steps.items():
            if step(old) != step(new):
                raise SystemExit(f"{label}: the baseline and this tree disagree")
        if first_write(old)[0] != first_write(new)[0]:
            raise SystemExit("first write: the baseline and this tree disagree")

        seconds: dict[str, dict[str, list[float]]] = {
            s: {"baseline": [], "this_tree": []}
            for s in ("summarize", "check_customer_loss", "first_write")
        }
        for round_ in range(args.rounds):
            order = [("baseline", old), ("this_tree", new)]
            for arm_name, arm in order if round_ % 2 == 0 else order[::-1]:
                for label, step in steps.items():
                    started = time.perf_counter()
                    step(arm)
                    seconds[label][arm_name].append(time.perf_counter() - started)
                seconds["first_write"][arm_name].append(first_write(arm)[1])
        spark.stop()

    results = [
        step_result(label, arms["baseline"], arms["this_tree"]) for label, arms in seconds.items()
    ]
    emit(
        {
            "benchmark": "refresh_steps",
            "baseline": args.baseline,
            "rows": rows,
            "spark_master": "local[2]",
            "results": results,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
