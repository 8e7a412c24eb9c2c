"""The model being served, swapped atomically when the champion changes.

A request (or a micro-batch) reads ``holder.current()`` once and scores with that object to the
end, so a swap in the middle never changes the model under it: in-flight work finishes on the
model it started with, new work gets the new one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from churn_model.loaded import LoadedChurnModel


@dataclass(frozen=True)
class ServedModel:
    name: str
    version: str
    model: LoadedChurnModel
    loaded_at: datetime


@dataclass(frozen=True)
class LoadFailure:
    version: str
    message: str
    at: datetime


class ModelHolder:
    def __init__(self, served: ServedModel | None = None) -> None:
        self._served = served
        self._lock = threading.Lock()
        self.last_failure: LoadFailure | None = None

    def current(self) -> ServedModel | None:
        return self._served  # one attribute read: atomic

    def swap(self, served: ServedModel) -> ServedModel | None:
        """Serve ``served`` from now on; returns the model it replaced."""
        with self._lock:
            previous, self._served = self._served, served
            if self.last_failure is not None and self.last_failure.version == served.version:
                self.last_failure = None
            return previous

    def record_failure(self, version: str, message: str) -> None:
        self.last_failure = LoadFailure(version, message, datetime.now(UTC))
