"""Campaigns, exposures and identity links into the database.

Every import runs in one transaction: either every row of a file is in the database
afterwards or none is. Inserts use ``ON CONFLICT DO NOTHING`` on the natural keys
(``exposures``: campaign, person_key, ts, kind, channel, creative; ``identity_links``:
device_key, person_key, source), so re-importing a file adds nothing. Raw e-mails and
phones never reach this module: :mod:`campaigns.imports` hashes them while parsing.

Every write of an exposure or a link first numbers its person_key in ``people`` and
stores the integer as ``person_id`` (the reports join on it).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from campaigns.imports import ExposureRowError, exposure_from_mapping
from campaigns.model import (
    AttributionWindows,
    Campaign,
    CampaignError,
    ControlDesign,
    Exposure,
    IdentityLink,
)
from gateway import models

_LOGGER = logging.getLogger(__name__)

CHUNK_ROWS = 5_000  # rows per executemany: bounded memory, few round trips


class CampaignStoreError(Exception):
    """A campaign operation the database refused (unknown campaign, duplicate id)."""


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What an import did: rows offered, newly inserted, already present."""

    offered: int
    inserted: int

    @property
    def already_present(self) -> int:
        return self.offered - self.inserted


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    """Streaming ingest: inserted rows and dropped events counted by reason (field name)."""

    inserted: int
    dropped: Mapping[str, int] = field(default_factory=dict)


def _insert(conn: Connection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def create_campaign(engine: Engine, campaign: Campaign, created_at: datetime) -> None:
    """Insert a campaign; an existing id is an error (campaigns are not silently replaced)."""
    with engine.begin() as conn:
        exists = conn.execute(
            select(models.Campaign.id).where(models.Campaign.id == campaign.id)
        ).first()
        if exists:
            raise CampaignStoreError(f"'campaign' {campaign.id!r} already exists")
        conn.execute(
            insert(models.Campaign),
            {
                "id": campaign.id,
                "name": campaign.name,
                "channels": list(campaign.channels),
                "starts_at": campaign.starts_at,
                "ends_at": campaign.ends_at,
                "window_click_s": campaign.windows.click_s,
                "window_impression_s": campaign.windows.impression_s,
                "window_engaged_view_s": campaign.windows.engaged_view_s,
                "control_design": campaign.control_design.value,
                "created_at": created_at,
            },
        )


def get_campaign(engine: Engine, campaign_id: str) -> Campaign:
    """The campaign ``campaign_id`` as a domain value."""
    with engine.connect() as conn:
        row = conn.execute(select(models.Campaign).where(models.Campaign.id == campaign_id)).first()
    if row is None:
        raise CampaignStoreError(f"'campaign' {campaign_id!r} does not exist")
    m = row._mapping
    return Campaign(
        id=m["id"],
        name=m["name"],
        channels=tuple(m["channels"] or ()),
        starts_at=m["starts_at"],
        ends_at=m["ends_at"],
        windows=AttributionWindows(
            m["window_click_s"], m["window_impression_s"], m["window_engaged_view_s"]
        ),
        control_design=ControlDesign(m["control_design"]),
    )


def _exposure_rows(exposures: Iterable[Exposure], import_id: str | None) -> list[dict[str, Any]]:
    return [
        {
            "campaign_id": e.campaign_id,
            "person_key": e.person_key,
            "ts": e.ts,
            "kind": e.kind.value,
            "channel": e.channel,
            "creative": e.creative,
            "grp": e.group.value,
            "store_id": e.store_id,
            "import_id": import_id,
        }
        for e in exposures
    ]


def _count_exposures(conn: Connection, campaign_id: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(models.Exposure)
            .where(models.Exposure.campaign_id == campaign_id)
        ).scalar_one()
    )


def _person_ids(conn: Connection, keys: Iterable[str]) -> dict[str, int]:
    """``people.id`` of each person_key, numbering the keys not seen before."""
    people = models.Person.__table__
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    conn.execute(
        _insert(conn, people).on_conflict_do_nothing(index_elements=["person_key"]),
        [{"person_key": key} for key in wanted],
    )
    query = select(people.c.person_key, people.c.id).where(
        people.c.person_key.in_(bindparam("keys", expanding=True))
    )
    return {str(k): int(i) for k, i in conn.execute(query, {"keys": wanted})}


def _insert_with_person_ids(conn: Connection, stmt: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` in chunks, each row with the ``person_id`` of its ``person_key``."""
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        ids = _person_ids(conn, (r["person_key"] for r in chunk))
        conn.execute(stmt, [{**r, "person_id": ids[r["person_key"]]} for r in chunk])


def _insert_exposures(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    stmt = _insert(conn, models.Exposure.__table__).on_conflict_do_nothing(
        index_elements=["campaign_id", "person_key", "ts", "kind", "channel", "creative"]
    )
    _insert_with_person_ids(conn, stmt, rows)


def import_exposures(
    engine: Engine,
    campaign_id: str,
    exposures: Sequence[Exposure],
    import_id: str | None = None,
) -> ImportOutcome:
    """Insert all exposures in one transaction; rows already present are skipped."""
    for e in exposures:
        if e.campaign_id != campaign_id:
            raise CampaignError(
                f"'campaign_id' of every exposure must be {campaign_id!r} (got {e.campaign_id!r})"
            )
    get_campaign(engine, campaign_id)
    rows = _exposure_rows(exposures, import_id)
    with engine.begin() as conn:
        before = _count_exposures(conn, campaign_id)
        _insert_exposures(conn, rows)
        after = _count_exposures(conn, campaign_id)
    _LOGGER.info(
        "campaign %s: %d exposures offered, %d new", campaign_id, len(rows), after - before
    )
    return ImportOutcome(len(rows), after - before)


def ingest_exposure_events(
    engine: Engine,
    campaign_id: str,
    events: Iterable[Mapping[str, Any]],
    default_country_code: str | None = None,
) -> StreamOutcome:
    """Server-to-server impressions: validate each, drop bad ones by reason, insert the rest.

    Unlike a file import this never raises for a bad event (it is untrusted wire data);
    the drop reasons are the names of the failing fields.
    """
    good: list[Exposure] = []
    dropped: Counter[str] = Counter()
    for event in events:
        try:
            good.append(exposure_from_mapping(event, campaign_id, default_country_code))
        except ExposureRowError as exc:
            dropped[exc.field] += 1
    if dropped:
        _LOGGER.debug("campaign %s: dropped exposure events %s", campaign_id, dict(dropped))
    outcome = import_exposures(engine, campaign_id, good, import_id="stream") if good else None
    return StreamOutcome(outcome.inserted if outcome else 0, dict(dropped))


def import_links(engine: Engine, links: Sequence[IdentityLink]) -> ImportOutcome:
    """Insert identity links in one transaction; an existing (device, person, source) stays."""
    rows = [
        {
            "device_key": link.device_key,
            "person_key": link.person_key,
            "source": link.source.value,
            "consented_at": link.consented_at,
            "valid_from": link.valid_from,
            "valid_to": link.valid_to,
            "revoked_at": link.revoked_at,
        }
        for link in links
    ]
    count = select(func.count()).select_from(models.IdentityLink)
    with engine.begin() as conn:
        before = int(conn.execute(count).scalar_one())
        stmt = _insert(conn, models.IdentityLink.__table__).on_conflict_do_nothing(
            index_elements=["device_key", "person_key", "source"]
        )
        _insert_with_person_ids(conn, stmt, rows)
        after = int(conn.execute(count).scalar_one())
    return ImportOutcome(len(rows), after - before)


def revoke_links(
    engine: Engine,
    revoked_at: datetime,
    *,
    device_key: str | None = None,
    person_key: str | None = None,
    source: str | None = None,
) -> int:
    """Revoke every matching, not yet revoked link; returns how many were revoked.

    A revoked link is ignored by every report computed afterwards, for every period.
    """
    if device_key is None and person_key is None:
        raise CampaignError("'device_key' or 'person_key' is required to revoke (got neither)")
    table = models.IdentityLink
    stmt = update(table).where(table.revoked_at.is_(None)).values(revoked_at=revoked_at)
    if device_key is not None:
        stmt = stmt.where(table.device_key == device_key)
    if person_key is not None:
        stmt = stmt.where(table.person_key == person_key)
    if source is not None:
        stmt = stmt.where(table.source == source)
    with engine.begin() as conn:
        return int(conn.execute(stmt).rowcount)
