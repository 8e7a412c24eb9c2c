"""The vendored IBM Telco Customer Churn file (see ``data/PROVENANCE.md``)."""

from __future__ import annotations

import gzip
import hashlib
from importlib.resources import files
from pathlib import Path

VENDORED_FILE = "telco_customer_churn.csv.gz"
#: sha256 of the decompressed CSV, as published with the data set's provenance.
VENDORED_SHA256 = "88be4b93fbe0cc83421af1c503794c97c342eca914c1576db7c276e61d61358a"
VENDORED_ROWS = 7043


def vendored_csv_path() -> Path:
    """Filesystem path of the gzipped CSV inside the installed package (Spark reads it as is)."""
    return Path(str(files("churn_features") / "data" / VENDORED_FILE))


def vendored_sha256() -> str:
    """sha256 of the decompressed vendored CSV."""
    with gzip.open(vendored_csv_path(), "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
