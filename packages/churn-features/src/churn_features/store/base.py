"""The feature store port: what the jobs need from a feature store, whichever one backs it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pyspark.sql import DataFrame
from pyspark.sql.types import StructType


class Lookup(Protocol):
    """What the store reads from one feature lookup: features of ``table_name`` joined on
    ``lookup_key`` (``feature_names`` None: every column but the keys).

    churn-model's ``FeatureSpec`` lookups (``churn_model.feature_spec.FeatureLookup``) have
    exactly these fields and are passed as they are; this package does not depend on
    churn-model, so it names only the shape it needs.
    """

    @property
    def table_name(self) -> str: ...

    @property
    def lookup_key(self) -> Sequence[str]: ...

    @property
    def feature_names(self) -> Sequence[str] | None: ...


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
        feature_lookups: Sequence[Lookup],
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
