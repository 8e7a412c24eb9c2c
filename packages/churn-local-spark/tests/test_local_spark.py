from __future__ import annotations

import gc
import json
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from functools import reduce
from pathlib import Path

import pytest
from child_driver import run_driver
from conftest import CommandLog
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from churn_local_spark import (
    CODEGEN_OFF,
    CODEGEN_ON,
    DELTA_STATS_OFF,
    DELTA_STATS_ON,
    SQL_SETTINGS,
    local_spark,
)
from churn_local_spark.session import (
    CLIENT_JIT,
    DRIVER_GC,
    JIT_ENV,
    SettingError,
    after_the_platforms,
)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = local_spark(
        "churn-local-spark-tests",
        warehouse_dir=tmp_path_factory.mktemp("warehouse"),
        conf={"spark.sql.shuffle.partitions": "3"},
    )
    yield session
    session.stop()


def test_the_session_is_local_on_loopback_with_the_workarounds(spark: SparkSession) -> None:
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master == "local[2]"
    assert conf.get("spark.driver.host") == "127.0.0.1"
    assert conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert conf.get("spark.pyspark.python") == sys.executable
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    for key, value in SQL_SETTINGS.items():
        assert spark.conf.get(key) == value
    # ``conf`` wins over the defaults
    assert spark.conf.get("spark.sql.shuffle.partitions") == "3"


def test_pandas_frames_cross_through_arrow(spark: SparkSession) -> None:
    """``ARROW_ON``: an array column arrives as numpy arrays, as Arrow hands it over (the pickled
    path gives Python lists), and a pandas frame goes back to Spark as it came."""
    import numpy as np
    import pandas as pd
    from pyspark.sql import functions as F

    frame = spark.range(2).select("id", F.array(F.lit("a"), F.lit("b")).alias("xs")).toPandas()
    assert isinstance(frame["xs"][0], np.ndarray)
    assert frame["xs"][0].tolist() == ["a", "b"]
    back = spark.createDataFrame(pd.DataFrame({"id": [3, 4], "name": ["c", None]}))
    assert [tuple(r) for r in back.orderBy("id").collect()] == [(3, "c"), (4, None)]


def test_delta_tables_work_with_time_travel(spark: SparkSession, tmp_path: Path) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS t")
    spark.range(3).write.format("delta").saveAsTable("t.numbers")
    spark.range(5).write.format("delta").mode("overwrite").saveAsTable("t.numbers")
    assert spark.table("t.numbers").count() == 5
    assert spark.sql("SELECT * FROM t.numbers VERSION AS OF 0").count() == 3


def _file_statistics(spark: SparkSession, path: Path) -> list[object]:
    """The ``stats`` of each file the first commit of a new Delta table at ``path`` adds."""
    spark.range(10).selectExpr("id", "CAST(id AS STRING) AS s").write.format("delta").save(
        str(path)
    )
    commit = path / "_delta_log" / f"{0:020d}.json"
    actions = [json.loads(line) for line in commit.read_text().splitlines()]
    return [a["add"].get("stats") for a in actions if "add" in a]


def test_delta_writes_no_file_statistics_while_expressions_are_interpreted(
    spark: SparkSession, tmp_path: Path
) -> None:
    """``DELTA_STATS_OFF`` with ``CODEGEN_OFF`` (see session.py: interpreted statistics cost
    time quadratic in their number per row); Delta's default gives them back."""
    assert spark.conf.get("spark.sql.codegen.factoryMode") == "NO_CODEGEN"
    without = _file_statistics(spark, tmp_path / "without")
    assert without, "the commit adds files"
    assert all(s is None for s in without), without

    for key, value in DELTA_STATS_ON.items():
        spark.conf.set(key, value)
    try:
        with_stats = _file_statistics(spark, tmp_path / "with")
    finally:
        for key, value in DELTA_STATS_OFF.items():
            spark.conf.set(key, value)
    assert sum(json.loads(s)["numRecords"] for s in with_stats) == 10  # type: ignore[arg-type]


def test_planning_a_delta_query_runs_no_spark_job(spark: SparkSession) -> None:
    """``DELTA_STATS_OFF`` also turns data skipping off: with it on, planning a filtered query on
    a Delta table runs a Spark job to filter the table's files, which without statistics keeps
    every one."""
    spark.sql("CREATE DATABASE IF NOT EXISTS t")
    spark.range(10).write.format("delta").mode("overwrite").saveAsTable("t.planned")
    query = spark.table("t.planned").where("id > 3")
    tracker = spark.sparkContext.statusTracker()
    before = set(tracker.getJobIdsForGroup(None))
    query.explain()  # plans it, runs nothing
    assert set(tracker.getJobIdsForGroup(None)) == before
    assert query.count() == 6


def test_python_workers_run_this_interpreter(spark: SparkSession) -> None:
    def executable(_: object) -> str:
        import sys as worker_sys

        return worker_sys.executable

    assert set(spark.sparkContext.parallelize([1, 2], 2).map(executable).collect()) == {
        sys.executable
    }


def test_python_workers_import_pyspark_from_the_installed_package(spark: SparkSession) -> None:
    """Not from the pyspark.zip Spark puts first on the workers' path (worker_daemon.py)."""

    def origin(_: object) -> str:
        import pyspark as worker_pyspark

        return worker_pyspark.__file__ or ""

    import pyspark

    assert set(spark.sparkContext.parallelize([1, 2], 2).map(origin).collect()) == {
        pyspark.__file__
    }


def test_the_daemon_drops_only_zips_whose_packages_are_installed(tmp_path: Path) -> None:
    from churn_local_spark.worker_daemon import drop_installed_zips

    site = tmp_path / "site-packages"
    lib = site / "pyspark" / "python" / "lib"
    (site / "pyspark").mkdir(parents=True)
    (site / "pyspark" / "__init__.py").touch()
    spark_zip, py4j_zip = str(lib / "pyspark.zip"), str(lib / "py4j-0.10.9.9-src.zip")
    other_zip = str(tmp_path / "deps.zip")
    # py4j is not installed here: its zip stays, as does any zip that is not Spark's
    assert drop_installed_zips([spark_zip, py4j_zip, other_zip, str(site)]) == [
        py4j_zip,
        other_zip,
        str(site),
    ]
    (site / "py4j").mkdir()
    (site / "py4j" / "__init__.py").touch()
    assert drop_installed_zips([spark_zip, py4j_zip, str(site)]) == [str(site)]
    # without the installed packages on the path, pyspark's own daemon path is unchanged
    assert drop_installed_zips([spark_zip, py4j_zip]) == [spark_zip, py4j_zip]


def _compilations(spark: SparkSession) -> int:
    metrics = spark.sparkContext._jvm.org.apache.spark.metrics.source.CodegenMetrics  # type: ignore[union-attr]
    return int(metrics.METRIC_COMPILATION_TIME().getCount())


def _join_and_aggregate(spark: SparkSession, modulus: int, digit: str) -> list[tuple[int, int]]:
    numbers = spark.range(1000).selectExpr(
        "id", f"id % {modulus} AS k", f"CAST(id AS STRING) AS s{modulus}"
    )
    joined = numbers.join(numbers.groupBy("k").count(), "k").where(f"s{modulus} LIKE '%{digit}%'")
    counted = joined.groupBy("k").agg(F.count("*").alias("n"))
    return sorted((row["k"], row["n"]) for row in counted.collect())


def _expected(modulus: int, digit: str) -> list[tuple[int, int]]:
    return [
        (k, sum(i % modulus == k and digit in str(i) for i in range(1000))) for k in range(modulus)
    ]


def test_queries_run_interpreted_without_compiling_code(spark: SparkSession) -> None:
    """Code generation is off on a local driver (``CODEGEN_OFF``): a new join and aggregate
    compiles next to nothing, where Spark's defaults compile a class per stage and expression.
    (Different queries in the two modes: Spark caches what it compiled by source code.)"""
    before = _compilations(spark)
    assert _join_and_aggregate(spark, 7, "3") == _expected(7, "3")
    interpreted = _compilations(spark) - before

    for key, value in CODEGEN_ON.items():
        spark.conf.set(key, value)
    try:
        before = _compilations(spark)
        assert _join_and_aggregate(spark, 5, "4") == _expected(5, "4")
        generated = _compilations(spark) - before
    finally:
        for key, value in CODEGEN_OFF.items():
            spark.conf.set(key, value)
    assert interpreted <= generated // 4, (
        f"compiled {interpreted} classes, {generated} with codegen"
    )
    assert generated >= 5, "the counter should see Spark's generated classes"


def _round_trips(build: Callable[[], object]) -> Counter[str]:
    """py4j commands this thread sends the JVM while ``build`` runs, by command and
    static target. Another thread's commands, and finalizers run by a garbage
    collection that happens to fall inside ``build``, are not ``build``'s: neither is counted."""
    from py4j.clientserver import ClientServerConnection

    sent: Counter[str] = Counter()
    send = ClientServerConnection.send_command
    builder = threading.get_ident()

    def counted(self: ClientServerConnection, command: str) -> str:
        if threading.get_ident() == builder:
            kind, target, *_ = [*command.split("\n", 2), ""]
            sent[f"{kind} {target if target.startswith('z:') else '(object)'}"] += 1
        return send(self, command)

    collecting = gc.isenabled()
    gc.disable()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ClientServerConnection, "send_command", counted)
            build()
    finally:
        if collecting:
            gc.enable()
    return sent


def test_column_calls_capture_no_python_call_site(spark: SparkSession) -> None:
    """``CALL_SITES_OFF``: building an expression costs under two round trips to the JVM per
    Column call (99 for these 59 calls). pyspark's default first records each call's Python call
    site, in several more (689 and 853 for the same 59 calls in two runs, with pyspark 4.1)."""
    import pyspark.errors.utils

    # pyspark reads the setting from the active session once per process and keeps it.
    pyspark.errors.utils._enable_debugging_cache = None
    names = [f"c{i}" for i in range(20)]
    calls = 2 * len(names) + len(names) - 1  # col and isNull per name, one & between each two

    def build() -> object:
        return reduce(lambda a, b: a & b, (F.col(n).isNull() for n in names))

    build()  # the first call reads the setting
    sent = _round_trips(build)
    assert sum(sent.values()) <= 2 * calls, sent


def _collectors(spark: SparkSession) -> list[str]:
    management = spark.sparkContext._jvm.java.lang.management.ManagementFactory  # type: ignore[union-attr]
    return sorted(str(bean.getName()) for bean in management.getGarbageCollectorMXBeans())


def test_the_driver_jvm_runs_the_parallel_collector(spark: SparkSession) -> None:
    assert _collectors(spark) == ["PS MarkSweep", "PS Scavenge"]


COLLECTORS_CHILD = """
import sys
from churn_local_spark import local_spark
conf = {"spark.driver.extraJavaOptions": sys.argv[2]} if len(sys.argv) > 2 else None
spark = local_spark("collector-test", warehouse_dir=sys.argv[1], conf=conf)
management = spark.sparkContext._jvm.java.lang.management.ManagementFactory
print("COLLECTORS", sorted(str(b.getName()) for b in management.getGarbageCollectorMXBeans()))
print("ARGUMENTS", list(management.getRuntimeMXBean().getInputArguments()))
"""


def _jvm_arguments(spark: SparkSession) -> list[str]:
    management = spark.sparkContext._jvm.java.lang.management.ManagementFactory  # type: ignore[union-attr]
    return [str(a) for a in management.getRuntimeMXBean().getInputArguments()]


JIT_CHILD = """
import sys
from churn_local_spark import local_spark
spark = local_spark("jit-test", warehouse_dir=sys.argv[1], codegen=sys.argv[2] == "codegen")
jvm = spark.sparkContext._jvm
bean = jvm.java.lang.management.ManagementFactory.getPlatformMXBean(
    jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean")
)
print("OPTIONS", [str(bean.getVMOption(o).getValue()) for o in sys.argv[3:]])
"""
#: the VM's values of CLIENT_JIT's two options, read back from the running JVM
JIT_OPTIONS = ("TieredStopAtLevel", "ReservedCodeCacheSize")
CLIENT_VALUES = ["1", str(240 * 1024 * 1024)]


def _vm_options(spark: SparkSession, names: tuple[str, ...]) -> list[str]:
    jvm = spark.sparkContext._jvm
    bean = jvm.java.lang.management.ManagementFactory.getPlatformMXBean(  # type: ignore[union-attr]
        jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean")  # type: ignore[union-attr]
    )
    return [str(bean.getVMOption(name).getValue()) for name in names]


def test_a_small_data_driver_runs_the_client_compiler_with_the_full_code_cache(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Without code generation (the default) a driver runs C1 only, with a 240 MB code cache
    (TieredStopAtLevel=1 alone would shrink it to 48 MB), unless CHURN_SPARK_JIT=default; a
    driver with code generation keeps the tiered compilers and their code cache."""
    import os

    client = os.environ.get(JIT_ENV, "").lower() != "default"
    assert all(flag in _jvm_arguments(spark) for flag in CLIENT_JIT) == client
    assert (_vm_options(spark, JIT_OPTIONS) == CLIENT_VALUES) == client
    env = {key: value for key, value in os.environ.items() if key != JIT_ENV}
    result = run_driver(JIT_CHILD, str(tmp_path / "warehouse"), "codegen", *JIT_OPTIONS, env=env)
    tiered = result.stdout.split("OPTIONS", 1)[1].strip()
    assert tiered == str(["4", str(240 * 1024 * 1024)]), "the tiered default: C2, 240 MB"


def test_an_unknown_jit_choice_is_one_clear_error(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(JIT_ENV, "fast")
    with pytest.raises(SettingError, match="CHURN_SPARK_JIT='fast' is not a JIT choice") as error:
        local_spark("jit-test", warehouse_dir=tmp_path)
    assert error.value.fix.startswith("set it to 'client'")


def test_a_collector_chosen_in_the_environment_is_kept(tmp_path: Path) -> None:
    """Two collectors would stop the JVM: JAVA_TOOL_OPTIONS' choice wins over ours. And a
    caller's own JVM option joins the platform's instead of replacing them."""
    import ast
    import os

    env = {**os.environ, "JAVA_TOOL_OPTIONS": "-XX:+UseSerialGC"}
    env.pop(JIT_ENV, None)
    caller = "-Dchurn.caller.option=kept"
    result = run_driver(COLLECTORS_CHILD, str(tmp_path / "warehouse"), caller, env=env)
    assert "COLLECTORS ['Copy', 'MarkSweepCompact']" in result.stdout
    arguments = ast.literal_eval(result.stdout.split("ARGUMENTS", 1)[1].strip().splitlines()[0])
    assert caller in arguments
    assert set(CLIENT_JIT) <= set(arguments), "the platform's options stay beside the caller's"
    assert DRIVER_GC not in arguments


def test_a_callers_jvm_options_come_after_the_platforms_and_may_replace_its_collector() -> None:
    platform = [DRIVER_GC, *CLIENT_JIT]
    assert after_the_platforms(platform, "") == " ".join(platform)
    # HotSpot takes a flag's last value: the caller's C2 choice wins over CLIENT_JIT's
    assert after_the_platforms(platform, " -XX:TieredStopAtLevel=4 -Da=b ") == " ".join(
        [*platform, "-XX:TieredStopAtLevel=4 -Da=b"]
    )
    # but it refuses two collectors: the caller's replaces the platform's
    assert after_the_platforms(platform, "-XX:+UseSerialGC") == " ".join(
        [*CLIENT_JIT, "-XX:+UseSerialGC"]
    )
    assert after_the_platforms([], "-Da=b") == "-Da=b"


def test_delta_commits_start_no_readlink_process(
    spark: SparkSession, command_log: CommandLog
) -> None:
    """Hadoop's local FileContext starts a ``readlink`` per path it looks up (no native Hadoop
    library in pip's pyspark): Delta's commits and checksum files go through the FileSystem API
    instead (``LOCAL_FILE_COMMITS``; these two commits started 32 without it). The session's
    wrappers (conftest) log each command the JVM starts; ``chmod`` (every new local file gets
    one, either way) shows they are seen."""
    before = command_log.counts()

    spark.range(5).writeTo("commits").using("delta").createOrReplace()
    spark.range(3).write.format("delta").mode("append").saveAsTable("commits")
    assert spark.table("commits").count() == 8

    started = command_log.counts() - before
    assert started["chmod"] > 0, "the JVM's commands pass through the wrappers"
    assert started["readlink"] == 0, started
