"""Online churn scoring: the champion by alias, features from the online store, follows promotions.

``create_app(holder, store, ...)`` builds the FastAPI app from its dependencies; ``server.serve``
wires them to an MLflow registry and a PostgreSQL online store and runs uvicorn.
"""

from importlib.metadata import version as _version

__version__ = _version("churn-serving")
