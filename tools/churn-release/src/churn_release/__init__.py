"""churn-release: dev-only release tooling for the churn-mlops uv workspace (imports no member)."""

__version__ = "0.1.0"
