"""Table, schema and catalog names in SQL: one quoting rule, and a check for untrusted names.

Every SQL statement that takes a name builds it with ``quote_identifier``, so a name is always one
identifier to Spark, never SQL. Names that come from outside our own configuration (a model's
feature spec) go through ``checked_table_name`` first: it refuses anything that is not one to three
dot-separated plain identifiers, with a message instead of a parser error deep in Spark.
"""

from __future__ import annotations

import re

from churn_features.errors import InvalidTableNameError

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def quote_identifier(name: str) -> str:
    """```catalog`.`schema`.`table``` for ``catalog.schema.table``: each dot-separated part in
    backticks, a backtick inside a part doubled (Spark SQL's escape)."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in name.split("."))


def checked_table_name(name: str, origin: str = "a table name") -> str:
    """``name`` if it is ``[catalog.][schema.]table`` of plain identifiers, else a clear error."""
    parts = name.split(".") if isinstance(name, str) else []
    if not 1 <= len(parts) <= 3 or not all(_PLAIN.fullmatch(part) for part in parts):
        raise InvalidTableNameError(
            f"{origin} names the table {name!r}, which is not a table name: one to three "
            "dot-separated parts of letters, digits and underscores, each starting with a "
            "letter or underscore.\n"
            "  fix: use a plain catalog.schema.table name; if it comes from a model's feature "
            "spec, that version was not logged by model-train: retrain it with model-train"
        )
    return name
