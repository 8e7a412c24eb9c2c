"""pyspark's Python worker daemon, importing pyspark and py4j from the installed packages.

Spark puts ``$SPARK_HOME/python/lib/pyspark.zip`` and py4j's zip first on its Python workers'
path. With pip's pyspark, ``SPARK_HOME`` is the installed package itself, which holds the same
code unzipped beside its bytecode. Imported from the zip, each worker compiles from source
what it imports (zipimport writes no bytecode), and every task's ``importlib.invalidate_caches()``
re-reads the 1,328 entries of pyspark.zip's directory (Python 3.11's zipimporter): in one
``churn demo``, the workers spent 6.5 of their 15 CPU-seconds there (sampled with py-spy).

``local_spark`` names this module in ``spark.python.daemon.module``. It drops a zip from the
path only where the package it holds is installed on the same path; otherwise the daemon runs
exactly as pyspark's own.
"""

from __future__ import annotations

import os
import sys


def installed_elsewhere(zip_path: str, path: list[str]) -> bool:
    """Whether the package in Spark's ``zip_path`` is installed in a directory of ``path``."""
    name = os.path.basename(zip_path)
    if name == "pyspark.zip":
        package = "pyspark"
    elif name.startswith("py4j-") and name.endswith("-src.zip"):
        package = "py4j"
    else:
        return False
    return any(
        os.path.isfile(os.path.join(entry, package, "__init__.py"))
        for entry in path
        if entry and not entry.endswith(".zip")
    )


def drop_installed_zips(path: list[str]) -> list[str]:
    """``path`` without Spark's zips whose packages it also has installed."""
    return [entry for entry in path if not installed_elsewhere(entry, path)]


if __name__ == "__main__":
    sys.path[:] = drop_installed_zips(sys.path)
    from pyspark.daemon import manager

    manager()
