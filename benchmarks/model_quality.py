"""Model quality on the real IBM Telco data: RF depth 4, RF depth 8 and the recommended config.

For each config: ROC AUC, PR AUC (average precision), log loss and Brier score on
  (a) the seed's split: stratified 25% hold-out, seed 42, and
  (b) 5 stratified 80/20 splits (seeds 0-4): mean and standard deviation,
plus training time (including any cross-validated tuning, which sees training rows only) and the
time of ``import churn_model``. Prints a table and writes JSON to ``--out``.

Features come from churn-features' Spark featurization (ingest -> validation -> featurize) when
pyspark and churn-features are importable; ``--featurization pandas`` uses an equivalent pandas
implementation of the same contract (also the fallback), which needs no JVM.

    uv run --all-packages python benchmarks/model_quality.py --out .churn/bench/model_quality.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "packages" / "churn-model" / "configs"
VENDORED_CSV = REPO / "packages/churn-features/src/churn_features/data/telco_customer_churn.csv.gz"
DEFAULT_CONFIGS = ("random_forest_depth4", "random_forest_depth8", "recommended")
METRICS = ("roc_auc", "pr_auc", "log_loss", "brier")
TARGET = {"roc_auc": (">=", 0.850), "pr_auc": (">=", 0.665), "log_loss": ("<=", 0.412)}
SEED_SPLIT = {"test_size": 0.25, "seed": 42, "stratify": True}
REPEATED_SEEDS = (0, 1, 2, 3, 4)


def spark_features() -> tuple[pd.DataFrame, pd.Series]:
    """The churn_features rows and labels exactly as the feature-table job computes them."""
    from churn_features.featurize import build_features, build_labels
    from churn_features.ingest import read_raw
    from churn_features.validation import flag_rows, typed_rows
    from churn_local_spark import local_spark

    with tempfile.TemporaryDirectory(prefix="model-quality-warehouse-") as warehouse:
        spark = local_spark("model-quality-benchmark", warehouse_dir=warehouse)
        try:
            # cached once, as the feature-table job does, so features and labels share one read
            typed = typed_rows(flag_rows(read_raw(spark))).cache()
            features = build_features(typed).toPandas()
            labels = build_labels(typed).toPandas()
        finally:
            spark.stop()
    rows = features.merge(labels, on="customer_id", validate="one_to_one")
    return rows.drop(columns=["churn"]), rows["churn"].astype(np.int64)


def pandas_features() -> tuple[pd.DataFrame, pd.Series]:
    """The same contract in pandas (column definitions from churn-features' README)."""
    raw = pd.read_csv(VENDORED_CSV, dtype=str, keep_default_na=False)
    raw = raw.apply(lambda column: column.str.strip())
    names = {
        "customerID": "customer_id",
        "gender": "gender",
        "Partner": "partner",
        "Dependents": "dependents",
        "PhoneService": "phone_service",
        "MultipleLines": "multiple_lines",
        "InternetService": "internet_service",
        "OnlineSecurity": "online_security",
        "OnlineBackup": "online_backup",
        "DeviceProtection": "device_protection",
        "TechSupport": "tech_support",
        "StreamingTV": "streaming_tv",
        "StreamingMovies": "streaming_movies",
        "Contract": "contract",
        "PaperlessBilling": "paperless_billing",
        "PaymentMethod": "payment_method",
    }
    frame = raw[list(names)].rename(columns=names)
    frame["senior_citizen"] = raw["SeniorCitizen"].astype(np.int64)
    frame["tenure"] = raw["tenure"].astype(np.int64)
    frame["monthly_charges"] = raw["MonthlyCharges"].astype(np.float64)
    frame["total_charges"] = pd.to_numeric(raw["TotalCharges"].replace("", np.nan)).fillna(0.0)
    add_ons = [
        "online_security",
        "online_backup",
        "device_protection",
        "tech_support",
        "streaming_tv",
        "streaming_movies",
    ]
    frame["num_services"] = (
        frame["phone_service"].eq("Yes").astype(int)
        + frame["multiple_lines"].eq("Yes").astype(int)
        + frame["internet_service"].ne("No").astype(int)
        + sum(frame[c].eq("Yes").astype(int) for c in add_ons)
    ).astype(np.int64)
    tenure = frame["tenure"]
    frame["avg_monthly_charge"] = np.where(
        tenure > 0, frame["total_charges"] / tenure.clip(lower=1), frame["monthly_charges"]
    )
    frame["log_tenure"] = np.log1p(tenure.astype(np.float64))
    frame["tenure_bucket"] = np.select(
        [tenure < 12, tenure < 24, tenure < 48], ["0-1y", "1-2y", "2-4y"], default="4y+"
    )
    return frame, raw["Churn"].eq("Yes").astype(np.int64).rename("churn")


def in_row_order(
    features: pd.DataFrame, labels: pd.Series, order: str
) -> tuple[pd.DataFrame, pd.Series]:
    """Seeded splits depend on row order: ``file`` is the raw file's order (the seed's split and
    the published reference numbers were drawn on it); ``customer_id`` sorts by key."""
    rows = features.assign(churn=labels.to_numpy())
    if order == "file":
        file_order = pd.read_csv(VENDORED_CSV, usecols=["customerID"], dtype=str)["customerID"]
        position = pd.Series(np.arange(len(file_order)), index=file_order.str.strip())
        rows = rows.assign(_position=rows["customer_id"].map(position))
        rows = rows.sort_values("_position", kind="stable").drop(columns="_position")
    else:
        rows = rows.sort_values("customer_id", kind="stable")
    rows = rows.reset_index(drop=True)
    return rows.drop(columns=["churn"]), rows["churn"].astype(np.int64)


def import_seconds(module: str, repeats: int = 5) -> float:
    """Best-of-N wall time of ``import <module>`` in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeats)
    ]
    return min(runs)


def run_config(name: str, features: pd.DataFrame, labels: pd.Series) -> dict[str, Any]:
    from churn_model import load_model_config, train
    from churn_model.config import SplitConfig

    config = load_model_config(CONFIGS / f"{name}.yaml")
    seed_split = train(features, labels, config, split=SplitConfig(**SEED_SPLIT))
    assert seed_split.test_metrics is not None
    per_seed = []
    for seed in REPEATED_SEEDS:
        result = train(
            features, labels, config, split=SplitConfig(test_size=0.2, seed=seed, stratify=True)
        )
        assert result.test_metrics is not None
        per_seed.append(
            {
                "seed": seed,
                **{m: getattr(result.test_metrics, m) for m in METRICS},
                "fit_seconds": result.fit_seconds,
                "best_params": result.best_params,
            }
        )
    return {
        "config": str((CONFIGS / f"{name}.yaml").relative_to(REPO)),
        "estimator": config.estimator.kind,
        "seed_split": {
            **{m: getattr(seed_split.test_metrics, m) for m in METRICS},
            "fit_seconds": seed_split.fit_seconds,
            "best_params": seed_split.best_params,
            "n_test": seed_split.test_metrics.n_rows,
        },
        "repeated_80_20": {
            "mean": {m: statistics.fmean(r[m] for r in per_seed) for m in METRICS},
            "std": {m: statistics.pstdev(r[m] for r in per_seed) for m in METRICS},
            "fit_seconds_mean": statistics.fmean(r["fit_seconds"] for r in per_seed),
            "per_seed": per_seed,
        },
    }


def check_target(result: dict[str, Any]) -> dict[str, Any]:
    mean = result["repeated_80_20"]["mean"]
    checks = {
        metric: {
            "value": mean[metric],
            "target": f"{op} {bound}",
            "met": mean[metric] >= bound if op == ">=" else mean[metric] <= bound,
        }
        for metric, (op, bound) in TARGET.items()
    }
    return {"checks": checks, "met": all(c["met"] for c in checks.values())}


def print_table(report: dict[str, Any]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich ships with churn-jobs
        print(json.dumps(report, indent=2))
        return
    data = report["data"]
    table = Table(
        title=f"churn model quality: {data['rows']} customers, {data['featurization']} "
        f"featurization, {data['row_order']} row order"
    )
    for header in ("config", "evaluation", *METRICS, "fit s"):
        table.add_column(header, justify="left" if header in ("config", "evaluation") else "right")
    for name, result in report["configs"].items():
        a, b = result["seed_split"], result["repeated_80_20"]
        table.add_row(
            name,
            "(a) seed 42, 25%",
            *(f"{a[m]:.4f}" for m in METRICS),
            f"{a['fit_seconds']:.2f}",
        )
        table.add_row(
            "",
            "(b) 5x80/20 mean±std",
            *(f"{b['mean'][m]:.4f} ± {b['std'][m]:.4f}" for m in METRICS),
            f"{b['fit_seconds_mean']:.2f}",
            end_section=True,
        )
    console = Console(width=max(Console().width, 120))
    console.print(table)
    console.print(
        f"import churn_model: {report['import_seconds']['churn_model'] * 1000:.0f} ms "
        f"(churn_model.training, with scikit-learn: "
        f"{report['import_seconds']['churn_model.training'] * 1000:.0f} ms)"
    )
    target = report["target"]
    verdict = "[green]met[/green]" if target["met"] else "[red]NOT met[/red]"
    details = ", ".join(
        f"{m} {c['value']:.4f} ({c['target']})" for m, c in target["checks"].items()
    )
    console.print(f"target for {target['config']} on (b): {verdict} — {details}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--featurization", choices=("spark", "pandas", "auto"), default="auto")
    parser.add_argument("--configs", nargs="+", default=list(DEFAULT_CONFIGS))
    parser.add_argument("--row-order", choices=("file", "customer_id"), default="file")
    args = parser.parse_args(argv)

    featurization = args.featurization
    if featurization in ("spark", "auto"):
        try:
            features, labels = spark_features()
            featurization = "spark"
        except ImportError as exc:
            if args.featurization == "spark":
                raise
            print(f"churn-features Spark featurization unavailable ({exc}); using pandas")
            featurization = "pandas"
    if featurization == "pandas":
        features, labels = pandas_features()
    features, labels = in_row_order(features, labels, args.row_order)

    configs = {}
    for name in args.configs:
        print(f"training {name} ...", flush=True)
        configs[name] = run_config(name, features, labels)
    recommended = "recommended" if "recommended" in configs else args.configs[-1]
    report = {
        "data": {
            "rows": len(features),
            "positive_rate": float(labels.mean()),
            "featurization": featurization,
            "row_order": args.row_order,
        },
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            **{pkg: version(pkg) for pkg in ("churn-model", "scikit-learn", "pandas", "numpy")},
        },
        "import_seconds": {
            "churn_model": import_seconds("churn_model"),
            "churn_model.training": import_seconds("churn_model.training"),
        },
        "configs": configs,
        "target": {"config": recommended, **check_target(configs[recommended])},
    }
    print_table(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
