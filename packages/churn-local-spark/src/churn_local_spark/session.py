"""``local_spark``: a Delta-enabled SparkSession on this machine (local or local-cluster)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from churn_local_spark import class_cache

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: SQL settings every churn job needs, on any platform (churn-jobs also sets them on Databricks).
#: Constraint propagation makes the optimizer run out of memory on the wide derived projections
#: of validation and featurization.
SQL_SETTINGS = {"spark.sql.constraintPropagation.enabled": "false"}

LOOPBACK = "127.0.0.1"

#: The driver JVM's collector: Parallel rather than the JDK's default, G1. A local driver is one
#: short-lived JVM with a 2 GB heap on a few cores, where G1's concurrent threads and write
#: barriers cost more than its short pauses give back (see the CHANGELOG for the figures).
#: A ``local-cluster``'s executors get it too. Left out when the environment already picks a
#: collector (two would stop the JVM).
DRIVER_GC = "-XX:+UseParallelGC"
DRIVER_OPTIONS = "spark.driver.extraJavaOptions"
EXECUTOR_OPTIONS = "spark.executor.extraJavaOptions"
_JVM_ENV_OPTIONS = ("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS")

#: Spark's interpreted expressions instead of the Java it generates and compiles per query.
#: At a local driver's data sizes code generation does not pay: a refresh of the vendored data
#: compiles 110-170 classes (Spark's CodegenMetrics), and its rerun in the same JVM as many new
#: ones again; none runs long enough to be JIT-compiled, while the interpreted expressions are a
#: few shared classes the JIT compiles once. ``factoryMode`` is marked internal in Spark;
#: ``NO_CODEGEN`` is the interpreted path its default (``FALLBACK``) takes whenever generated code
#: fails to compile. Figures in the CHANGELOG.
CODEGEN_OFF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}
#: No per-file statistics in Delta's commits while expressions are interpreted. Delta computes
#: them per written row through a ``MutableProjection``; the interpreted one (Spark 4.1's
#: ``InterpretedMutableProjection``) indexes its expressions as a Scala ``List``, so each row costs
#: time quadratic in the number of statistics (min, max and null count of up to 32 columns). In
#: churn-features' refresh tests that was 36 % of the executor's task time (a JFR profile). The
#: statistics serve data skipping, which tables of a local driver's sizes do not need; tables stay
#: readable and writable by any Delta reader. Data skipping is off with them: without statistics
#: it skips no file, yet planning each query on a Delta table ran a Spark job to filter the
#: table's files (and a ``count()`` another, looking for row counts to answer it from); without
#: it, the scan lists them. Figures in the CHANGELOG.
DELTA_STATS_OFF = {
    "spark.databricks.delta.stats.collect": "false",
    "spark.databricks.delta.stats.skipping": "false",
}
DELTA_STATS_ON = {
    "spark.databricks.delta.stats.collect": "true",
    "spark.databricks.delta.stats.skipping": "true",
}
#: The Python workers' daemon: pyspark's, importing pyspark from the installed package rather
#: than from the zip Spark puts first on the workers' path (see worker_daemon.py).
WORKER_DAEMON = {"spark.python.daemon.module": "churn_local_spark.worker_daemon"}
#: No Python call site captured for each Column and DataFrame call. With it on (pyspark's
#: default), every such call makes about ten more round trips to the JVM to record where it was
#: made, for the "== DataFrame ==" part of an error message (apache/spark#48964 added this switch
#: for that cost). Building a refresh's plans takes 5,045 round trips with it and 1,625 without
#: (figures in the CHANGELOG). ``conf`` can turn it back on when debugging a query.
CALL_SITES_OFF = {"spark.python.sql.dataFrameDebugging.enabled": "false"}
#: ``toPandas`` and ``createDataFrame(pandas)`` through Arrow, as on a Databricks cluster (where
#: it is on by default) and as churn-jobs' local platform always had it: without it, ``toPandas``
#: pickles every row in the JVM and unpickles it in Python. churn-monitoring's Spark aggregates
#: end in ``toPandas``: its tests took 25-29 CPU seconds with it, 32-34 without (figures in the
#: CHANGELOG). Types Arrow cannot carry fall back to the pickled path (pyspark's default).
ARROW_ON = {"spark.sql.execution.arrow.pyspark.enabled": "true"}
#: Delta's commits and checksum files written through Hadoop's ``FileSystem`` API, not its
#: ``FileContext`` API. pip's pyspark ships no native Hadoop library, and without one the local
#: ``FileContext`` starts a ``readlink`` process each time it looks up a path (every existence
#: check, both ends of every rename), about 5 ms of CPU each: a dozen or more per Delta commit,
#: for its JSON (Delta's default ``HDFSLogStore``) and its checksum file (Spark's
#: ``FileContextBasedCheckpointFileManager``). Two refreshes of the vendored data started 334
#: processes with them, 126 without (strace; the rest are the ``chmod`` every new local file
#: gets, through either API). ``LocalLogStore`` is Delta's store
#: for local file systems, and no weaker than ``HDFSLogStore`` there: both check that the commit
#: file is absent, then rename onto it (``LocalLogStore`` serialises the two within this JVM;
#: ``HDFSLogStore`` only on a raw local file system, not the checksummed one ``file:`` paths
#: get). Across processes neither is atomic on a local disk, where a rename replaces its target
#: (Hadoop's ``AbstractFileSystem.renameInternal`` "deals with overwrite in a non-atomic way").
#: Figures in the CHANGELOG.
LOCAL_FILE_COMMITS = {
    "spark.delta.logStore.file.impl": "io.delta.storage.LocalLogStore",
    "spark.sql.streaming.checkpointFileManagerClass": (
        "org.apache.spark.sql.execution.streaming.checkpointing.FileSystemBasedCheckpointFileManager"
    ),
}
#: The client compiler (C1) only, with the tiered default's code cache (240 MB). A local driver
#: and a ``local-cluster``'s JVMs run small data, and their code never runs long enough to pay
#: back the server compiler (C2), whose threads compete with the tasks and Python for this
#: machine's few cores: a warm ``churn demo`` used 113 and 107 CPU seconds with the default
#: tiered JIT (54-56 of them in the compiler threads), 71 with this, and its seed story took 34.5
#: and 36.3 s instead of 42.8 and 41.1 s. The code cache matters: ``-XX:TieredStopAtLevel=1``
#: alone shrinks it to 48 MB, and a long driver then spends its time sweeping and recompiling
#: (churn-jobs' monitoring tests: 25 CPU seconds in the sweeper thread, against 3 with 240 MB).
#: ``local[*]`` drivers run it unless ``codegen=True`` (data large enough for Spark's generated
#: code pays for C2 too) or ``CHURN_SPARK_JIT`` (``JIT_ENV``) says otherwise; ``local-cluster``
#: JVMs always. Figures in the CHANGELOG.
CLIENT_JIT = ("-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=240m")
JIT_ENV = "CHURN_SPARK_JIT"
#: Spark's defaults (what Databricks runs), for data large enough to pay for the compiling.
CODEGEN_ON = {
    "spark.sql.codegen.wholeStage": "true",
    "spark.sql.codegen.factoryMode": "FALLBACK",
}


def local_spark(
    app_name: str,
    *,
    warehouse_dir: str | Path,
    master: str = "local[2]",
    driver_memory: str = "2g",
    shuffle_partitions: int = 2,
    metastore_dir: str | Path | None = None,
    ui: bool = False,
    codegen: bool = False,
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Start (or get) a local SparkSession with Delta Lake, bound to loopback.

    ``metastore_dir``: a persistent Hive (Derby) metastore there, so tables outlive the process;
    ``None`` keeps the in-memory catalog (fast; what tests use). ``codegen``: Spark's code
    generation, off by default (``CODEGEN_OFF``, and with it ``DELTA_STATS_OFF``); turn it on for
    data far larger than a local driver's, e.g. to benchmark at scale: the driver then keeps the
    JVM's tiered compilers instead of ``CLIENT_JIT``, and Delta its file statistics. ``conf``
    adds or overrides settings, but JVM options (``spark.driver.extraJavaOptions``, and a
    ``local-cluster``'s ``spark.executor.extraJavaOptions``) go after the platform's, so that a
    caller's ``-XX:`` or ``-D`` option wins over the platform's value of it and leaves the rest
    in place; a collector the caller chooses replaces ``DRIVER_GC``.
    ``local-cluster[...]`` masters (separate executor JVMs) work with the pip pyspark:
    ``SPARK_HOME``, when unset, is pointed at it. The Delta jars come from Maven Central on the
    first start and are cached in ``~/.ivy2``; the class cache (``class_cache``) serves later
    starts, a ``local-cluster``'s executors too.
    """
    import pyspark

    # Python workers must run this interpreter, or UDFs cannot import pandas/sklearn.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    local_cluster = master.startswith("local-cluster")
    if local_cluster:
        # local-cluster launches executors with $SPARK_HOME/bin scripts: the pip package has them.
        # A SPARK_HOME already set is the one the driver's launcher runs from too (and the one
        # its class archive was recorded for): the executors run from it as well.
        os.environ.setdefault("SPARK_HOME", os.path.dirname(pyspark.__file__))
    settings = {
        "spark.driver.host": LOOPBACK,
        "spark.driver.bindAddress": LOOPBACK,
        "spark.driver.memory": driver_memory,
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.default.parallelism": str(shuffle_partitions),
        "spark.ui.enabled": str(ui).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": str(warehouse_dir),
        "spark.pyspark.python": sys.executable,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.databricks.delta.snapshotPartitions": "2",
        **WORKER_DAEMON,
        **CALL_SITES_OFF,
        **ARROW_ON,
        **LOCAL_FILE_COMMITS,
        **SQL_SETTINGS,
        # Both ways said explicitly: pyspark's builder keeps earlier builds' options.
        **({**CODEGEN_ON, **DELTA_STATS_ON} if codegen else {**CODEGEN_OFF, **DELTA_STATS_OFF}),
    }
    callers = dict(conf or {})
    driver_options = callers.pop(DRIVER_OPTIONS, "")
    executor_options = callers.pop(EXECUTOR_OPTIONS, "") if local_cluster else ""
    collector = [] if _collector_chosen_by_environment() else [DRIVER_GC]
    java_options = [*collector]
    if metastore_dir is None:
        # Said explicitly: pyspark's builder keeps every earlier build's options in the process,
        # so after a Hive session an unset catalog would silently be Hive again.
        settings["spark.sql.catalogImplementation"] = "in-memory"
    else:
        metastore = Path(metastore_dir)
        java_options.append(f"-Dderby.system.home={metastore.parent}")
        settings["spark.hadoop.javax.jdo.option.ConnectionURL"] = (
            f"jdbc:derby:;databaseName={metastore};create=true"
        )
    if _client_jit(codegen) or local_cluster:
        java_options.extend(CLIENT_JIT)
    if local_cluster:
        # the executors get the driver's collector too (each has one core and a small heap)
        settings[EXECUTOR_OPTIONS] = after_the_platforms(
            [*collector, *CLIENT_JIT], executor_options
        )
    if java_options or driver_options:
        settings[DRIVER_OPTIONS] = after_the_platforms(java_options, driver_options)
    settings.update(callers)
    plan = _start_plan(master)
    try:
        spark = _start(app_name, master, settings, plan, hive=metastore_dir is not None)
    except Exception:
        if plan == class_cache.StartPlan():
            raise
        # The JVM would not start with the cache (an archive of another JDK build...): drop the
        # archive and start as if there were no cache.
        class_cache.forget_archive(plan)
        plan = class_cache.StartPlan()
        spark = _start(app_name, master, settings, plan, hive=metastore_dir is not None)
    class_cache.promote_at_exit(plan)
    if not plan.class_path:
        class_cache.save_jars(class_cache.cache_dir(), spark.conf.get("spark.jars", None))
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class SettingError(ValueError):
    """A local Spark setting from the environment that ``local_spark`` refuses, before any JVM
    starts; ``problem`` and ``fix`` say what is wrong and what to set instead."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem}: {fix}")


def _client_jit(codegen: bool) -> bool:
    """Whether a ``local[*]`` driver runs ``CLIENT_JIT``: ``JIT_ENV`` decides when set, else
    whether the data is small (no code generation)."""
    value = os.environ.get(JIT_ENV, "").strip().lower()
    if value not in ("", "client", "default"):
        raise SettingError(
            f"{JIT_ENV}={os.environ[JIT_ENV]!r} is not a JIT choice",
            "set it to 'client' (the client compiler only: small data, few cores) or 'default' "
            "(the JVM's tiered compilers: large data), or unset it",
        )
    return value == "client" or (not value and not codegen)


def after_the_platforms(platform: Sequence[str], callers: str) -> str:
    """The JVM options of a driver (or executor): the platform's, then the caller's. HotSpot takes
    the last value of a ``-XX:`` flag and Java the last of a ``-D`` property, so the caller's win
    where both set one; but it refuses two collectors, so the platform's ``DRIVER_GC`` is left
    out when the caller's options choose one. (Replaced whole, as a plain ``conf`` entry would
    be, a caller's one option cost the driver the client compiler and the collector: its JVM
    then ran C2 and G1.)"""
    kept = [o for o in platform if not (o == DRIVER_GC and _chooses_collector(callers))]
    return " ".join([*kept, callers.strip()]).strip()


def _collector_chosen_by_environment() -> bool:
    return _chooses_collector(" ".join(os.environ.get(name, "") for name in _JVM_ENV_OPTIONS))


def _chooses_collector(options: str) -> bool:
    return any(word.startswith("-XX:+Use") and word.endswith("GC") for word in options.split())


def _start_plan(master: str) -> class_cache.StartPlan:
    """The class cache applies to a driver JVM this call launches, in a ``local`` or
    ``local-cluster`` master (whose executors run on this machine: see ``_start``)."""
    from pyspark import SparkContext

    local = master == "local" or master.startswith(("local[", "local-cluster["))
    if SparkContext._gateway is not None or not local:
        return class_cache.StartPlan()
    return class_cache.plan_start(class_cache.cache_dir())


def _start(
    app_name: str,
    master: str,
    settings: Mapping[str, str],
    plan: class_cache.StartPlan,
    *,
    hive: bool,
) -> SparkSession:
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    settings = dict(settings)
    if plan.java_options:
        own = settings.get(DRIVER_OPTIONS, "")
        settings[DRIVER_OPTIONS] = f"{own} {plan.java_options}".strip()
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    if hive:
        builder = builder.enableHiveSupport()
    if plan.class_path:  # Ivy already resolved these jars: no resolution, and archivable classes
        class_path = os.pathsep.join(plan.class_path)
        builder = builder.config("spark.driver.extraClassPath", class_path)
        if master.startswith("local-cluster"):
            # The executors, on this machine: the same files (no copies fetched from the driver)
            # and the driver's archive mapped, since their class path is the driver's (about 12
            # of a local-cluster[2,1,1024]'s 29 CPU seconds for a small Delta write; figures in
            # the CHANGELOG). Executors never record one.
            builder = builder.config("spark.executor.extraClassPath", class_path)
            if plan.archive is not None:
                own = settings.get(EXECUTOR_OPTIONS, "")
                options = f"{own} {class_cache.map_options(plan.archive)}".strip()
                builder = builder.config(EXECUTOR_OPTIONS, options)
        return builder.getOrCreate()
    return configure_spark_with_delta_pip(builder).getOrCreate()
