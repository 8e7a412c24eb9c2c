"""Model registry facade (aliases or stages), sanity checks, champion/challenger decision, promotion and rollback."""

from importlib.metadata import version as _version

__version__ = _version("churn-registry-ops")
