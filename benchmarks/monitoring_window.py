"""model-monitoring's window step, this tree against a baseline revision, paired in one JVM.

Times ``churn_monitoring.monitor`` (the job's "computing N window(s) on Spark" step) at the size
the demo and the churn-jobs tests run it: the champion's ~3,000 training rows as the baseline,
~900 held-out reference rows with scores as the prediction baseline, four monthly windows of 700
scored and labelled customers (fiber prices up from month 3), three slice columns. The package
as it was at ``--baseline`` is imported side by side (``git archive``, renamed) and both run in
one Spark session, alternating which goes first; their profile and drift rows are checked equal
before anything is timed. At this size the step is bound by per-call costs (Py4J round trips,
query planning), not by rows, so a figure from a 10-million-row run (monitoring.py) says nothing
about it.

A second result times what a scheduled run of the same champion does once its baseline is kept
(``<predictions>_monitor_baseline``): decoding the kept text and the window step on it, against
the window step on the rows, both this tree; the rows are checked equal first, and the encoded
size is reported.

    uv run python benchmarks/monitoring_window.py --baseline 4b65c5d --rounds 8
"""

from __future__ import annotations

import importlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _paired import parse_args, step_result
from _report import emit
from monitoring import synthetic_probability

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "churn_monitoring"
SOURCE = f"packages/churn-monitoring/src/{PACKAGE}"
# The revision before the window step's Py4J round trips were cut (grid percentiles and
# Bucketizer splits sent as one text each).
DEFAULT_BASELINE = "530fdf5"


def baseline_package(revision: str, into: Path) -> ModuleType:
    """``churn_monitoring`` as it was at ``revision``, importable as ``baseline_churn_monitoring``
    (its absolute self-imports renamed to match)."""
    archived = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, SOURCE],
        capture_output=True,
        check=False,
    )
    if archived.returncode != 0:
        raise SystemExit(
            f"cannot read {SOURCE} at --baseline {revision}: {archived.stderr.decode().strip()}\n"
            "  fix: pass a revision this clone has (a shallow clone may lack it: git fetch "
            "--unshallow)"
        )
    alias = f"baseline_{PACKAGE}"
    target = into / alias
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".py"):
                extracted = tar.extractfile(member)
                assert extracted is not None
                text = re.sub(rf"\b{PACKAGE}\b", alias, extracted.read().decode("utf-8"))
                (target / Path(member.name).name).write_text(text, encoding="utf-8")
    sys.path.insert(0, str(into))
    return importlib.import_module(alias)


def build_inputs(spark: Any, home: Path) -> tuple[Any, Any, Any]:
    """(training rows, reference rows with scores, scored monthly windows), checkpointed."""
    from pyspark.sql import functions as F

    from churn_features.featurize import build_features
    from churn_features.ingest import read_raw
    from churn_features.synthetic import DriftScenario, generate_monthly_cohorts
    from churn_features.validation import flag_rows, typed_rows
    from churn_monitoring import with_windows

    def featurized(frame: Any, name: str) -> Any:
        path = home / f"{name}.csv"
        frame.drop(columns=["cohort_month", "label_available_on"]).to_csv(path, index=False)
        features = build_features(typed_rows(flag_rows(read_raw(spark, path))))
        extra = spark.createDataFrame(
            frame[["customerID", "cohort_month", "Churn"]].rename(
                columns={"customerID": "customer_id"}
            )
        ).select(
            "customer_id",
            F.col("cohort_month").cast("date").alias("scoring_date"),
            (F.col("Churn") == "Yes").cast("int").alias("churn"),
        )
        return features.join(extra, "customer_id")

    score = synthetic_probability()
    cohort = generate_monthly_cohorts(1, 3900, seed=99)
    everyone = featurized(cohort, "training").drop("scoring_date")
    held_out = F.crc32("customer_id") % 13 < 3  # about 900 of 3,900, like a reference split
    training = everyone.where(~held_out)
    reference = everyone.where(held_out).withColumn("churn_probability", score)
    months = generate_monthly_cohorts(4, 700, seed=7, drift=DriftScenario(start_month=3))
    scored = with_windows(
        featurized(months, "months").withColumn("churn_probability", score),
        "scoring_date",
        "1 month",
    )
    training, reference, scored = (
        f.localCheckpoint(eager=True) for f in (training, reference, scored)
    )
    return training, reference, scored


def spec(threshold: float = 0.5) -> Any:
    from churn_features.contract import CATEGORICAL_FEATURES, NUMERIC_FEATURES
    from churn_monitoring import MonitorSpec

    return MonitorSpec(
        numeric=NUMERIC_FEATURES, categorical=CATEGORICAL_FEATURES, threshold=threshold
    )


def main() -> None:
    args = parse_args(__doc__, DEFAULT_BASELINE, default_rounds=8)

    import pandas as pd

    import churn_monitoring as new
    from churn_jobs.local_platform import LocalPlatform

    with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
        home = Path(tmp)
        old = baseline_package(args.baseline, home / "baseline")
        spark = LocalPlatform(home).spark(master="local[2]", app_name="bench-monitoring-window")
        training, reference, scored = build_inputs(spark, home)
        counts = {"training": training.count(), "reference": reference.count()}

        def window_step(arm: ModuleType) -> Any:
            return arm.monitor(
                training,
                scored,
                spec(),
                granularity="1 month",
                model_version="bench",
                prediction_baseline=reference,
            )

        results = {"baseline": window_step(old), "this_tree": window_step(new)}
        for table in ("profile", "drift"):
            pd.testing.assert_frame_equal(
                getattr(results["baseline"], table),
                getattr(results["this_tree"], table),
                check_exact=True,
            )
        windows = len(results["this_tree"].windows)

        from churn_monitoring.baseline import decode, encode

        encoded = encode(new.summarise_baseline(training, spec(), reference))

        def kept_step(arm: ModuleType) -> Any:
            return arm.monitor(
                decode(encoded), scored, spec(), granularity="1 month", model_version="bench"
            )

        for table in ("profile", "drift"):
            pd.testing.assert_frame_equal(
                getattr(results["this_tree"], table),
                getattr(kept_step(new), table),
                check_exact=True,
            )

        seconds: dict[str, list[float]] = {"baseline": [], "this_tree": [], "kept": []}
        for round_ in range(args.rounds):
            order = [("baseline", old, window_step), ("this_tree", new, window_step)]
            order.append(("kept", new, kept_step))
            for arm_name, arm, step in order if round_ % 2 == 0 else order[::-1]:
                started = time.perf_counter()
                step(arm)
                seconds[arm_name].append(time.perf_counter() - started)
        spark.stop()

    result = step_result("monitor (the window step)", seconds["baseline"], seconds["this_tree"])
    kept = step_result("with a kept baseline", seconds["this_tree"], seconds["kept"])
    kept["baseline_is"] = "this tree's window step on the rows"
    kept["encoded_baseline_bytes"] = len(encoded)
    emit(
        {
            "benchmark": "monitoring_window",
            "baseline": args.baseline,
            "rows": {**counts, "windows": windows, "per_window": 700},
            "spark_master": "local[2]",
            "results": [result, kept],
        },
        args.out,
    )


if __name__ == "__main__":
    main()
