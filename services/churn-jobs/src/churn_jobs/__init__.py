"""The deployable churn application: job entry points and the churn CLI, wiring the packages to an
environment.
"""

from importlib.metadata import version as _version

__version__ = _version("churn-jobs")
