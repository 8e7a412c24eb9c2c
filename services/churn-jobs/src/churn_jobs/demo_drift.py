"""The demo's last act: three months in production, the third one drifts, monitoring acts.

New customers arrive in monthly cohorts (churn-features' time-ordered synthetic scenario: from
month 3 fiber prices rise and month-to-month contracts become more common). One refresh of the
grown source brings them into the tables; each month's newcomers are then scored on their own day
(``model-inference-batch`` with ``scored_at``), and ``model-monitoring`` compares the three
monthly windows with the champion's training rows. The third window drifts; the monitor names the
drifting features and starts retraining (model-train -> model-validation -> model-deployment),
and the deployment decides on the new challenger.

The demo acts on the first violating window (``violations: 1 of 1``) because it shows three
months; the environment's policy (infra/params/model-monitoring.yaml) waits for 2 of the last 3.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from rich.panel import Panel

from churn_jobs.context import JobContext
from churn_jobs.request import JobRequest, request_from_files

MONTHS = 3
PER_MONTH = 600
SEED = 7
NEW_CUSTOMERS = "churn_new_customers"  # the keys table each month's scoring run reads


def run_drift_act(
    ctx: JobContext,
    env: str,
    run: Callable[[str, JobRequest], Any],
    train_params: Path,
) -> Any:
    """Refresh with three new monthly cohorts (the months after today's scoring run), score each
    on its month's first day, monitor; returns the monitoring summary."""
    import pandas as pd

    from churn_features.dataset import vendored_csv_path
    from churn_features.synthetic import DriftScenario, generate_monthly_cohorts

    console = ctx.console
    # the months after today's scoring run (act 5): the champion's first three in production
    today = date.today()
    first = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    cohorts = generate_monthly_cohorts(
        MONTHS, PER_MONTH, seed=SEED, drift=DriftScenario(start_month=MONTHS), start=first
    )
    months = sorted(cohorts["cohort_month"].unique())
    demo_dir = ctx.home / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    source = demo_dir / "customers-with-3-new-months.csv"
    raw = cohorts.drop(columns=["cohort_month", "label_available_on"])
    original = pd.read_csv(vendored_csv_path(), dtype=str, keep_default_na=False)
    pd.concat([original, raw.astype(str)]).to_csv(source, index=False)
    console.print(
        f"{MONTHS} monthly cohorts of {PER_MONTH} new customers; from month {MONTHS} fiber "
        "prices rise 25% and month-to-month contracts become more common"
    )
    run("feature-table-refresh", _request("feature-table-refresh", env, source=str(source)))

    for month, day in enumerate(months, start=1):
        ids = cohorts.loc[cohorts["cohort_month"] == day, "customerID"].tolist()
        _write_keys(ctx, ids)
        console.print(f"[bold]month {month}[/]: scoring {len(ids)} new customers on {day}")
        run(
            "model-inference-batch",
            _request(
                "model-inference-batch",
                env,
                keys_table=NEW_CUSTOMERS,
                scored_at=datetime(day.year, day.month, day.day, 8, tzinfo=UTC).isoformat(),
            ),
        )

    monitoring = request_from_files("model-monitoring", env)
    params = dict(monitoring.params)
    params["granularity"] = "1 month"
    params["policy"] = {**params.get("policy", {}), "violations": 1, "of_last": 1}
    retrain = dict(params.get("retrain", {}))
    # retrain the champion's own configuration (the code change), on the grown tables
    retrain["params"] = {"model-train": yaml.safe_load(train_params.read_text()) or {}}
    params["retrain"] = retrain
    console.print(
        "[bold]model-monitoring[/] over this month's and the three next monthly windows (demo "
        "policy: act on the first "
        "violating window; the environment's policy waits for 2 of the last 3)"
    )
    summary = run("model-monitoring", monitoring.model_copy(update={"params": params}))
    _say_what_happened(ctx, summary)
    return summary


def _request(job: str, env: str, **overrides: Any) -> JobRequest:
    request = request_from_files(job, env)
    return request.model_copy(update={"params": {**request.params, **overrides}})


def _write_keys(ctx: JobContext, ids: list[str]) -> None:
    spark = ctx.spark
    # pandas, which the local platform hands to the JVM as Arrow: a list of tuples would go
    # through an RDD job and start Python workers of its own
    frame = spark.createDataFrame(
        pd.DataFrame({"customer_id": ids}, dtype=str), "customer_id string"
    )
    frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true").saveAsTable(
        ctx.table(NEW_CUSTOMERS)
    )


def _say_what_happened(ctx: JobContext, summary: Any) -> None:
    lines = [f"status of {summary.model_name} v{summary.model_version}: {summary.status}"]
    if summary.drifting:
        lines.append(f"drifting features: {', '.join(summary.drifting)}")
    lines += [f"  {reason}" for reason in summary.reasons[:4]]
    lines.append(
        "retraining started: " + ", ".join(summary.retrain_runs)
        if summary.fired
        else "no retraining (the policy did not fire)"
    )
    if summary.report_path:
        lines.append(f"report: {summary.report_path}")
    ctx.console.print(Panel.fit("\n".join(lines), title="monitoring"))
