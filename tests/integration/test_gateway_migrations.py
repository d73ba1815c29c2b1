"""The shipped migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import bindparam, insert, inspect, select, text

from gateway.db import UtcDateTime, make_engine
from gateway.migrate import current_revision, downgrade, upgrade
from gateway.models import Base, Exposure, IdentityLink, Person, Store, alembic_include_object

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
            include = alembic_include_object(conn.dialect.name)
            context = MigrationContext.configure(conn, opts={"include_object": include})
            diff = compare_metadata(context, Base.metadata)
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


def test_person_ids_and_epoch_seconds_are_backfilled(database_url: str) -> None:
    """0005 numbers existing person_keys in both tables alike and computes ``ts_s``."""
    upgrade(database_url, "0004_exposure_cover")
    ts = datetime(2026, 9, 1, 12, 0, 0, 250000, tzinfo=UTC)
    k1, k2, k3 = "a" * 64, "b" * 64, "c" * 64
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO campaigns (id, name, channels, starts_at, ends_at, "
                    "window_click_s, window_impression_s, window_engaged_view_s, "
                    "control_design, created_at) VALUES ('c1', 'C', '[]', :ts, :ts, 1, 1, 1, "
                    "'none', :ts)"
                ).bindparams(bindparam("ts", type_=UtcDateTime())),
                {"ts": ts},
            )
            for i, key in enumerate((k1, k2, k1)):
                conn.execute(
                    text(
                        "INSERT INTO exposures (campaign_id, person_key, ts, kind, channel, "
                        "creative, grp) VALUES ('c1', :key, :ts, 'click', 'social', :cr, "
                        "'exposed')"
                    ).bindparams(bindparam("ts", type_=UtcDateTime())),
                    {"key": key, "ts": ts + timedelta(seconds=i), "cr": f"cr{i}"},
                )
            for key in (k2, k3):
                conn.execute(
                    text(
                        "INSERT INTO identity_links (device_key, person_key, source, "
                        "consented_at, valid_from) VALUES (:dev, :key, 'app', :ts, :ts)"
                    ).bindparams(bindparam("ts", type_=UtcDateTime())),
                    {"dev": f"dk-{key[0]}", "key": key, "ts": ts},
                )
        upgrade(database_url)
        with engine.connect() as conn:
            people = {k: i for k, i in conn.execute(select(Person.person_key, Person.id))}
            exposures = conn.execute(
                select(Exposure.person_key, Exposure.person_id, Exposure.ts_s).order_by(Exposure.ts)
            ).all()
            links = {
                k: i
                for k, i in conn.execute(select(IdentityLink.person_key, IdentityLink.person_id))
            }
    finally:
        engine.dispose()
    assert set(people) == {k1, k2, k3}
    assert len(set(people.values())) == 3
    assert [(k, pid) for k, pid, _ in exposures] == [(k, people[k]) for k in (k1, k2, k1)]
    assert links == {k2: people[k2], k3: people[k3]}
    assert [ts_s for _, _, ts_s in exposures] == pytest.approx(
        [ts.timestamp() + i for i in range(3)], abs=1e-3
    )
