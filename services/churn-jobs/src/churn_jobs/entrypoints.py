"""Console-script entry points, one per job: what a Databricks ``python_wheel_task`` runs.

Each takes ``--settings-json '<{"runtime": ..., "params": ...}>'`` (or ``--settings-file``), the
resolved request carried by the job definition, so a deployed task is fully described by it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from churn_jobs.request import parse_request, read_yaml
from churn_jobs.runner import exit_on_user_error, run_job


def _entry_point(job: str) -> Callable[[Sequence[str] | None], None]:
    def main(argv: Sequence[str] | None = None) -> None:
        parser = argparse.ArgumentParser(prog=f"churn-{job}", description=f"Run the {job} job.")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--settings-json", help="the job request as JSON")
        source.add_argument(
            "--settings-file", type=Path, help="the job request as a YAML/JSON file"
        )
        args = parser.parse_args(argv)
        with exit_on_user_error():
            if args.settings_file is not None:
                request = parse_request(read_yaml(args.settings_file), str(args.settings_file))
            else:
                request = parse_request(args.settings_json)
            run_job(job, request)

    main.__name__ = job.replace("-", "_")
    main.__doc__ = f"Entry point of the {job} job."
    return main


feature_table_refresh = _entry_point("feature-table-refresh")
feature_publish = _entry_point("feature-publish")
model_train = _entry_point("model-train")
model_validation = _entry_point("model-validation")
model_deployment = _entry_point("model-deployment")
model_inference_batch = _entry_point("model-inference-batch")
integration_check = _entry_point("integration-check")
model_monitoring = _entry_point("model-monitoring")
