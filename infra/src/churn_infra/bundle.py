"""Export an environment's jobs as a Databricks Asset Bundle (``databricks bundle deploy``).

The jobs are the same ``JobSettings``; only the wheel libraries change, from the uploaded
release paths to the bundle's own ``artifacts`` (built by the Databricks CLI with ``uv build``
and uploaded by it), so the bundle is self-contained.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from churn_infra.environment import load_environment
from churn_infra.errors import InfraError
from churn_infra.jobs import build_jobs, job_names
from churn_infra.release import predict_release

WHEEL_DIR = "dist/bundle"


def export_bundle(env_name: str, out: Path, *, infra_dir: Path, repo_root: Path) -> list[Path]:
    """Write ``out/databricks.yml`` and ``out/resources/<job>.yml``; returns the files written.

    A file-system error (no space, no permission) is one message naming the folder; the files
    are rewritten whole on a rerun.
    """
    try:
        return _export(env_name, out, infra_dir=infra_dir, repo_root=repo_root)
    except OSError as exc:
        raise InfraError(
            f"Writing the bundle to {out} failed: {exc.strerror or exc} ({exc.filename or out}).",
            "fix the folder (space, permissions), then rerun `churn-infra bundle`",
        ) from None


def _export(env_name: str, out: Path, *, infra_dir: Path, repo_root: Path) -> list[Path]:
    env = load_environment(env_name, infra_dir)
    if env.databricks is None:
        raise InfraError(
            f"Environment {env_name!r} has no databricks: section.", "bundle a Databricks env"
        )
    target = env.databricks
    release = predict_release(repo_root)
    root = os.path.relpath(repo_root.resolve(), out.resolve())
    wheels = {
        f"{release.remote_dir(target.artifact_location)}/{m.wheel_file}": (
            f"{root}/{WHEEL_DIR}/{m.wheel_file}"
        )
        for m in release.members
    }
    workspace = {
        k: v
        for k, v in {"profile": target.workspace.profile, "host": target.workspace.host}.items()
        if v
    }
    main = {
        "bundle": {"name": f"churn-{env.name}"},
        "include": ["resources/*.yml"],
        "artifacts": {
            m.name: {
                "type": "whl",
                "path": root,
                "build": f"uv build --package {m.name} --wheel --out-dir {WHEEL_DIR}",
                "files": [{"source": f"{WHEEL_DIR}/{m.wheel_file}"}],
            }
            for m in release.members
        },
        "targets": {env.name: {"default": True, "workspace": workspace}},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "resources").mkdir(exist_ok=True)
    written = [out / "databricks.yml"]
    written[0].write_text(yaml.safe_dump(main, sort_keys=False), encoding="utf-8")
    permissions = [
        {k: v for k, v in p.model_dump().items() if v is not None} for p in target.permissions
    ]
    for job, settings in zip(job_names(env), build_jobs(env, release), strict=True):
        resource: dict[str, Any] = settings.as_dict()
        for task in resource.get("tasks", []):
            for library in task.get("libraries", []):
                if library.get("whl") in wheels:
                    library["whl"] = "../" + wheels[library["whl"]]
        if permissions:
            resource["permissions"] = permissions
        key = job.replace("-", "_")
        path = out / "resources" / f"{job}.yml"
        path.write_text(
            yaml.safe_dump({"resources": {"jobs": {key: resource}}}, sort_keys=False),
            encoding="utf-8",
        )
        written.append(path)
    return written
