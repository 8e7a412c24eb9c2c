"""Runtime settings every job receives: where the tables, the experiment and the model live.

A job receives them (inside its ``JobRequest``); it never reads an environment file. The
environment loader (churn-infra) builds them from a file's ``runtime:`` section, deriving
``environment`` (the file's name) and ``platform`` (whether it has a ``databricks:`` section).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator


class StrictModel(BaseModel):
    """Unknown keys are an error: a typo in a config file must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


#: a catalog, schema or table name that needs no quoting in Spark SQL
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class TableNames(StrictModel):
    """Short names of the tables the jobs read and write (qualified by catalog and schema)."""

    bronze: Identifier = "churn_bronze"
    quarantine: Identifier = "churn_quarantine"
    features: Identifier = "churn_features"
    labels: Identifier = "churn_labels"
    reference: Identifier = "churn_reference"
    predictions: Identifier = "churn_predictions"
    refresh_log: Identifier = "churn_refresh_log"


class RuntimeSettings(StrictModel):
    environment: str = Field(description="Environment name: local, dev, staging, prod, ...")
    platform: Literal["local", "databricks"] = "local"
    catalog: Identifier | None = Field(
        default=None, description="Unity Catalog name; None uses the session's default catalog."
    )
    schema_name: Identifier = Field(default="churn", alias="schema")
    tables: TableNames = TableNames()
    experiment: str = Field(description="MLflow experiment name (a workspace path on Databricks).")
    registered_model_name: str = Field(
        description="Registered model; a three-level name (catalog.schema.model) on Unity Catalog."
    )
    registry_mode: Literal["aliases", "stages"] = "aliases"
    workspace_profile: str | None = Field(
        default=None,
        description="The databricks-sdk profile of the environment's workspace (derived from its "
        "databricks: section): MLflow off the cluster uses databricks://<profile>.",
    )

    @model_validator(mode="after")
    def _names_fit_the_platform(self) -> RuntimeSettings:
        if self.catalog and self.registered_model_name.count(".") != 2:
            raise ValueError(
                "with a Unity Catalog `catalog`, registered_model_name must be three-level "
                f"(catalog.schema.model), got {self.registered_model_name!r}"
            )
        if self.platform == "databricks" and not self.experiment.startswith("/"):
            raise ValueError(
                f"on Databricks the experiment is a workspace path such as /Shared/churn/<env>, "
                f"got {self.experiment!r}"
            )
        return self

    @property
    def database(self) -> str:
        """``catalog.schema`` (or just ``schema`` when no catalog is set)."""
        return f"{self.catalog}.{self.schema_name}" if self.catalog else self.schema_name

    def table(self, short_name: str) -> str:
        """Fully qualified name of a table, e.g. ``churn.churn_features``."""
        return f"{self.database}.{short_name}"
