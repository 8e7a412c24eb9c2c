"""The `churn` CLI (churn-jobs) resolves `--env` through the loader churn-infra registers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _churn(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHURN_HOME": str(home)}
    env.pop("CHURN_INFRA_DIR", None)
    return subprocess.run(
        [str(BIN / "churn"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
        check=False,
    )


def test_cli_unknown_environment_and_missing_model(tmp_path: Path, repo_root: Path) -> None:
    unknown = _churn("run", "model-train", "--env", "nowhere", home=tmp_path, cwd=repo_root)
    assert unknown.returncode == 2
    assert "Unknown environment 'nowhere'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    # outside the checkout, the infra/ folder churn-infra is installed from is the fallback
    no_model = _churn("promote", "--version", "1", home=tmp_path, cwd=tmp_path)
    assert no_model.returncode == 2, no_model.stderr
    assert "churn_model" in no_model.stderr
    assert "Traceback" not in no_model.stderr


def test_cli_refuses_an_environment_file_with_derived_keys(tmp_path: Path, infra_dir: Path) -> None:
    import shutil

    copy = tmp_path / "infra"
    shutil.copytree(infra_dir / "environments", copy / "environments")
    shutil.copytree(infra_dir / "params", copy / "params")
    local = copy / "environments" / "local.yaml"
    local.write_text(local.read_text().replace("runtime:\n", "runtime:\n  platform: local\n"))
    result = _churn("run", "model-train", "--env", "local", home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "runtime.platform are derived" in result.stderr
