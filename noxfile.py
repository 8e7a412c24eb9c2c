"""Every task a person or CI runs. `uvx nox -l` lists them; `uvx nox -s ci` is the test command.

Environments are synced from uv.lock (`--locked`: a stale lock fails instead of drifting). Each
member is tested in its own environment holding only its declared dependencies and its `test`
group, so an import of a sibling it does not declare fails there.
"""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import nox

# stdlib only, so importable here, outside any environment
sys.path.insert(0, str(Path(__file__).parent / "tools" / "churn-release" / "src"))
from churn_release.linked_copy import linked_copy
from churn_release.shared_bytecode import STORE_VARIABLE, harvest_sources, prune, seed

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
#: What sessions compute once and later runs may reuse, as uv keeps its own cache beside it:
#: outside the checkout, so that CI's clean clones reuse it too. Each entry is keyed by what it
#: was made from (a source file's inode and mtime, a module's hash, the JVM class path), so a
#: stale one is never used, only not found. ``CHURN_CI_CACHE=<dir>`` moves it.
CI_CACHE = Path(
    os.environ.get("CHURN_CI_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "churn-ci"
)
#: links to the .pyc of each source file uv linked into a session (churn_release.shared_bytecode)
BYTECODE_STORE = CI_CACHE / "bytecode"
#: bytecode no environment has linked for this long is dropped (its uv cache entry is likely gone)
BYTECODE_UNUSED_DAYS = 14


def sync(session: nox.Session, *args: str, runs_python_code: bool = True) -> None:
    """Sync the session's virtualenv from the lock (not from whatever pip would resolve).

    And compile its site-packages to bytecode (pyproject's ``compile-bytecode``), once per source
    file for all sessions: a file uv linked from its cache into an earlier session's environment
    gets that session's bytecode linked from BYTECODE_STORE (see churn_release.shared_bytecode),
    and uv's compilation, which skips up-to-date bytecode, compiles only the rest (it runs only
    when there is a rest: a CI run's environments are usually all linked).
    ``runs_python_code=False``: a session that only reads the sources (ruff, mypy) compiles
    nothing; bytecode only pays off in processes that import the stack."""
    command = ["uv", "sync", "--locked", *args]
    env = {"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}
    synced = session.run_install(*command, "--no-compile-bytecode", env=env, silent=True)
    if not runs_python_code or synced is None:  # None: `--no-install` on a reused environment
        return
    site_packages = list(Path(session.virtualenv.location).glob("lib/python3*/site-packages"))
    unseeded: list[Path] = []
    linked = sum(seed(path, BYTECODE_STORE, unseeded) for path in site_packages)
    if not unseeded:  # uv's compilation would only find every file up to date (~0.8 CPU s)
        session.log(f"bytecode: {linked} files linked from {BYTECODE_STORE}, none to compile")
        return
    session.run_install(*command, "--compile-bytecode", env=env, silent=True)
    added = harvest_sources(unseeded, BYTECODE_STORE)
    session.log(f"bytecode: {linked} files linked from {BYTECODE_STORE}, {added} new ones added")


def workspace(session: nox.Session, *, runs_python_code: bool = True) -> None:
    """Everything: all members and the dev tools (the root `dev` group)."""
    sync(session, "--all-packages", runs_python_code=runs_python_code)


@nox.session
def lint(session: nox.Session) -> None:
    workspace(session, runs_python_code=False)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    workspace(session, runs_python_code=False)
    # mypy rechecks a module whose source or dependencies changed (by hash), whatever the cache
    session.run("mypy", "--cache-dir", str(CI_CACHE / "mypy"), *SOURCE_DIRS)


# The JVM class cache (churn-local-spark's class_cache) is keyed by the class path, which holds
# the pyspark the driver runs from: a test session alone would record an archive (~30 s) for its
# own venv's pyspark only, so a lone `nox -s tests` runs with it off. `nox -s ci` records one
# archive up front (jvm_cache), or finds an earlier run's, and points every test session's
# SPARK_HOME at that pyspark (a linked copy named after its files: SPARK_HOMES).
#
# Bytecode caches are written even where PYTHONDONTWRITEBYTECODE is set (some CI images set it):
# without them every Python process of a test session (each `churn` subprocess, each Spark
# Python worker) compiles mlflow, pandas, scikit-learn... from source again, about 6 s a process.
# An empty value is "unset" to Python.
TEST_ENV = {
    "CHURN_JVM_CACHE": os.environ.get("CHURN_JVM_CACHE", "off"),
    "PYTHONDONTWRITEBYTECODE": "",
    STORE_VARIABLE: str(BYTECODE_STORE),  # venvs tests make seed from it too (seed_environment)
}
#: The class archives (churn-local-spark's class_cache names each after the class path it fits;
#: it keeps the three last used). Which pyspark this checkout's sessions run: JVM_SPARK_HOME.
JVM_CACHE = CI_CACHE / "jvm"
#: Hard-linked copies of jvm_cache's pyspark, each named after its files (churn_release's
#: linked_copy): the sessions' SPARK_HOME. The archive's name holds the jars' paths, and a clone
#: at a new place would otherwise record a new one every run (~50 s before Spark sessions start).
SPARK_HOMES = CI_CACHE / "spark-home"
JVM_SPARK_HOME = ROOT / ".nox" / "jvm-spark-home.txt"


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


@nox.session
def jvm_cache(session: nox.Session) -> None:
    """Resolve the Delta jars (Maven Central, into ~/.ivy2) and record the JVM class archive
    once, for every test session of a CI run: they all start Spark from this session's pyspark
    (``SPARK_HOME``), so one archive fits all (see churn-local-spark's class_cache). That
    pyspark runs from a linked copy named after its files (SPARK_HOMES), so an archive an
    earlier run recorded for the same pyspark from uv's cache, in any checkout, is mapped
    instead (JVM_CACHE). The whole workspace, so that the recording driver also runs an Arrow
    Python worker (pandas, pyarrow)."""
    workspace(session)
    locate = "import os, pyspark; print(os.path.dirname(pyspark.__file__))"
    output = session.run("python", "-c", locate, silent=True)
    if output is None:  # --install-only: the environment alone (see ci)
        return
    spark_home = str(linked_copy(Path(str(output).strip().splitlines()[-1]), SPARK_HOMES))
    env = {**TEST_ENV, "CHURN_JVM_CACHE": str(JVM_CACHE), "SPARK_HOME": spark_home}
    session.run("python", "-m", "churn_local_spark.warm", env=env)
    JVM_SPARK_HOME.write_text(spark_home + "\n")


# Slowest first (seconds in the last CI run's summary, run in a lane), so two lanes finish close
# together. The idle lane (see ci) takes from the other end.
CI_ORDER = [
    "churn-jobs",
    "churn-features",
    "churn-registry-ops",
    "churn-scoring",
    "integration",
    "churn-release",
    "churn-local-spark",
    "churn-infra",
    "churn-model",
    "churn-monitoring",
    "churn-serving",
    "typecheck",
    "build",
]
#: Sessions the idle lane may take (see ci): the short ones at the end of CI_ORDER (a long one
#: started there could still be running when the other lanes are done). Not churn-serving: its
#: tests give a server 30 s to start and a promotion 60 s to be followed, deadlines for a hang,
#: not for a process that yields the CPU to everything else (its setup took 19 s there, in a trial).
IDLE_LANE = {
    "churn-infra",
    "churn-model",
    "churn-monitoring",
    "typecheck",
    "build",
}
#: the niceness of the idle lane's sessions (POSIX: 19 is the lowest priority)
IDLE_NICENESS = 19
#: values of CHURN_CI_IDLE_LANE that turn it off
OFF = {"0", "off", "false", "no"}
#: Sessions whose tests start no Spark JVM (so need neither the Delta jars nor the class archive):
#: they run while jvm_cache resolves and records them.
NO_SPARK = {
    "churn-model",
    "churn-registry-ops",
    "churn-serving",
    "churn-infra",
    "churn-release",
    "typecheck",
    "build",
}


@nox.session(venv_backend="none")
def ci(session: nox.Session) -> None:
    """Everything CI runs: lint, typecheck, member tests, integration, build (the packages'
    sdists and wheels, in a lane like the rest: it needs nothing the tests make).

    The sessions run in ``CHURN_CI_LANES`` (default 2) concurrent nox processes, slowest first:
    on 2 cores a session runs 1.4-1.8x slower beside another, but the whole run takes far less
    than one lane. jvm_cache comes first in one lane: the first Spark start on a machine resolves
    the Delta jars into ~/.ivy2 (two concurrent first resolutions can corrupt that cache), and it
    records the JVM class archive every later Spark start of the run maps (about 8 s less per
    driver JVM). No session that starts Spark begins before it has passed; lint (seconds, and the
    commonest failure) and the sessions in ``NO_SPARK`` run meanwhile. A failed lint or
    jvm_cache starts nothing more. Each session's output is printed whole when it ends, then a
    summary; any failure fails the run. ``CHURN_JVM_CACHE=off`` runs without the class archive
    (churn-local-spark's tests first, in place of jvm_cache, to resolve the jars). Before any of
    that, jvm_cache's environment is synced alone, so that every later one links its bytecode.

    Beside the lanes runs an idle lane (``CHURN_CI_IDLE_LANE=0`` or ``off`` turns it off): one more
    nox process at the lowest CPU priority (``nice -n 19``), taking the sessions of ``IDLE_LANE``
    from the end of the order. The two lanes leave about a tenth of two cores idle (a process
    waiting on another, a session starting, the last one running alone); the idle lane fills that,
    and those sessions are done when the lanes get there. It is not free: beside it the lanes'
    sessions took about 10 % longer in paired runs on 2 cores (a nice-19 process gets few time
    slices, not none, and shares the cores' caches), yet the whole run ended sooner in each of four
    pairs, by 5 to 42 s (issue 15's notes have the runs)."""
    lanes = int(os.environ.get("CHURN_CI_LANES", "2"))
    idle_choice = os.environ.get("CHURN_CI_IDLE_LANE", "on").strip().lower()
    idle_lane = idle_choice not in OFF and shutil.which("nice") is not None
    missing = set(MEMBERS) - set(CI_ORDER)
    if missing:
        session.error(f"add {sorted(missing)} to CI_ORDER in noxfile.py")
    for name, listed in (("NO_SPARK", NO_SPARK), ("IDLE_LANE", IDLE_LANE)):
        if unknown := listed - set(CI_ORDER):
            session.error(f"{name} names {sorted(unknown)}, which CI_ORDER does not hold")
    names = {name: f"tests(member='{name}')" if name in MEMBERS else name for name in CI_ORDER}
    if os.environ.get("CHURN_JVM_CACHE", "").lower() == "off":
        setup = names["churn-local-spark"]

        def on_setup() -> None:
            pass

    else:
        setup = "jvm_cache"

        def on_setup() -> None:
            # inherited by the nox processes started from now on: every Spark test session
            spark_home = JVM_SPARK_HOME.read_text().strip()
            os.environ.update({"CHURN_JVM_CACHE": str(JVM_CACHE), "SPARK_HOME": spark_home})

    pruned = prune(BYTECODE_STORE, BYTECODE_UNUSED_DAYS * 24 * 3600)
    session.log(f"{CI_CACHE}: {pruned} bytecode files no environment used lately dropped")
    # The workspace environment first, alone: the sessions' environments then link its bytecode
    # (BYTECODE_STORE) instead of two starting together each compiling the same files.
    _nox(session, "jvm_cache", "--install-only")
    after_setup = {names[n] for n in CI_ORDER if n not in NO_SPARK} - {setup}
    order = [setup, "lint", *(n for n in names.values() if n != setup)]
    results = _run_in_lanes(
        session,
        order,
        lanes,
        setup=setup,
        after_setup=after_setup,
        on_setup=on_setup,
        must_pass={setup, "lint"},
        idle_lane={names[n] for n in IDLE_LANE} if idle_lane else set(),
    )
    for name, (code, seconds, idle) in results.items():
        where = "  (idle lane: its wall time beside the lanes)" if idle else ""
        session.log(f"{'ok  ' if code == 0 else 'FAIL'} {seconds:7.0f}s  {name}{where}")
    failed = [name for name, (code, _, _) in results.items() if code != 0]
    not_run = [name for name in order if name not in results]
    if failed or not_run:
        session.error(
            f"failed: {', '.join(failed)}" + (f"; not run: {', '.join(not_run)}" if not_run else "")
        )


def _nox(session: nox.Session, name: str, *options: str) -> None:
    session.run(sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", name, *options)


def _run_in_lanes(
    session: nox.Session,
    names: list[str],
    lanes: int,
    *,
    setup: str,
    after_setup: set[str],
    on_setup: Callable[[], None],
    must_pass: set[str],
    idle_lane: set[str],
) -> dict[str, tuple[int, float, bool]]:
    """Run nox sessions ``lanes`` at a time, each lane taking the first of ``names`` it may start:
    those in ``after_setup`` only once ``setup`` has passed (and ``on_setup`` has run). Once a
    session of ``must_pass`` fails, none starts. Each one's output goes to a log, printed when it
    ends (whole, so lanes do not interleave). If ``idle_lane`` names sessions, one more lane runs
    those, the last first, at niceness ``IDLE_NICENESS``. Returns each session's exit code,
    seconds, and whether the idle lane ran it."""
    import subprocess
    import threading
    import time

    logs = ROOT / ".nox" / "ci-logs"
    logs.mkdir(parents=True, exist_ok=True)
    pending = list(names)
    results: dict[str, tuple[int, float, bool]] = {}
    state = {"setup_done": False, "stop": False, "running": 0}
    ready = threading.Condition()

    def next_name(idle: bool) -> str | None:
        with ready:
            while True:
                if state["stop"] or not pending:
                    return None
                gate_open = state["setup_done"]
                allowed = [
                    n
                    for n in pending
                    if (gate_open or n not in after_setup) and (not idle or n in idle_lane)
                ]
                if allowed:
                    name = allowed[-1] if idle else allowed[0]
                    pending.remove(name)
                    state["running"] += 1
                    return name
                if not state["running"] or (idle and not idle_lane & set(pending)):
                    return None  # nothing left that could open the gate, or for this lane
                ready.wait()

    def lane(idle: bool = False) -> None:
        while (name := next_name(idle)) is not None:
            log = logs / (name.replace("'", "").replace("(", "-").replace(")", "") + ".log")
            started = time.monotonic()
            with log.open("w") as out:
                command = [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", name]
                if idle:
                    command = ["nice", "-n", str(IDLE_NICENESS), *command]
                code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
            seconds = time.monotonic() - started
            with ready:
                results[name] = (code, seconds, idle)
                state["running"] -= 1
                if name == setup and code == 0:
                    on_setup()
                    state["setup_done"] = True
                if code != 0 and name in must_pass:
                    state["stop"] = True
                where = " in the idle lane" if idle else ""
                print(f"\n===== {name}: exit {code} after {seconds:.0f}s{where} =====", flush=True)
                print(log.read_text(), flush=True)
                ready.notify_all()

    threads = [threading.Thread(target=lane) for _ in range(max(1, lanes))]
    if idle_lane:
        threads.append(threading.Thread(target=lane, kwargs={"idle": True}))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {name: results[name] for name in names if name in results}


#: Benchmarks `nox -s bench` runs only when named (`nox -s bench -- ci_time.py`): ci_time runs
#: `bash .ci/run` twice, several minutes each.
BENCH_ON_REQUEST = {"ci_time.py"}


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: reported as ratios measured side by side in one run (see benchmarks/)."""
    sync(session, "--all-packages", "--group", "bench")  # + Evidently, for monitoring.py
    out = ROOT / ".churn" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    scripts = session.posargs or sorted(
        p.name
        for p in (ROOT / "benchmarks").glob("*.py")
        if not p.name.startswith("_") and p.name not in BENCH_ON_REQUEST
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
