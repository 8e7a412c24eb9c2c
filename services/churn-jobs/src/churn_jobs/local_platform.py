"""The local environment: Spark + Delta Lake + MLflow on SQLite, all under ``CHURN_HOME``.

This is the only place that builds a SparkSession or points MLflow somewhere; libraries receive
what they need as arguments. On Databricks the cluster provides both (see ``runtime.py``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_HOME = ".churn"
#: written into CHURN_HOME when churn creates it; `churn demo --reset` deletes only such a folder
HOME_MARKER = ".churn-home"


def churn_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the root of every local store: explicit > ``$CHURN_HOME`` > ``./.churn``."""
    raw = explicit or os.environ.get("CHURN_HOME") or DEFAULT_HOME
    return Path(raw).expanduser().resolve()


@dataclass(frozen=True)
class LocalPlatform:
    """Paths of the local stores; all of them live below ``home``."""

    home: Path

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "spark-warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.home / "metastore_db"

    @property
    def mlflow_db(self) -> Path:
        return self.home / "mlflow.db"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def ensure_home(self) -> Path:
        """Create ``home``, marking it as churn's own only when this creates it (or it is empty):
        a folder that already held anything else is used but never marked, so never reset."""
        fresh = not self.home.exists() or not any(self.home.iterdir())
        self.home.mkdir(parents=True, exist_ok=True)
        if fresh:
            (self.home / HOME_MARKER).write_text(
                "This folder is a churn-mlops local store (CHURN_HOME); "
                "`churn demo --reset` may delete it.\n"
            )
        return self.home

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_db}"

    def configure_mlflow(self) -> str:
        """Point MLflow tracking and registry at the SQLite store; returns the tracking URI."""
        import mlflow

        from churn_jobs.mlflow_store import seed_store

        self.ensure_home()
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        seed_store(self.mlflow_db)
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        return self.tracking_uri

    def artifact_location(self, experiment: str) -> str:
        """Artifacts of a new experiment go to disk under ``home`` (not to ``./mlruns``)."""
        safe = experiment.strip("/").replace("/", "__") or "default"
        return (self.artifacts_dir / safe).as_uri()

    def spark(
        self,
        master: str = "local[*]",
        app_name: str = "churn",
        driver_memory: str = "4g",
        shuffle_partitions: int = 2,
        ui: bool = False,
        conf: Mapping[str, str] | None = None,
    ) -> SparkSession:
        """A Delta-enabled SparkSession with a persistent Hive (Derby) metastore under ``home``,
        started by churn-local-spark's ``local_spark`` (the builder tests and benchmarks use).

        The Delta jars are resolved from Maven Central on first start and cached in ``~/.ivy2``;
        later starts map a JVM class archive (churn-local-spark's ``class_cache``). Two shuffle
        partitions: AQE coalesces a local job's small shuffles to one partition anyway, but each
        map task still writes a block per partition (churn-jobs' monitoring tests: 103-111 CPU-s
        with four, 97-100 with two; see the CHANGELOG). ``conf`` adds
        or overrides settings of a session this call starts (benchmarks compare candidate
        settings this way); a session already running keeps its own.
        """
        from churn_local_spark import local_spark
        from churn_local_spark.session import SettingError

        self.ensure_home()
        log = self.logs_dir / "spark.log"
        try:
            with _jvm_output_to(log):
                spark = local_spark(
                    app_name,
                    master=master,
                    driver_memory=driver_memory,
                    shuffle_partitions=shuffle_partitions,
                    ui=ui,
                    warehouse_dir=self.warehouse_dir,
                    metastore_dir=self.metastore_dir,
                    conf={
                        "spark.python.worker.reuse": "true",
                        "spark.sql.adaptive.enabled": "true",
                        **(conf or {}),
                    },
                )
        except SettingError as exc:  # refused before any JVM started (CHURN_SPARK_JIT...)
            from churn_jobs.errors import UserError

            raise UserError(exc.problem, exc.fix) from exc
        except Exception as exc:  # the JVM did not start: Java missing, jars unreachable...
            from churn_jobs.errors import UserError

            raise UserError(
                f"Spark could not start ({type(exc).__name__}); its output is in {log}.",
                "install Java 17+ (java -version), and let the first start reach Maven Central "
                "for the Delta Lake jars",
            ) from exc
        return spark


@contextmanager
def _jvm_output_to(log_file: Path) -> Iterator[None]:
    """Send the JVM's stdout/stderr (Ivy resolution, log4j start-up lines) to a log file.

    The Spark JVM is a child process that inherits file descriptors 1 and 2 when it starts; they
    are pointed at the log for the duration of the start only, so this process's own output is
    unaffected afterwards while the JVM keeps writing to the log.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with log_file.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
