"""User-facing errors of churn-features: each message names the problem and the fix."""

from __future__ import annotations


class ChurnFeaturesError(Exception):
    """Base class: a failure the user can fix (bad source, bad data, bad table)."""


class SourceUnreadableError(ChurnFeaturesError):
    """The raw source cannot be read (missing path, not a CSV, empty)."""


class MissingColumnsError(ChurnFeaturesError):
    """The raw source lacks columns the contract requires."""


class TooManyBadRowsError(ChurnFeaturesError):
    """More rows failed validation than the configured fraction allows."""


class FeatureTableError(ChurnFeaturesError):
    """A feature table is missing, or does not match what is being written to it."""


class PartialRefreshError(ChurnFeaturesError):
    """A write failed after others had committed; the message lists what was written."""


class TooManyDeletionsError(ChurnFeaturesError):
    """The new source would remove more customers than allowed, or has too few rows."""


class InvalidTableNameError(ChurnFeaturesError):
    """A table name that is not ``[catalog.][schema.]table`` of plain identifiers."""


class NoCompletedRefreshError(ChurnFeaturesError):
    """No feature-table refresh has completed yet, so there is no consistent set to read."""


class OnlineStoreError(ChurnFeaturesError):
    """The online feature store is unreachable, unpublished, or refuses what is written to it."""
