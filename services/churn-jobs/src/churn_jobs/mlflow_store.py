"""A new local MLflow store starts as a copy of an empty one at this MLflow's schema.

MLflow creates a SQLite store by running every one of its schema migrations (alembic), about 1 s
of a job's start on 2 cores, paid by every fresh ``CHURN_HOME``: each ``churn demo --reset`` and
each test that runs a job in a new folder. The migrations' result does not depend on the folder,
so it is made once per MLflow version, in the user's cache, and copied. It holds the tables only:
MLflow adds the default experiment (and its artifact location) to each copy on first use, as it
does to a store it created itself. If the template cannot be made (a future MLflow without
``_initialize_tables``), MLflow creates the store as before.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

_log = logging.getLogger(__name__)


def template_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "churn-jobs"


def empty_store_template(cache: Path | None = None) -> Path | None:
    """The cached empty store of this MLflow version, made now if missing; None if it cannot be."""
    import mlflow

    cache = cache or template_dir()
    template = cache / f"mlflow-{mlflow.__version__}-empty.db"
    if template.is_file():
        return template
    partial = template.with_name(f"{template.name}.{os.getpid()}.partial")
    try:
        import sqlalchemy
        from mlflow.store.db.utils import _initialize_tables

        cache.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        engine = sqlalchemy.create_engine(f"sqlite:///{partial}")
        try:
            _initialize_tables(engine)
        finally:
            engine.dispose()
        os.replace(partial, template)  # whole or not at all, whoever else is making it
    except Exception as exc:  # an optimisation only: MLflow makes the store itself
        _log.debug("no MLflow store template (%s: %s)", type(exc).__name__, exc)
        partial.unlink(missing_ok=True)
        return None
    return template


def seed_store(db: Path, cache: Path | None = None) -> bool:
    """Copy the empty template to ``db`` if there is no store there yet; True if it did."""
    if db.exists():
        return False
    template = empty_store_template(cache)
    if template is None:
        return False
    partial = db.with_name(f"{db.name}.{os.getpid()}.partial")
    try:
        shutil.copyfile(template, partial)
        os.link(partial, db)  # fails if a store appeared meanwhile: that one is kept
    except OSError:
        return False
    finally:
        partial.unlink(missing_ok=True)
    return True
