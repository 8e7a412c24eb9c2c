"""The online store on PostgreSQL (psycopg 3): the local embedded server, or any Postgres.

Install with ``churn-features[online]``. The offline table ``schema.table`` (or
``catalog.schema.table``) becomes the Postgres table ``schema.table``, with the same primary key.
Which offline version each table holds is recorded in ``public.churn_online_publications``.

A publish stages the snapshot with ``COPY`` into a temporary table, then upserts the rows that
differ (``ON CONFLICT ... DO UPDATE ... WHERE ... IS DISTINCT FROM``), deletes keys the snapshot
no longer has and records the version, in one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from churn_features.errors import OnlineStoreError
from churn_features.store.online import PublishedVersion, PublishResult

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

PUBLICATIONS_TABLE = "churn_online_publications"

_FIX_CONNECT = "start the local store with `churn store start`, or check the connection string"


def postgres_type(arrow_type: pa.DataType) -> str:
    """The Postgres column type holding values of ``arrow_type`` without loss."""
    import pyarrow as pa

    checks = [
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_int8, "smallint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "integer"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_float32, "real"),
        (pa.types.is_float64, "double precision"),
        (pa.types.is_string, "text"),
        (pa.types.is_large_string, "text"),
        (pa.types.is_date32, "date"),
        (pa.types.is_timestamp, "timestamp with time zone"),
    ]
    for check, name in checks:
        if check(arrow_type):
            return name
    raise OnlineStoreError(
        f"The online store cannot hold a column of type {arrow_type}.\n"
        "  fix: publish boolean, integer, floating-point, string, date or timestamp columns only"
    )


def split_table_name(table_name: str) -> tuple[str, str]:
    """``[catalog.]schema.table`` -> (schema, table); a bare name lives in ``public``."""
    parts = table_name.split(".")
    if len(parts) == 1:
        return "public", parts[0]
    return parts[-2], parts[-1]


class PostgresOnlineStore:
    """One connection (opened on first use, reopened if it broke), serialised by a lock."""

    def __init__(self, conninfo: str, *, connect_timeout: float = 5.0) -> None:
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()
        self._queries: dict[tuple[str, str, tuple[str, ...]], Any] = {}

    # ------------------------------------------------------------------ connection

    def _connection(self) -> psycopg.Connection[Any]:
        import psycopg

        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(
                    self.conninfo, autocommit=True, connect_timeout=int(self.connect_timeout)
                )
            except psycopg.OperationalError as exc:
                raise OnlineStoreError(
                    f"Cannot connect to the online store ({_first_line(exc)}).\n"
                    f"  fix: {_FIX_CONNECT}"
                ) from None
        return self._conn

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                with conn.cursor() as cur:
                    yield cur
            except psycopg.OperationalError as exc:
                raise OnlineStoreError(
                    f"The online store connection failed ({_first_line(exc)}).\n"
                    f"  fix: {_FIX_CONNECT}"
                ) from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ------------------------------------------------------------------ publish

    def publish(
        self,
        table_name: str,
        primary_keys: Sequence[str],
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        source_version: int,
    ) -> PublishResult:
        from psycopg import sql

        names = list(schema.names)
        keys = list(primary_keys)
        absent = [k for k in keys if k not in names]
        if not keys or absent:
            raise OnlineStoreError(
                f"Primary key {keys} of {table_name} is not among its columns {names}.\n"
                "  fix: publish the feature table with its primary key column(s)"
            )
        columns = [(name, postgres_type(schema.field(name).type)) for name in names]
        pg_schema, pg_table = split_table_name(table_name)
        target = sql.Identifier(pg_schema, pg_table)
        values = [n for n in names if n not in keys]
        ident = [sql.Identifier(n) for n in names]
        key_ident = sql.SQL(", ").join(sql.Identifier(k) for k in keys)

        with self._cursor() as cur, cur.connection.transaction():
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(pg_schema)))
            self._ensure_publications(cur)
            # One publisher at a time per table: a second one waits, then sees the first's result.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (table_name,))
            if self._columns(cur, pg_schema, pg_table) not in ([], columns):
                cur.execute(sql.SQL("DROP TABLE {}").format(target))  # the layout changed
            cur.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}))").format(
                    target,
                    sql.SQL(", ").join(
                        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns
                    ),
                    key_ident,
                )
            )
            cur.execute(
                sql.SQL(
                    "CREATE TEMPORARY TABLE churn_stage (LIKE {} INCLUDING ALL) ON COMMIT DROP"
                ).format(target)
            )
            copy_sql = sql.SQL("COPY churn_stage ({}) FROM STDIN").format(sql.SQL(", ").join(ident))
            with cur.copy(copy_sql) as copy:
                for batch in batches:
                    for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                        copy.write_row(row)

            upsert = sql.SQL(
                "INSERT INTO {t} AS t ({cols}) SELECT {cols} FROM churn_stage "
                "ON CONFLICT ({keys}) DO "
            ).format(t=target, cols=sql.SQL(", ").join(ident), keys=key_ident)
            if values:
                upsert += sql.SQL(
                    "UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})"
                ).format(
                    sets=sql.SQL(", ").join(
                        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(v)) for v in values
                    ),
                    old=sql.SQL(", ").join(sql.Identifier("t", v) for v in values),
                    new=sql.SQL(", ").join(sql.Identifier("excluded", v) for v in values),
                )
            else:
                upsert += sql.SQL("NOTHING")
            # xmax = 0 on a freshly inserted row version, not on an updated one.
            cur.execute(upsert + sql.SQL(" RETURNING (xmax = 0)"))
            flags = [bool(r[0]) for r in cur.fetchall()]
            inserted = sum(flags)
            updated = len(flags) - inserted
            cur.execute(
                sql.SQL(
                    "DELETE FROM {t} AS t WHERE NOT EXISTS "
                    "(SELECT 1 FROM churn_stage s WHERE {match})"
                ).format(
                    t=target,
                    match=sql.SQL(" AND ").join(
                        sql.SQL("s.{k} = t.{k}").format(k=sql.Identifier(k)) for k in keys
                    ),
                )
            )
            deleted = cur.rowcount
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(target))
            counted = cur.fetchone()
            total = int(counted[0]) if counted else 0
            now = datetime.now(UTC)
            cur.execute(
                sql.SQL(
                    "INSERT INTO {p} (table_name, source_version, published_at, rows_total) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (table_name) DO UPDATE SET "
                    "source_version = EXCLUDED.source_version, "
                    "published_at = EXCLUDED.published_at, rows_total = EXCLUDED.rows_total"
                ).format(p=sql.Identifier("public", PUBLICATIONS_TABLE)),
                (table_name, source_version, now, total),
            )
        return PublishResult(
            table_name=table_name,
            source_version=source_version,
            rows_inserted=inserted,
            rows_updated=updated,
            rows_deleted=deleted,
            rows_total=total,
            published_at=now,
        )

    @staticmethod
    def _ensure_publications(cur: psycopg.Cursor[Any]) -> None:
        from psycopg import sql

        cur.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (table_name text PRIMARY KEY, "
                "source_version bigint NOT NULL, published_at timestamptz NOT NULL, "
                "rows_total bigint NOT NULL)"
            ).format(sql.Identifier("public", PUBLICATIONS_TABLE))
        )

    @staticmethod
    def _columns(cur: psycopg.Cursor[Any], schema: str, table: str) -> list[tuple[str, str]]:
        cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, table),
        )
        return [(str(name), str(kind)) for name, kind in cur.fetchall()]

    # ------------------------------------------------------------------ read

    def published_version(self, table_name: str) -> PublishedVersion | None:
        found = [p for p in self.published_tables() if p.table_name == table_name]
        return found[0] if found else None

    def published_tables(self) -> list[PublishedVersion]:
        """Every table published to this database, with its offline version."""
        import psycopg
        from psycopg import sql

        with self._cursor() as cur:
            try:
                cur.execute(
                    sql.SQL(
                        "SELECT table_name, source_version, published_at, rows_total FROM {} "
                        "ORDER BY table_name"
                    ).format(sql.Identifier("public", PUBLICATIONS_TABLE))
                )
            except psycopg.errors.UndefinedTable:
                return []  # nothing was ever published to this database
            rows = cur.fetchall()
        return [
            PublishedVersion(
                table_name=str(name),
                source_version=int(version),
                published_at=when,
                rows_total=int(total),
            )
            for name, version, when, total in rows
        ]

    def lookup(
        self, table_name: str, key: str, values: Sequence[Any], feature_names: Sequence[str]
    ) -> dict[Any, tuple[Any, ...]]:
        import psycopg

        query = self._lookup_query(table_name, key, tuple(feature_names))
        with self._cursor() as cur:
            try:
                cur.execute(query, (list(values),), prepare=True)
            except psycopg.errors.UndefinedTable:
                raise OnlineStoreError(
                    f"The online store has no table {table_name}: it was never published.\n"
                    "  fix: run the feature-publish job (`churn run feature-publish`)"
                ) from None
            except psycopg.errors.UndefinedColumn as exc:
                raise OnlineStoreError(
                    f"The online table {table_name} lacks a column the lookup needs "
                    f"({_first_line(exc)}).\n"
                    "  fix: publish the feature table the model was trained on "
                    "(`churn run feature-publish`)"
                ) from None
            return {row[0]: row[1:] for row in cur.fetchall()}

    def _lookup_query(self, table_name: str, key: str, feature_names: tuple[str, ...]) -> Any:
        from psycopg import sql

        cache_key = (table_name, key, feature_names)
        query = self._queries.get(cache_key)
        if query is None:
            query = sql.SQL("SELECT {k}, {f} FROM {t} WHERE {k} = ANY(%s)").format(
                k=sql.Identifier(key),
                f=sql.SQL(", ").join(sql.Identifier(n) for n in feature_names),
                t=sql.Identifier(*split_table_name(table_name)),
            )
            self._queries[cache_key] = query
        return query


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
