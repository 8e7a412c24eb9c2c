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
    """Full feature rows, row-major in ``columns`` order (plain Python values: no per-request
    DataFrame, the micro-batch builds one frame for all its requests)."""

    columns: list[str]
    rows: list[list[Any]]
    output: str = "probability"

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, output: str = "probability") -> FrameRequest:
        return cls([str(c) for c in frame.columns], frame.to_numpy(dtype=object).tolist(), output)

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, wanted: list[str]) -> list[list[Any]]:
        """The rows restricted to ``wanted`` columns, in that order (all must be present)."""
        index = {name: i for i, name in enumerate(self.columns)}
        positions = [index[name] for name in wanted]
        return [[row[i] for i in positions] for row in self.rows]

    def column(self, name: str) -> list[Any] | None:
        if name not in self.columns:
            return None
        i = self.columns.index(name)
        return [row[i] for row in self.rows]


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
    columns, rows = _table(name, data[name])
    if len(rows) > MAX_ROWS:
        raise PayloadError(
            f"{len(rows)} rows in one request; at most {MAX_ROWS}. Split the request.",
            status=413,
            error_code="RESOURCE_LIMIT_EXCEEDED",
        )
    return FrameRequest(columns=columns, rows=rows, output=output)


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


def _table(name: str, value: Any) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows) of a payload, checked for shape; no pandas on this path."""
    if name == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value or "columns" not in value:
            raise PayloadError(
                "'dataframe_split' must be an object with 'columns' and 'data' "
                "(pandas orient='split')."
            )
        columns, data = value["columns"], value["data"]
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise PayloadError("'dataframe_split.columns' must be a list of column names.")
        if not isinstance(data, list) or not all(
            isinstance(r, list) and len(r) == len(columns) for r in data
        ):
            raise PayloadError(
                f"'dataframe_split.data' must be a list of rows of {len(columns)} values "
                "(one per column)."
            )
        return list(columns), data
    if name == "dataframe_records":
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise PayloadError(
                "'dataframe_records' must be a list of objects, one per row "
                "(pandas orient='records')."
            )
        return _records(value)
    # instances / inputs: named columns only (the churn model has a column signature)
    if isinstance(value, dict):
        lists = {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        lengths = {len(v) for v in lists.values()}
        if len(lengths) > 1:
            raise PayloadError(f"'{name}' columns have different lengths {sorted(lengths)}.")
        return list(lists), [list(r) for r in zip(*lists.values(), strict=True)]
    if isinstance(value, list) and all(isinstance(r, dict) for r in value):
        return _records(value)
    raise PayloadError(
        f"'{name}' must be an object of columns or a list of row objects: the churn model "
        "takes named feature columns."
    )


def _records(records: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    columns = list(dict.fromkeys(k for record in records for k in record))
    return columns, [[record.get(c) for c in columns] for record in records]
