"""MLflow models-from-code entry: MLflow copies and runs this file to build the pyfunc model."""

import mlflow.models

from churn_model.pyfunc import ChurnPyfuncModel

mlflow.models.set_model(ChurnPyfuncModel())
