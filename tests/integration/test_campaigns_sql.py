"""Campaign import and set-based attribution on real SQLite and PostgreSQL databases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from campaigns.attribution import CreditModel
from campaigns.imports import FileFormat, parse_exposures
from campaigns.model import ControlDesign, Group, LinkSource
from gateway import models
from gateway.campaign_store import (
    create_campaign,
    import_exposures,
    import_links,
    ingest_exposure_events,
    revoke_links,
)
from gateway.db import make_engine
from gateway.migrate import upgrade
from gateway.reports import (
    MARKOV,
    ReportOptions,
    _common_params,
    _ranked_cells,
    attribution_report,
    lift_report,
)
from tests.integration.campaigns_data import (
    CHANNELS,
    ZONES,
    Dataset,
    insert_visits,
    make_dataset,
    reference_attribution,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated empty database of each kind."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _load(engine: Engine, data: Dataset) -> None:
    create_campaign(engine, data.campaign, NOW)
    import_exposures(engine, data.campaign.id, data.exposures, import_id="t")
    import_links(engine, data.links)
    insert_visits(engine, data.visits)


@pytest.mark.parametrize("model", list(CreditModel))
def test_sql_attribution_matches_python_reference(engine: Engine, model: CreditModel) -> None:
    """Credited visits per channel and attributed visits equal a plain-Python reference."""
    data = make_dataset(seed=11)
    _load(engine, data)
    expected, units, _ = reference_attribution(data, model)
    result = attribution_report(engine, data.campaign.id, ReportOptions(model=model.value, k=1))
    got = {c.value: c.credited_visits for c in result.cells["channel"]}
    assert got == pytest.approx(expected, abs=1e-9)
    total = result.cells["campaign"][0]
    assert total.visits == units
    assert total.credited_visits == pytest.approx(units, abs=1e-9)  # credits of a visit sum to 1


def test_markov_model_credits_sum_to_attributed_visits(engine: Engine) -> None:
    """The data-driven model returns removal effects and shares every visit fully."""
    data = make_dataset(seed=5)
    _load(engine, data)
    result = attribution_report(engine, data.campaign.id, ReportOptions(model=MARKOV, k=1))
    assert result.removal_effects is not None
    assert set(result.removal_effects) == {"social", "search", "display"}
    total = result.cells["campaign"][0]
    assert sum(c.credited_visits or 0 for c in result.cells["channel"]) == pytest.approx(
        total.visits
    )


def test_revocation_removes_the_links_effect(engine: Engine) -> None:
    """After revoking links, their visits leave the report, matching the reference."""
    data = make_dataset(seed=3)
    _load(engine, data)
    before = attribution_report(engine, data.campaign.id, ReportOptions(k=1)).cells["campaign"][0]
    revoked = {link.device_key for link in data.links[:60]}
    n = sum(revoke_links(engine, NOW, device_key=dk) for dk in revoked)
    assert n == 60
    after = attribution_report(engine, data.campaign.id, ReportOptions(k=1)).cells["campaign"][0]
    _, units, _ = reference_attribution(data, CreditModel.LAST_TOUCH, revoked)
    assert after.visits == units
    assert after.visits is not None
    assert before.visits is not None
    assert after.visits < before.visits


def test_lift_counts_visitors_per_arm(engine: Engine) -> None:
    """Lift's visitors per arm equal the reference and the report names its methods."""
    data = make_dataset(seed=8)
    _load(engine, data)
    report = lift_report(engine, data.campaign.id, ReportOptions(k=1))
    _, _, visitors = reference_attribution(data, CreditModel.LAST_TOUCH)
    arms = {r["arm"]: r for r in report.sections["arms"]}
    assert arms["exposed"]["visitors"] == visitors["exposed"]
    assert arms["control"]["visitors"] == visitors["control"]
    metrics = {r["metric"] for r in report.sections["lift"]}
    assert {"relative_lift", "absolute_difference", "p_value", "visits_per_person_lift"} <= metrics
    assert len(report.sections["lift_by_window"]) == 7
    assert report.parameters.extra["control_design"] == "randomized_holdout"


def test_no_control_gives_labelled_diff_in_diff(engine: Engine) -> None:
    """Without a randomized control the lift report is a labelled difference-in-differences."""
    data = make_dataset(seed=9, control_design=ControlDesign.NONE)
    _load(engine, data)
    report = lift_report(engine, data.campaign.id, ReportOptions(k=1))
    assert "lift" not in report.sections
    rows = report.sections["difference_in_differences"]
    assert any("no randomized control" in str(r["method"]) for r in rows)


def test_suppression_hides_small_cells(engine: Engine) -> None:
    """With k larger than any store's people, every store cell is suppressed."""
    data = make_dataset(seed=4, people=60)
    _load(engine, data)
    result = attribution_report(engine, data.campaign.id, ReportOptions(k=1000))
    assert result.cells["store"]
    assert all(c.suppressed and c.visits is None for c in result.cells["store"])


CSV = """person,ts,kind,channel,creative,group
ann@example.com,2026-10-02T09:15:00+02:00,click,social,c1,exposed
bob@example.com,2026-10-02T10:00:00Z,impression,search,c2,control
"""


def test_reimport_adds_nothing_and_streaming_drops_bad_events(engine: Engine) -> None:
    """Importing a file twice inserts once; a bad streamed event is dropped by reason."""
    data = make_dataset(seed=1, people=5)
    create_campaign(engine, data.campaign, NOW)
    parsed = parse_exposures(CSV, FileFormat.CSV, data.campaign.id)
    first = import_exposures(engine, data.campaign.id, parsed.rows)
    again = import_exposures(engine, data.campaign.id, parsed.rows)
    assert (first.inserted, again.inserted, again.already_present) == (2, 0, 2)
    out = ingest_exposure_events(
        engine,
        data.campaign.id,
        [
            {
                "person": "cy@example.com",
                "ts": "2026-10-03T10:00:00Z",
                "kind": "impression",
                "channel": "display",
                "group": "exposed",
            },
            {
                "person": "cy@example.com",
                "ts": "yesterday",
                "kind": "impression",
                "channel": "display",
                "group": "exposed",
            },
        ],
    )
    assert out.inserted == 1
    assert out.dropped == {"ts": 1}
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(models.Exposure)).scalar_one()
    assert count == 3


def test_lift_and_attribution_do_not_depend_on_row_order(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Loading the same rows in a shuffled order yields identical lift and attribution."""
    import random

    data = make_dataset(seed=21)
    _load(engine, data)
    first_lift = lift_report(engine, data.campaign.id, ReportOptions(k=1)).as_dict()
    first_attr = attribution_report(engine, data.campaign.id, ReportOptions(k=1)).report.as_dict()
    other = make_engine(f"sqlite:///{tmp_path_factory.mktemp('shuffled') / 'f.db'}")
    upgrade(str(other.url))
    rnd = random.Random(5)
    shuffled = Dataset(
        data.campaign,
        rnd.sample(data.exposures, len(data.exposures)),
        rnd.sample(data.links, len(data.links)),
        rnd.sample(data.visits, len(data.visits)),
    )
    _load(other, shuffled)
    assert lift_report(other, data.campaign.id, ReportOptions(k=1)).as_dict() == first_lift
    attr = attribution_report(other, data.campaign.id, ReportOptions(k=1)).report.as_dict()
    assert attr == first_attr
    other.dispose()


def _awkward(data: Dataset) -> Dataset:
    """``data`` plus the cases the single-touch path folds: duplicate links and visits, ties.

    For every tenth exposed person with a visit: a second link of the same device (another
    source), a second device of the person visiting the same store at the same instant with
    other zones, an exposure tied on ``ts`` with the latest one before the visit (other
    channel), and a later visit the same day (not the unit's first).
    """
    exposed = {e.person_key for e in data.exposures if e.group is Group.EXPOSED}
    device_person = {link.device_key: link for link in data.links}
    exposures, links, visits = list(data.exposures), list(data.links), list(data.visits)
    for n, visit in enumerate(data.visits):
        link = device_person.get(visit["device_key"])
        if link is None or link.person_key not in exposed or n % 10:
            continue
        twin = f"dk9_{n:06d}"
        links.append(replace(link, source=LinkSource.WIFI_LOGIN))
        links.append(replace(link, device_key=twin))
        zones = [z for z in ZONES if z not in visit["zones"]] or ["checkout"]
        visits.append({**visit, "device_key": twin, "zones": zones})
        visits.append({**visit, "started_at": visit["started_at"] + timedelta(minutes=30)})
        before = [
            e
            for e in data.exposures
            if e.person_key == link.person_key and e.ts <= visit["started_at"]
        ]
        if before:
            last = max(before, key=lambda e: e.ts)
            other = next(c for c in CHANNELS if c != last.channel)
            exposures.append(replace(last, channel=other, creative="z"))
    return Dataset(data.campaign, exposures, links, visits)


@pytest.mark.parametrize("model", [CreditModel.LAST_TOUCH, CreditModel.FIRST_TOUCH])
def test_single_touch_path_equals_the_ranked_path(engine: Engine, model: CreditModel) -> None:
    """Every cell of the single-touch SQL equals the window-function SQL of the same model."""
    data = _awkward(make_dataset(seed=31))
    _load(engine, data)
    options = ReportOptions(model=model.value, k=1)
    fast = attribution_report(engine, data.campaign.id, options)
    params = {**_common_params(data.campaign, options), "groups": ["exposed"]}
    with engine.connect() as conn:
        ranked, ttv, _ = _ranked_cells(conn, engine.dialect.name, data.campaign, params, options)
    for dim, cells in ranked.items():
        assert [(c.value, c.people, c.visits) for c in fast.cells[dim]] == [
            (c.value, c.people, c.visits) for c in cells
        ], dim
        assert [c.credited_visits for c in fast.cells[dim]] == pytest.approx(
            [c.credited_visits for c in cells], abs=1e-9
        ), dim
    assert {c.value: (c.people, c.visits) for c in fast.cells["time_to_visit"]} == ttv
    assert fast.cells["campaign"][0].visits > 50


def test_sqlite_report_joins_through_the_covering_indexes(sqlite_url: str) -> None:
    """The plan of the single-touch path on an analyzed SQLite database: the link -> visit
    join reads the visits' covering index, and the visit -> exposure join searches the
    exposures' index per visit without first scanning the whole table into a Bloom filter."""
    from sqlalchemy import event, text

    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    data = make_dataset(seed=11)
    _load(engine, data)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    plans: dict[str, str] = {}

    def explain(_c: Any, cursor: Any, statement: str, parameters: Any, *_a: Any) -> None:
        for table in ("ff_lv", "ff_visits"):
            prefix = f"CREATE TEMP TABLE {table} AS "
            if statement.startswith(prefix):
                rows = cursor.connection.execute(
                    "EXPLAIN QUERY PLAN " + statement.removeprefix(prefix), parameters
                ).fetchall()
                plans[table] = " | ".join(row[3] for row in rows)

    event.listen(engine, "before_cursor_execute", explain)
    try:
        result = attribution_report(engine, data.campaign.id, ReportOptions(k=1))
    finally:
        engine.dispose()
    assert result.cells["campaign"][0].visits > 0
    cover = "ix_store_visits_device_key_started_at_visit_class_store_id_zones"
    assert f"sv USING COVERING INDEX {cover}" in plans["ff_lv"]
    assert "SEARCH e USING INDEX ix_exposures_attribution_cover" in plans["ff_visits"]
    assert "BLOOM FILTER" not in plans["ff_visits"]
