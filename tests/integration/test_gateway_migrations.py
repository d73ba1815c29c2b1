"""The shipped migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from gateway.db import make_engine
from gateway.migrate import current_revision, downgrade, upgrade
from gateway.models import Base, Store

BACKENDS = ["sqlite_url", pytest.param("postgres_url", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(request.param)
    return url


def test_upgrade_head_matches_the_models(database_url: str) -> None:
    """After ``upgrade head`` autogenerate finds no difference between database and models."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert diff == []
    assert {"presence_events", "store_visits", "campaigns", "exposures", "api_keys"} <= tables


def test_downgrade_to_base_and_back(database_url: str) -> None:
    """The migrations can be undone to an empty database and re-applied."""
    upgrade(database_url)
    downgrade(database_url, "base")
    assert current_revision(database_url) is None
    upgrade(database_url)
    assert current_revision(database_url) is not None


def test_timestamps_read_back_aware_utc(database_url: str) -> None:
    """A timestamp written with any offset reads back as the same instant in aware UTC."""
    upgrade(database_url)
    engine = make_engine(database_url)
    written = datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=timezone(timedelta(hours=2)))
    try:
        with engine.begin() as conn:
            conn.execute(insert(Store).values(id="s1", created_at=written, timezone="UTC"))
            read = conn.execute(select(Store.created_at)).scalar_one()
    finally:
        engine.dispose()
    assert read.tzinfo is not None
    assert read.utcoffset() == timedelta(0)
    assert read == written.astimezone(UTC)


def test_naive_timestamps_are_refused(sqlite_url: str) -> None:
    """Writing a naive datetime fails and names the problem."""
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(Exception, match="timezone-aware"), engine.begin() as conn:
            conn.execute(
                insert(Store).values(id="s1", created_at=datetime(2026, 1, 1), timezone="UTC")  # noqa: DTZ001
            )
    finally:
        engine.dispose()
