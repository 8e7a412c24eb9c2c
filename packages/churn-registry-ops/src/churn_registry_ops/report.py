"""The outcome of the sanity checks: one `CheckResult` per check, gathered in a `SanityReport`.

Plain data (pydantic only): `errors`, `sanity` and `registry` all read it, it imports none of them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, computed_field


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    detail: str
    #: short code tagged on a refused version (e.g. `foreign_code`, `auc_below_floor`)
    reason: str | None = None


class SanityReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_uri: str
    checks: list[CheckResult]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    @property
    def failure_reasons(self) -> list[str]:
        """The reason code of each failed check (its name when it has none), in check order."""
        return [c.reason or c.name for c in self.failures]

    def summary(self) -> str:
        if self.passed:
            return f"all {len(self.checks)} sanity checks passed"
        return "failed: " + "; ".join(f"{c.name}: {c.detail}" for c in self.failures)
