"""Engine and session factory, plus the column type that keeps time in UTC.

SQLite gets WAL, foreign keys and a busy timeout on every connection, so the
embedded default behaves under a reader (the API) and a writer (ingest).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, Float, create_engine, event, literal_column
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeDecorator

SQLITE_BUSY_TIMEOUT_MS = 30_000  # ingest commits are short; wait rather than fail under WAL


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that only accepts aware datetimes and always reads back aware UTC.

    PostgreSQL stores ``timestamptz``; SQLite stores the naive UTC wall time.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timestamps must be timezone-aware (got naive {value.isoformat()})")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class epoch_seconds(GenericFunction[float]):  # noqa: N801 (a SQL function's name)
    """Seconds since the epoch of a :class:`UtcDateTime` column, in either dialect.

    ``epoch_seconds("ts")`` renders ``(julianday(ts) - 2440587.5) * 86400.0`` on SQLite
    (which stores the naive UTC text; millisecond resolution, as the reports computed
    it) and ``EXTRACT(EPOCH FROM ts AT TIME ZONE 'UTC')`` on PostgreSQL (immutable, so
    usable in a generated column). Used by generated columns, e.g. ``exposures.ts_s``.
    """

    type = Float()
    inherit_cache = True

    def __init__(self, column: str) -> None:
        super().__init__(literal_column(column))


@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch_seconds, "postgresql")
def _epoch_seconds_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"EXTRACT(EPOCH FROM ({column} AT TIME ZONE 'UTC'))"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe under WAL: a crash loses no commit
    finally:
        cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, foreign keys and a busy timeout."""
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
