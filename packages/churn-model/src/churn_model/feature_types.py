"""Which MLflow signature type a churn model declares for a column, from the column's type name.

The one map between Spark SQL, pandas/numpy and MLflow type names (plain strings: no pyspark or
mlflow import). It follows ``mlflow_model.model_signature``: every integer column is declared
``long``, every other numeric column ``double``, categorical columns ``string``. The feature
contract a version is validated against (``churn-jobs``) and the sanity checks
(``churn-registry-ops``) both read types through it, so they cannot drift apart.
"""

from __future__ import annotations

#: column type name (Spark SQL simpleString, pandas/numpy dtype, or MLflow DataType) -> the MLflow
#: signature type churn-model declares for such a column
MLFLOW_TYPES: dict[str, str] = {
    # Spark SQL (DataFrame.dtypes)
    "tinyint": "long",
    "smallint": "long",
    "int": "long",
    "bigint": "long",
    "float": "double",
    "double": "double",
    "string": "string",
    "boolean": "boolean",
    "binary": "binary",
    "timestamp": "datetime",
    # pandas / numpy
    "int8": "long",
    "int16": "long",
    "int32": "long",
    "int64": "long",
    "float32": "double",
    "float64": "double",
    "object": "string",
    "str": "string",
    "bool": "boolean",
    "bytes": "binary",
    "datetime64[ns]": "datetime",
    # MLflow DataType names
    "integer": "long",
    "long": "long",
    "datetime": "datetime",
}


def mlflow_type(type_name: object) -> str:
    """The MLflow signature type for ``type_name``; ``ValueError`` naming the accepted names."""
    key = str(type_name).strip().lower()
    if key not in MLFLOW_TYPES:
        raise ValueError(
            f"unknown column type {type_name!r}; use a Spark, pandas or MLflow type name "
            "(long, double, string, boolean...)"
        )
    return MLFLOW_TYPES[key]
