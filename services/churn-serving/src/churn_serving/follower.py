"""Follow promotions: poll the registry, load a new champion beside the old one, then swap.

A failed load keeps the old model serving; the failure is kept on the holder (``/ready`` and
``/metrics`` report it) and retried on the next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from churn_serving.holder import ModelHolder, ServedModel

_log = logging.getLogger("churn_serving")


@dataclass
class ChampionFollower:
    holder: ModelHolder
    champion_version: Callable[[], str | None]
    load: Callable[[str], ServedModel]
    on_swap: Callable[[ServedModel], None] | None = None
    on_failure: Callable[[str, str], None] | None = None

    def check_once(self) -> bool:
        """Swap if the champion changed; True when a new model is now served."""
        version = self.champion_version()
        current = self.holder.current()
        if version is None or (current is not None and current.version == version):
            return False
        failure = self.holder.last_failure
        try:
            served = self.load(version)
        except Exception as exc:  # any load failure: keep serving the old model
            message = f"{type(exc).__name__}: {exc}"
            if failure is None or failure.version != version:
                _log.error(
                    "loading champion version %s failed, keeping %s: %s",
                    version,
                    current.version if current else "none",
                    message,
                )
            self.holder.record_failure(version, message)
            if self.on_failure is not None:
                self.on_failure(version, message)
            return False
        self.holder.swap(served)
        _log.warning("now serving %s version %s", served.name, served.version)
        if self.on_swap is not None:
            self.on_swap(served)
        return True
