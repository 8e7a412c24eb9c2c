"""Request bodies of ``POST /invocations``: the MLflow scoring formats, and the lookup form.

MLflow / Databricks Model Serving accept a JSON object with exactly one of ``dataframe_split``,
``dataframe_records``, ``instances``, ``inputs`` (plus optional ``params``); the messages below
follow ``mlflow.pyfunc.scoring_server``. The lookup form is ``{"customer_id": "..."}`` (one
customer) or ``{"customer_id": [...]}`` (a batch): features come from the online store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

SUPPORTED_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
OUTPUTS = ("probability", "label")
MAX_ROWS = 10_000

REQUIRED_INPUT_FORMAT = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    f"{set(SUPPORTED_FORMATS)}, or a lookup {{'customer_id': [...]}}"
)


class PayloadError(Exception):
    """A request the service cannot score as sent; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400, error_code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code


@dataclass(frozen=True)
class FrameRequest:
    """Full feature rows (one row per record)."""

    frame: pd.DataFrame
    output: str = "probability"


@dataclass(frozen=True)
class LookupRequest:
    """Customers to score with features from the online store; ``single`` for a bare id."""

    keys: list[str]
    single: bool
    output: str = "probability"
    key: str = "customer_id"
    params: dict[str, Any] = field(default_factory=dict)


def parse_payload(body: bytes, key: str = "customer_id") -> FrameRequest | LookupRequest:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(
            f"Ensure that input is a valid JSON formatted string. Error: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise PayloadError(f"{REQUIRED_INPUT_FORMAT}. Received {type(data).__name__}.")
    output = _output(data.get("params"))
    formats = [f for f in SUPPORTED_FORMATS if f in data]
    if key in data and not formats:
        keys, single = _keys(data[key], key)
        return LookupRequest(keys=keys, single=single, output=output, key=key)
    if len(formats) != 1 or key in data:
        raise PayloadError(
            f"{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: {list(data)}."
        )
    name = formats[0]
    frame = _frame(name, data[name])
    if len(frame) > MAX_ROWS:
        raise PayloadError(
            f"{len(frame)} rows in one request; at most {MAX_ROWS}. Split the request.",
            status=413,
            error_code="RESOURCE_LIMIT_EXCEEDED",
        )
    return FrameRequest(frame=frame, output=output)


def _output(params: Any) -> str:
    if params is None:
        return "probability"
    if not isinstance(params, dict):
        raise PayloadError(f"'params' must be a JSON object, got {type(params).__name__}.")
    output = params.get("output", "probability")
    if output not in OUTPUTS:
        raise PayloadError(
            f"Unknown params.output {output!r}; use 'probability' (default) or 'label'.",
            error_code="INVALID_PARAMETER_VALUE",
        )
    return str(output)


def _keys(value: Any, key: str) -> tuple[list[str], bool]:
    single = not isinstance(value, list)
    values = [value] if single else value
    if not values:
        raise PayloadError(f"'{key}' is an empty list: name at least one customer.", status=422)
    if len(values) > MAX_ROWS:
        raise PayloadError(
            f"{len(values)} customers in one request; at most {MAX_ROWS}. Split the request.",
            status=413,
            error_code="RESOURCE_LIMIT_EXCEEDED",
        )
    bad = [v for v in values if not isinstance(v, str) or not v]
    if bad:
        raise PayloadError(
            f"'{key}' must be a non-empty string or a list of them; got {bad[:3]!r}.", status=422
        )
    return list(values), single


def _frame(name: str, value: Any) -> pd.DataFrame:
    try:
        if name == "dataframe_split":
            if not isinstance(value, dict) or "data" not in value or "columns" not in value:
                raise PayloadError(
                    "'dataframe_split' must be an object with 'columns' and 'data' "
                    "(pandas orient='split')."
                )
            return pd.DataFrame(
                data=value["data"], columns=value["columns"], index=value.get("index")
            )
        if name == "dataframe_records":
            if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
                raise PayloadError(
                    "'dataframe_records' must be a list of objects, one per row "
                    "(pandas orient='records')."
                )
            return pd.DataFrame.from_records(value)
        # instances / inputs: named columns only (the churn model has a column signature)
        if isinstance(value, dict):
            columns = {k: v if isinstance(v, list) else [v] for k, v in value.items()}
            return pd.DataFrame(columns)
        if isinstance(value, list) and all(isinstance(r, dict) for r in value):
            return pd.DataFrame.from_records(value)
        raise PayloadError(
            f"'{name}' must be an object of columns or a list of row objects: the churn model "
            "takes named feature columns."
        )
    except PayloadError:
        raise
    except (ValueError, TypeError) as exc:
        raise PayloadError(f"'{name}' cannot be read as a table: {exc}") from None
