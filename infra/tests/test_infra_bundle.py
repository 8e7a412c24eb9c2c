"""The Databricks Asset Bundle export carries the same job definitions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from churn_infra.bundle import export_bundle
from churn_infra.environment import load_environment
from churn_infra.jobs import build_jobs
from churn_infra.release import predict_release
from churn_jobs.errors import UserError


def test_bundle_has_every_job_with_bundle_built_wheels(
    tmp_path: Path, infra_dir: Path, repo_root: Path
) -> None:
    out = tmp_path / "bundle"
    written = export_bundle("prod", out, infra_dir=infra_dir, repo_root=repo_root)
    main = yaml.safe_load((out / "databricks.yml").read_text())
    assert main["targets"]["prod"]["workspace"] == {"profile": "churn-prod"}
    assert len(main["artifacts"]) == 7  # churn-jobs and the packages it depends on
    env = load_environment("prod", infra_dir)
    expected = {s.name: s.as_dict() for s in build_jobs(env, predict_release(repo_root))}
    resources = {}
    for path in written[1:]:
        (resource,) = yaml.safe_load(path.read_text())["resources"]["jobs"].values()
        resources[resource["name"]] = resource
    assert set(resources) == set(expected)
    for name, resource in resources.items():
        assert resource.pop("permissions")[0]["level"] == "CAN_VIEW"
        for task, want in zip(resource["tasks"], expected[name]["tasks"], strict=True):
            libraries = task.pop("libraries")
            wheels = [lib["whl"] for lib in libraries if "whl" in lib]
            # PyPI libraries (feature-publish's databricks-feature-engineering) stay as they are
            assert [lib for lib in libraries if "whl" not in lib] == [
                lib for lib in want.pop("libraries") if "whl" not in lib
            ]
            assert wheels
            assert all(
                (out / "resources" / w).resolve().parent == (repo_root / "dist" / "bundle")
                for w in wheels
            )
        assert resource == expected[name]
    # the validation job runs on every new version of the Unity Catalog model
    validation = resources["PROD-churn-model-validation"]
    assert validation["trigger"]["model"] == {
        "condition": "MODEL_VERSION_READY",
        "securable_name": "churn_prod.churn.churn_model",
    }
    refresh = resources["PROD-churn-feature-table-refresh"]["tasks"]
    assert refresh[1]["task_key"] == "feature-publish"
    assert refresh[1]["depends_on"] == [{"task_key": "feature-table-refresh"}]


def test_bundle_needs_a_databricks_environment(
    tmp_path: Path, infra_dir: Path, repo_root: Path
) -> None:
    with pytest.raises(UserError, match="no databricks"):
        export_bundle("local", tmp_path, infra_dir=infra_dir, repo_root=repo_root)
