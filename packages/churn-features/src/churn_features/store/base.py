"""The feature store port: what the jobs need from a feature store, whichever one backs it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pyspark.sql import DataFrame
from pyspark.sql.types import StructType


@dataclass(frozen=True)
class FeatureLookup:
    """Features of ``table_name`` joined on ``lookup_key`` (``None`` names: all but the keys)."""

    table_name: str
    lookup_key: tuple[str, ...] = ("customer_id",)
    feature_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # Accept a single key name or any sequence; store a tuple so lookups stay hashable.
        if isinstance(self.lookup_key, str):
            object.__setattr__(self, "lookup_key", (self.lookup_key,))
        else:
            object.__setattr__(self, "lookup_key", tuple(self.lookup_key))
        if self.feature_names is not None:
            object.__setattr__(self, "feature_names", tuple(self.feature_names))


@dataclass(frozen=True)
class TableWrite:
    """What a write did: the table's Delta version after it and the rows it changed."""

    table_name: str
    version: int
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    metrics: dict[str, int] = field(default_factory=dict)


class FeatureStore(Protocol):
    def create_table(
        self, name: str, primary_keys: Sequence[str], schema: StructType, description: str
    ) -> None:
        """Create the feature table if it does not exist (an existing one must match)."""
        ...

    def write_table(self, name: str, df: DataFrame) -> TableWrite:
        """Upsert ``df`` by primary key (MERGE); rows absent from ``df`` are removed."""
        ...

    def read_table(self, name: str, version: int | None = None) -> DataFrame:
        """The table now, or at Delta ``version`` (time travel)."""
        ...

    def table_version(self, name: str) -> int | None:
        """The table's current version, or None if it does not exist."""
        ...

    def create_training_set(
        self,
        df: DataFrame,
        feature_lookups: Sequence[FeatureLookup],
        label: str | None,
        exclude_columns: Sequence[str] = (),
        as_of: Mapping[str, int] | None = None,
    ) -> DataFrame:
        """``df`` (keys, label, anything else) joined with the looked-up features.

        Columns already in ``df`` win over a looked-up feature of the same name; keys without
        features keep null features (a left join: nothing is dropped silently). ``as_of``: table
        name -> Delta version to look features up at (tables it does not name: their current
        version). A lookup's table name that is not a plain table name is refused.
        """
        ...
