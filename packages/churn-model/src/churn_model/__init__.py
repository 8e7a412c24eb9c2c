"""Churn classifier: scikit-learn pipeline, training, evaluation and an MLflow pyfunc model. No pyspark, no JVM."""

from importlib.metadata import version as _version

__version__ = _version("churn-model")
