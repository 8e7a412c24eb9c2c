"""churn-monitoring: drift, prediction drift and realized performance on Spark; monitor tables;
the retrain policy. See the package README."""

from churn_monitoring.aggregate import MonitorSpec, with_windows
from churn_monitoring.baseline import Baseline, summarise_baseline
from churn_monitoring.business import BusinessParams
from churn_monitoring.monitor import BASELINE, CONSECUTIVE, MonitorResult, monitor
from churn_monitoring.policy import Decision, MonitorPolicy, decide, window_verdicts
from churn_monitoring.stattests import StatTest, get_stattest, register_stattest, stattests

__all__ = [
    "BASELINE",
    "CONSECUTIVE",
    "Baseline",
    "BusinessParams",
    "Decision",
    "MonitorPolicy",
    "MonitorResult",
    "MonitorSpec",
    "StatTest",
    "decide",
    "get_stattest",
    "monitor",
    "register_stattest",
    "stattests",
    "summarise_baseline",
    "window_verdicts",
    "with_windows",
]
__version__ = "0.1.0"
