"""Score a micro-batch: one online-store lookup and one ``predict_proba`` for many requests.

Runs in the batcher's worker thread. The model is read from the holder once per batch, so every
request of the batch is scored (and answered) with the same version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churn_serving.holder import ModelHolder, ServedModel
from churn_serving.payload import FrameRequest, LookupRequest

if TYPE_CHECKING:
    from churn_features.store.online import OnlineStore

NOT_FOUND = "not_found"
MISSING_COLUMNS = "missing feature columns"
OK = "ok"


class NotReadyError(Exception):
    """No model is loaded yet."""


@dataclass(frozen=True)
class Scored:
    """One request's answer: per row, the probability (NaN when not scored) and a reason."""

    served: ServedModel
    probabilities: np.ndarray
    reasons: list[str | None]
    keys: list[str] | None


@dataclass(frozen=True)
class ScoredBatch:
    """What the inference log needs about a whole batch (features as the model saw them)."""

    served: ServedModel
    features: pd.DataFrame
    keys: list[str | None]
    probabilities: np.ndarray
    reasons: list[str | None]
    scored_at: datetime


class BatchScorer:
    def __init__(self, holder: ModelHolder, store: OnlineStore | None) -> None:
        self.holder = holder
        self.store = store

    def __call__(
        self, requests: list[FrameRequest | LookupRequest]
    ) -> tuple[list[Scored], ScoredBatch]:
        served = self.holder.current()
        if served is None:
            raise NotReadyError("no model is loaded yet")
        model = served.model
        columns = model.feature_names
        looked_up = self._look_up(served, [r for r in requests if isinstance(r, LookupRequest)])

        rows: list[list[Any]] = []
        keys: list[str | None] = []
        reasons: list[str | None] = []
        spans: list[tuple[int, int]] = []
        for request in requests:
            start = len(keys)
            if isinstance(request, LookupRequest):
                for k in request.keys:
                    found = looked_up.get(k)
                    keys.append(k)
                    if found is None:
                        reasons.append(NOT_FOUND)
                    else:
                        rows.append(found)
                        reasons.append(None)
            else:
                # Checked on arrival, but a swap to a model with other features may come between.
                missing = [c for c in columns if c not in request.columns]
                if not missing:
                    rows.extend(request.select(columns))
                ids = request.column("customer_id")
                keys.extend([None] * len(request) if ids is None else [_str(v) for v in ids])
                reason = f"{MISSING_COLUMNS}: {missing}" if missing else None
                reasons.extend([reason] * len(request))
            spans.append((start, len(keys)))

        features = pd.DataFrame(rows, columns=columns)
        scored_rows = np.array([r is None for r in reasons], dtype=bool)
        probabilities = np.full(len(keys), np.nan)
        if len(features):
            probabilities[scored_rows] = model.predict_proba(features)
        results = [
            Scored(
                served=served,
                probabilities=probabilities[a:b],
                reasons=reasons[a:b],
                keys=request.keys if isinstance(request, LookupRequest) else None,
            )
            for request, (a, b) in zip(requests, spans, strict=True)
        ]
        batch = ScoredBatch(
            served, features, keys, probabilities, reasons, scored_at=datetime.now(UTC)
        )
        return results, batch

    def _look_up(self, served: ServedModel, requests: list[LookupRequest]) -> dict[str, list[Any]]:
        """customer id -> the model's feature values in ``feature_names`` order (found only)."""
        if not requests:
            return {}
        spec = served.model.feature_spec
        if spec is None or self.store is None:
            raise LookupUnavailableError(
                f"model {served.name} v{served.version} has no feature spec"
                if spec is None
                else "this service has no online store"
            )
        wanted = list(dict.fromkeys(k for r in requests for k in r.keys))
        columns = served.model.feature_names
        values: dict[str, dict[str, Any]] = {k: {} for k in wanted}
        for lookup in spec.lookups:
            if len(lookup.lookup_key) != 1:
                raise LookupUnavailableError(
                    f"the feature spec looks {lookup.table_name} up by a composite key "
                    f"{lookup.lookup_key}; the lookup form takes one customer_id"
                )
            names = [n for n in lookup.feature_names if n in columns]
            rows = self.store.lookup(lookup.table_name, lookup.lookup_key[0], wanted, names)
            for key in wanted:
                row = rows.get(key)
                if row is None:
                    values.pop(key, None)
                elif key in values:
                    values[key].update(zip(names, row, strict=True))
        return {k: [v.get(c) for c in columns] for k, v in values.items()}


class LookupUnavailableError(Exception):
    """The lookup form cannot be served (no feature spec, no store, composite key)."""


def _str(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def utc_now() -> datetime:
    return datetime.now(UTC)
