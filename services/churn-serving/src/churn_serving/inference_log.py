"""The inference log: every scored row, appended as Parquet off the request path.

Batches are handed to a background thread (a queue put: no I/O on the request path) that writes
one Parquet file per flush under ``<dir>/scoring_date=YYYY-MM-DD/`` (Hive layout: Spark reads the
directory as one table, ``spark.read.parquet(dir)``). Files are written under a hidden name and
renamed, so a reader never sees half a file. The columns are those of the batch predictions table
where they overlap (``customer_id``, the features, ``churn_probability``, ``churn_prediction``,
``missing_features_reason``, ``model_name``, ``model_version``, ``scoring_run_id``, ``scored_at``,
``scoring_date``), so the monitoring job can read online traffic as another window.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from churn_serving.scoring import ScoredBatch

ONLINE_RUN_ID = "online"
_log = logging.getLogger("churn_serving")


class InferenceLog:
    def __init__(
        self, directory: str | Path, *, flush_seconds: float = 1.0, max_rows: int = 50_000
    ) -> None:
        self.directory = Path(directory)
        self.flush_seconds = flush_seconds
        self.max_rows = max_rows
        self._queue: queue.Queue[ScoredBatch | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.rows_written = 0
        self.files_written = 0
        self.write_errors = 0

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="churn-inference-log", daemon=True)
        self._thread.start()

    def append(self, batch: ScoredBatch) -> None:
        self._queue.put(batch)

    def close(self) -> None:
        """Write what is queued and stop."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        pending: list[ScoredBatch] = []
        rows = 0
        while True:
            try:
                item = self._queue.get(timeout=self.flush_seconds)
            except queue.Empty:
                item = ...  # type: ignore[assignment]  # time to flush
            if isinstance(item, ScoredBatch):
                pending.append(item)
                rows += len(item.keys)
                if rows < self.max_rows:
                    continue
            if pending:
                self._write(pending)
                pending, rows = [], 0
            if item is None:
                return

    def _write(self, batches: list[ScoredBatch]) -> None:
        try:
            frame = pd.concat(
                [
                    _rows(list(group))
                    for _, group in itertools.groupby(batches, key=lambda b: id(b.served))
                ],
                ignore_index=True,
            )
            for date, part in frame.groupby("scoring_date", sort=True):
                folder = self.directory / f"scoring_date={date}"
                folder.mkdir(parents=True, exist_ok=True)
                name = f"part-{pd.Timestamp.now('UTC').value}-{uuid.uuid4().hex[:8]}.parquet"
                hidden = folder / f".{name}"
                part.drop(columns=["scoring_date"]).to_parquet(
                    hidden, index=False, coerce_timestamps="us", allow_truncated_timestamps=True
                )
                os.replace(hidden, folder / name)
                self.files_written += 1
            self.rows_written += len(frame)
        except Exception:  # the log must never take the service down; count and report it
            self.write_errors += 1
            _log.exception("writing the inference log to %s failed", self.directory)


def _rows(batches: list[ScoredBatch]) -> pd.DataFrame:
    """One row per scored (or unscorable) input row of ``batches`` (all scored by one model),
    features typed as the model reads them. Built once per flush, column by column: per batch
    it cost the service's CPU (and the event loop's GIL time) for every micro-batch of one row."""
    served = batches[0].served
    model = served.model
    keys = [k for b in batches for k in b.keys]
    reasons = [r for b in batches for r in b.reasons]
    n = len(keys)
    scored = np.array([r is None for r in reasons], dtype=bool)
    parts = [b.features for b in batches if len(b.features)]
    features = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    probabilities = np.concatenate([b.probabilities for b in batches])
    scored_at = pd.DatetimeIndex(
        np.repeat(
            np.array([pd.Timestamp(b.scored_at).as_unit("us").asm8 for b in batches]),
            [len(b.keys) for b in batches],
        ),
        tz="UTC",
    )
    out = pd.DataFrame({"customer_id": pd.array(keys, dtype="string")})
    for column in model.feature_names:
        values = features[column] if column in features.columns else None
        if column in model.numeric_features:
            full = np.full(n, np.nan)
            if values is not None:
                full[scored] = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
            out[column] = full
        else:
            full_s = pd.array([None] * n, dtype="string")
            if values is not None:
                full_s[scored] = values.astype("string").to_numpy()
            out[column] = full_s
    out["churn_probability"] = probabilities
    labels = pd.array((probabilities >= model.threshold).astype("int32"), dtype="Int32")
    labels[~scored] = pd.NA
    out["churn_prediction"] = labels
    out["missing_features_reason"] = pd.array(reasons, dtype="string")
    out["model_name"] = served.name
    out["model_version"] = served.version
    out["scoring_run_id"] = ONLINE_RUN_ID
    out["scored_at"] = scored_at
    out["scoring_date"] = scored_at.strftime("%Y-%m-%d")
    return out
