"""The JVM class cache, on real driver JVMs started in child processes with their own cache."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from child_driver import run_driver
from pyspark.sql import SparkSession

from churn_local_spark import class_cache, local_spark

#: ``python -c CHILD <warehouse> job|start [java options]``: a driver that starts Spark and, with
#: ``job``, runs a job (the JVM works, archive or not; Delta's own classes are every other Spark
#: test's business). The recording start only starts: the archive it dumps at exit holds every
#: class the JVM loaded, and a job's classes add about 6 CPU seconds to the dump (143 MB instead
#: of 102 MB). Java options go in ``spark.driver.defaultJavaOptions``, which the JVM gets before
#: ``extraJavaOptions``: the platform's own (its collector and client compiler, the archive) stay.
#: (Given as ``extraJavaOptions`` they once replaced them: that child's JVM ran C2 and another
#: collector, 9.3 CPU seconds instead of 4.5; ``local_spark`` now appends those, see
#: ``after_the_platforms``.) ``JVM``: what the JVM was started with.
CHILD = """
import sys
from churn_local_spark import local_spark
conf = {"spark.driver.defaultJavaOptions": sys.argv[3]} if len(sys.argv) > 3 else None
spark = local_spark("class-cache-test", warehouse_dir=sys.argv[1], conf=conf)
if sys.argv[2] == "job":
    assert spark.range(3).count() == 3
print("OPTIONS", spark.sparkContext.getConf().get("spark.driver.extraJavaOptions"))
runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
print("JVM", " ".join(runtime.getInputArguments()))
"""


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = local_spark("class-cache-tests", warehouse_dir=tmp_path_factory.mktemp("warehouse"))
    yield session
    session.stop()


def _jars_of(spark: SparkSession) -> str:
    """The Delta jars this session runs with, as ``spark.jars`` lists them (comma-separated)."""
    conf = spark.sparkContext.getConf()
    listed = conf.get("spark.jars", None)
    return listed or ",".join((conf.get("spark.driver.extraClassPath") or "").split(os.pathsep))


def _child(cache: Path, tmp: Path, *java_options: str, job: bool = True) -> str:
    warehouse = tmp / f"wh{len(list(tmp.glob('wh*')))}"
    env = {**os.environ, class_cache.ENV: str(cache)}
    mode = "job" if job else "start"
    result = run_driver(CHILD, str(warehouse), mode, *java_options, env=env, cwd=tmp)
    return result.stdout + result.stderr


#: the class cache's own flags (``class_cache.plan_start``)
CACHE_FLAGS = ("-XX:ArchiveClassesAtExit=", "-XX:SharedArchiveFile=", "-XX:ErrorFile=")


def _started_with(output: str) -> set[str]:
    """The arguments a child's JVM was started with (its ``JVM`` line)."""
    line = next(line for line in output.splitlines() if line.startswith("JVM "))
    return set(line.split()[1:])


def test_an_archive_is_recorded_once_then_mapped_and_a_broken_one_is_dropped(
    spark: SparkSession, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    class_cache.save_jars(cache, _jars_of(spark))

    recorded = _child(cache, tmp_path, job=False)
    assert "-XX:ArchiveClassesAtExit=" in recorded
    archives = list(cache.glob("*.jsa"))
    assert len(archives) == 1, sorted(p.name for p in cache.iterdir())
    assert class_cache.state(cache) == "map"
    assert not list(cache.glob("*.partial")), "the recording was promoted, not left behind"

    # -Xshare:on: the JVM refuses to start unless it maps the archives (and the fallback that
    # starts without ours would delete it, failing the next assertion).
    mapped = _child(cache, tmp_path, "-Xshare:on")
    assert f"-XX:SharedArchiveFile={archives[0]}" in mapped
    # ... beside the platform's own flags (its collector and compiler: those the recording JVM
    # had, other than the class cache's), not instead of them
    platform = {
        flag
        for flag in _started_with(recorded)
        if flag.startswith("-XX:") and not flag.startswith(CACHE_FLAGS)
    }
    assert platform
    assert {"-Xshare:on", *platform} <= _started_with(mapped), platform - _started_with(mapped)
    assert archives[0].is_file()

    # A truncated archive crashes the JVM that maps it: the start is retried without, and the
    # archive deleted so the next start records a sound one.
    data = archives[0].read_bytes()
    archives[0].write_bytes(data[: len(data) // 3])
    _child(cache, tmp_path)
    assert not archives[0].exists()
    assert not list(tmp_path.glob("hs_err_pid*.log")), "crash reports stay in the cache dir"


def test_a_partial_archive_of_a_process_that_is_gone_is_never_mapped(
    spark: SparkSession, tmp_path: Path
) -> None:
    class_cache.save_jars(tmp_path, _jars_of(spark))
    assert class_cache.state(tmp_path) == "record"
    plan = class_cache.plan_start(tmp_path)
    assert plan.recording is not None
    assert plan.archive is None
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    name = plan.recording.name.split(".", 1)[0]
    stale = tmp_path / f"{name}.{int(dead.stdout)}.partial"
    stale.write_bytes(b"half an archive")

    again = class_cache.plan_start(tmp_path)

    assert again.archive is None
    assert again.recording == plan.recording
    assert not stale.exists()


def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(class_cache.ENV, "off")
    assert class_cache.cache_dir() is None
    assert class_cache.plan_start(class_cache.cache_dir()) == class_cache.StartPlan()
    assert class_cache.state(class_cache.cache_dir()) == "off"
    monkeypatch.setenv(class_cache.ENV, str(tmp_path))
    assert class_cache.cache_dir() == tmp_path
    assert class_cache.plan_start(tmp_path) == class_cache.StartPlan(), "no jar list yet"
    assert class_cache.state(tmp_path) == "resolve jars"


def test_recording_a_new_archive_keeps_only_the_most_recently_used_ones(
    spark: SparkSession, tmp_path: Path
) -> None:
    class_cache.save_jars(tmp_path, _jars_of(spark))
    others = [tmp_path / f"spark-other{i}.jsa" for i in range(4)]
    for age, archive in enumerate(others):
        archive.write_bytes(b"archive of another Python environment")
        os.utime(archive, (1_000_000 - age, 1_000_000 - age))  # others[0] used last

    plan = class_cache.plan_start(tmp_path)

    assert plan.recording is not None
    kept = sorted(p.name for p in tmp_path.glob("*.jsa"))
    assert kept == [p.name for p in others[: class_cache.KEEP_ARCHIVES - 1]]


def test_the_archive_follows_the_spark_home_the_driver_runs_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """pyspark's launcher takes Spark's jars from $SPARK_HOME: environments that point it at one
    pyspark share one archive, and another Spark gets its own."""
    import pyspark

    own_pyspark = Path(pyspark.__file__).parent
    jars = (str(tmp_path / "delta.jar"),)
    monkeypatch.delenv("SPARK_HOME", raising=False)
    assert class_cache.spark_home() == own_pyspark
    own = class_cache._archive_name(jars)

    other = tmp_path / "other-spark"
    (other / "jars").mkdir(parents=True)
    (other / "jars" / "spark-core.jar").write_bytes(b"another build")
    monkeypatch.setenv("SPARK_HOME", str(other))
    assert class_cache.spark_home() == other
    assert class_cache._archive_name(jars) != own

    monkeypatch.setenv("SPARK_HOME", str(own_pyspark))
    assert class_cache._archive_name(jars) == own
