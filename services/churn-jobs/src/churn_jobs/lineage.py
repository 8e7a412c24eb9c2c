"""What a run records about where it came from: git commit, package versions, table versions."""

from __future__ import annotations

import os
import subprocess
from importlib.metadata import PackageNotFoundError, version

PACKAGES = (
    "churn-features",
    "churn-model",
    "churn-registry-ops",
    "churn-scoring",
    "churn-jobs",
    "scikit-learn",
    "mlflow-skinny",
    "pyspark",
    "delta-spark",
)


def git_commit() -> str:
    """The commit the code came from: ``$CHURN_GIT_COMMIT`` (set by deploy), else ``git``."""
    if commit := os.environ.get("CHURN_GIT_COMMIT"):
        return commit
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def lineage_tags(table_versions: dict[str, int | None]) -> dict[str, str]:
    """Tags for a run or model version (keys without dots: Unity Catalog rejects them)."""
    tags = {"git_commit": git_commit()}
    tags.update({f"version_{name.replace('-', '_')}": v for name, v in package_versions().items()})
    for table, table_version in table_versions.items():
        tags[f"delta_version_{table.replace('.', '_')}"] = str(table_version)
    return tags
