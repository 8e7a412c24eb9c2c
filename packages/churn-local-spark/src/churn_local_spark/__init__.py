"""The one builder of a local Spark session with Delta Lake, bound to 127.0.0.1.

churn-jobs' local platform, every member's test fixtures and the benchmarks start Spark through
``local_spark``, so the settings the project depends on (loopback, the driver's interpreter for
Python workers, Delta, UTC, and the constraint-propagation workaround in ``SQL_SETTINGS``) live
in one place. Libraries never call it: they receive a session.
"""

from importlib.metadata import version as _version

from churn_local_spark.session import (
    CODEGEN_OFF,
    CODEGEN_ON,
    DELTA_STATS_OFF,
    DELTA_STATS_ON,
    SQL_SETTINGS,
    local_spark,
)

__version__ = _version("churn-local-spark")

__all__ = [
    "CODEGEN_OFF",
    "CODEGEN_ON",
    "DELTA_STATS_OFF",
    "DELTA_STATS_ON",
    "SQL_SETTINGS",
    "__version__",
    "local_spark",
]
