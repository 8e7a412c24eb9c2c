"""``FeatureSpec``: how scoring finds a model's features from primary keys alone.

Logged with the model as ``feature_spec.json``::

    {"lookups": [{"table_name": "main.churn.churn_features", "lookup_key": ["customer_id"],
                  "feature_names": ["tenure", ...]}],
     "label": "churn"}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from churn_model.contract import KEY_COLUMN, LABEL_COLUMN
from churn_model.errors import FeatureSpecError


class FeatureLookup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    table_name: str = Field(min_length=1)
    lookup_key: list[str] = Field(min_length=1)
    feature_names: list[str] = Field(min_length=1)


class FeatureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lookups: list[FeatureLookup] = Field(min_length=1)
    label: str = LABEL_COLUMN

    @classmethod
    def for_table(
        cls,
        table_name: str,
        feature_names: Sequence[str],
        *,
        lookup_key: Sequence[str] = (KEY_COLUMN,),
        label: str = LABEL_COLUMN,
    ) -> FeatureSpec:
        """The usual case: every feature from one table keyed by ``customer_id``."""
        lookup = FeatureLookup(
            table_name=table_name, lookup_key=list(lookup_key), feature_names=list(feature_names)
        )
        return cls(lookups=[lookup], label=label)

    @property
    def feature_names(self) -> list[str]:
        """All looked-up feature names, in lookup order."""
        return [name for lookup in self.lookups for name in lookup.feature_names]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> FeatureSpec:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FeatureSpecError(
                f"feature spec {path} does not exist; log the model with feature_spec=..."
            ) from None
        except json.JSONDecodeError as exc:
            raise FeatureSpecError(f"feature spec {path} is not valid JSON: {exc}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors()
            )
            raise FeatureSpecError(f"feature spec {path} is invalid: {problems}") from None
