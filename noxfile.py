"""Every task a person or CI runs. `uvx nox -l` lists them; `uvx nox -s ci` is the test command.

Environments are synced from uv.lock (`--locked`: a stale lock fails instead of drifting). Each
member is tested in its own environment holding only its declared dependencies and its `test`
group, so an import of a sibling it does not declare fails there.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests", "integration", "build"]

ROOT = Path(__file__).parent
MEMBERS = {
    "churn-local-spark": "packages/churn-local-spark",
    "churn-features": "packages/churn-features",
    "churn-model": "packages/churn-model",
    "churn-registry-ops": "packages/churn-registry-ops",
    "churn-scoring": "packages/churn-scoring",
    "churn-monitoring": "packages/churn-monitoring",
    "churn-jobs": "services/churn-jobs",
    "churn-serving": "services/churn-serving",
    "churn-infra": "infra",
    "churn-release": "tools/churn-release",
}
SOURCE_DIRS = [f"{path}/src" for path in MEMBERS.values()]
DIST = ROOT / "dist"


def sync(session: nox.Session, *args: str) -> None:
    """Sync the session's virtualenv from the lock (not from whatever pip would resolve)."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        silent=True,
    )


def workspace(session: nox.Session) -> None:
    """Everything: all members and the dev tools (the root `dev` group)."""
    sync(session, "--all-packages")


@nox.session
def lint(session: nox.Session) -> None:
    workspace(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    workspace(session)
    session.run("mypy", *SOURCE_DIRS)


# The JVM class cache (churn-local-spark's class_cache) is keyed by the class path, which holds
# each nox venv's own pyspark: an archive recorded in a test session (~30 s once) would serve only
# later runs of that session. CI starts from clean clones, so it is off there unless asked for.
TEST_ENV = {"CHURN_JVM_CACHE": os.environ.get("CHURN_JVM_CACHE", "off")}


@nox.session
@nox.parametrize("member", list(MEMBERS))
def tests(session: nox.Session, member: str) -> None:
    """One member's tests in an environment with only its declared dependencies (plus its
    `local` extra: the open-source Spark + Delta that a Databricks runtime provides)."""
    sync(session, "--package", member, *_local_extra(member), "--group", "test")
    path = MEMBERS[member]
    session.run(
        "python",
        "-m",
        "pytest",
        f"{path}/tests",
        "-p",
        "no:cacheprovider",
        "--durations=10",  # where each member's test time goes, in every CI log
        *session.posargs,
        env=TEST_ENV,
    )


def _local_extra(member: str) -> list[str]:
    project = tomllib.loads((ROOT / MEMBERS[member] / "pyproject.toml").read_text())["project"]
    return ["--extra", "local"] if "local" in project.get("optional-dependencies", {}) else []


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-package tests in tests/: contracts and the end-to-end local workflow."""
    workspace(session)
    session.run(
        "python",
        "-m",
        "pytest",
        "tests",
        "-p",
        "no:cacheprovider",
        "--durations=10",
        *session.posargs,
        env=TEST_ENV,
    )


@nox.session(venv_backend="none")
def build(session: nox.Session) -> None:
    """Every member's wheel and sdist into dist/ (one out dir)."""
    session.run("uv", "build", "--all-packages", "--out-dir", str(DIST), external=True)
    session.log("built: " + ", ".join(sorted(p.name for p in DIST.glob("*.whl"))))


# Slowest first (minutes in the last CI log's --durations), so two lanes finish close together.
CI_ORDER = [
    "churn-jobs",
    "churn-features",
    "churn-registry-ops",
    "churn-scoring",
    "churn-release",
    "integration",
    "churn-infra",
    "churn-monitoring",
    "typecheck",
    "churn-model",
    "churn-serving",
]


@nox.session(venv_backend="none")
def ci(session: nox.Session) -> None:
    """Everything CI runs: lint, typecheck, member tests, integration, build.

    lint runs first (seconds, and the commonest failure). churn-local-spark's tests run alone
    next: the first Spark start on a machine resolves the Delta jars into ~/.ivy2, and two
    concurrent Ivy resolutions can corrupt that cache. The rest run in ``CHURN_CI_LANES``
    (default 2) concurrent nox processes, slowest first: on 2 cores a session runs 1.4-1.8x
    slower beside another, but the whole run takes ~40 min instead of ~57. Each session's output
    is printed whole when it ends, then a summary; any failure fails the run."""
    lanes = int(os.environ.get("CHURN_CI_LANES", "2"))
    _nox(session, "lint")  # seconds, and the commonest failure: first
    _nox(session, "tests(member='churn-local-spark')")
    names = [f"tests(member='{name}')" if name in MEMBERS else name for name in CI_ORDER]
    missing = set(MEMBERS) - {"churn-local-spark"} - set(CI_ORDER)
    if missing:
        session.error(f"add {sorted(missing)} to CI_ORDER in noxfile.py")
    results = _run_in_lanes(session, names, lanes)
    for name, (code, seconds) in results.items():
        session.log(f"{'ok  ' if code == 0 else 'FAIL'} {seconds:7.0f}s  {name}")
    failed = [name for name, (code, _) in results.items() if code != 0]
    if failed:
        session.error(f"failed: {', '.join(failed)}")
    _nox(session, "build")


def _nox(session: nox.Session, name: str) -> None:
    session.run(sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", name)


def _run_in_lanes(
    session: nox.Session, names: list[str], lanes: int
) -> dict[str, tuple[int, float]]:
    """Run nox sessions ``lanes`` at a time; each one's output goes to a log, printed when it
    ends (whole, so lanes do not interleave)."""
    import subprocess
    import threading
    import time

    logs = ROOT / ".nox" / "ci-logs"
    logs.mkdir(parents=True, exist_ok=True)
    pending = list(names)
    results: dict[str, tuple[int, float]] = {}
    lock = threading.Lock()

    def lane() -> None:
        while True:
            with lock:
                if not pending:
                    return
                name = pending.pop(0)
            log = logs / (name.replace("'", "").replace("(", "-").replace(")", "") + ".log")
            started = time.monotonic()
            with log.open("w") as out:
                command = [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", name]
                code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
            seconds = time.monotonic() - started
            with lock:
                results[name] = (code, seconds)
                print(f"\n===== {name}: exit {code} after {seconds:.0f}s =====", flush=True)
                print(log.read_text(), flush=True)

    threads = [threading.Thread(target=lane) for _ in range(max(1, lanes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {name: results[name] for name in names}


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: reported as ratios measured side by side in one run (see benchmarks/)."""
    sync(session, "--all-packages", "--group", "bench")  # + Evidently, for monitoring.py
    out = ROOT / ".churn" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    scripts = session.posargs or sorted(
        p.name for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_")
    )
    for script in scripts:
        session.run(
            "python", f"benchmarks/{script}", "--out", str(out / f"{Path(script).stem}.json")
        )


@nox.session
def demo(session: nox.Session) -> None:
    """The seed's whole workflow on the local environment (`churn demo`)."""
    workspace(session)
    session.run("churn", "demo", *session.posargs)


def _infra(session: nox.Session, command: str) -> None:
    workspace(session)
    session.run("churn-infra", command, *session.posargs, env=_passthrough_env())


def _passthrough_env() -> dict[str, str]:
    # databricks-sdk unified auth reads DATABRICKS_* itself; nothing is printed or written here.
    return {k: v for k, v in os.environ.items() if k.startswith("DATABRICKS_")}


@nox.session
def deploy(session: nox.Session) -> None:
    """`nox -s deploy -- <env> [--dry-run]`: build wheels, upload them, upsert the jobs."""
    _infra(session, "deploy")


@nox.session
def launch(session: nox.Session) -> None:
    """`nox -s launch -- <job> <env> [--submit] [--existing-cluster ID]`: run one job, follow it."""
    _infra(session, "launch")


@nox.session
def bundle(session: nox.Session) -> None:
    """`nox -s bundle -- <env>`: export the same jobs as a Databricks Asset Bundle."""
    _infra(session, "bundle")


@nox.session
def changed(session: nox.Session) -> None:
    """`nox -s changed -- --base origin/main`: members a change touches, and their dependents."""
    workspace(session)
    session.run("churn-release", "changed-packages", *session.posargs)


@nox.session
def release(session: nox.Session) -> None:
    """`nox -s release -- <package> <version>`: bump one package, check its changelog."""
    workspace(session)
    session.run("churn-release", "release", *session.posargs)


def _release_tool(session: nox.Session, command: str) -> None:
    """A churn-release command, in an environment of churn-release alone (no dev tools, no
    local Spark): quick to sync in a release job, and its stdout is the command's own."""
    sync(session, "--package", "churn-release", "--no-dev")
    session.run("churn-release", command, *session.posargs)


@nox.session
def check_tag(session: nox.Session) -> None:
    """`nox -s check_tag -- <tag> --format json`: the member and version a release tag names."""
    _release_tool(session, "check-tag")


@nox.session
def smoke_wheel(session: nox.Session) -> None:
    """`nox -s smoke_wheel -- <package> --wheels DIR --venv DIR`: install it outside the repo."""
    _release_tool(session, "smoke-wheel")


@nox.session
def release_notes(session: nox.Session) -> None:
    """`nox -s release_notes -- <package> <version>`: its CHANGELOG entry (release notes)."""
    _release_tool(session, "release-notes")


if __name__ == "__main__":
    sys.exit("run with nox: uvx nox -s <session>")
