"""Read models for the API and dashboard: footfall, dwell, heat, occupancy, agents, stores.

SQLAlchemy 2.0 ``select()`` over the gateway's tables, grouped in the database; plain
frozen dataclasses out (models never leave this module). Days and hours are UTC.

Privacy: nothing here returns a device key. Every breakdown carries the number of
distinct devices behind each cell, and :func:`suppressed` blanks cells built from
fewer than k of them before they leave.

Definitions
    visit ........ a store visit of class ``visitor`` or ``engaged`` (passers-by apart)
    capture rate . visits / (visits + passers-by)
    repeat ....... the device had another (non passer-by) visit to the same store in the
                   privacy horizon before this one; randomized Wi-Fi keys rotate daily, so
                   their visits are counted as *unknown*, neither new nor repeat
    occupancy .... per zone, the max over agents of their latest count within max_age_s
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    delete,
    distinct,
    extract,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from gateway.models import (
    Agent,
    Campaign,
    Exposure,
    OccupancySample,
    PresenceEventRow,
    Store,
    StoreVisit,
    Zone,
)

VISIT_CLASSES = ("visitor", "engaged")
EXCLUDED_ID_CLASSES = ("infrastructure_beacon",)  # the store's own beacons are not people
DWELL_BUCKETS: tuple[tuple[str, float, float | None], ...] = (
    ("<5 min", 0.0, 300.0),
    ("5-20 min", 300.0, 1200.0),
    ("20-60 min", 1200.0, 3600.0),
    ("1-6 h", 3600.0, 21600.0),
    ("6 h+", 21600.0, None),
)


class NotFoundError(LookupError):
    """The store, zone or campaign named in the request does not exist."""


class ConflictError(ValueError):
    """The object to create exists already."""


# --- dialect helpers --------------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _utc(dialect: str, col: Any) -> Any:
    return func.timezone("UTC", col) if dialect == "postgresql" else col


def _day(dialect: str, col: Any) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", col), "YYYY-MM-DD")
    return func.date(col)


def _weekday(dialect: str, col: Any) -> ColumnElement[int]:
    """0 = Monday."""
    if dialect == "postgresql":
        return cast(extract("isodow", func.timezone("UTC", col)), Float) - 1
    return (cast(func.strftime("%w", col), Float) + 6) % 7


def _hour(dialect: str, col: Any) -> ColumnElement[int]:
    if dialect == "postgresql":
        return cast(extract("hour", func.timezone("UTC", col)), Float)
    return cast(func.strftime("%H", col), Float)


def _minus_seconds(dialect: str, col: Any, seconds: float) -> Any:
    if dialect == "postgresql":
        return col - func.make_interval(0, 0, 0, 0, 0, 0, literal(seconds))
    # SQLite keeps naive UTC text; datetime() shifts it and compares as text
    return func.datetime(col, f"-{int(seconds)} seconds")


# --- footfall --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FootfallRow:
    day: str
    devices: int
    visits: int | None
    passers_by: int | None
    engaged: int | None
    capture_rate: float | None
    new_visits: int | None
    repeat_visits: int | None
    unknown_visits: int | None
    suppressed: bool = False


def _blank(row: Any) -> Any:
    """The row with every count blanked and ``suppressed`` set (k-anonymity)."""
    values: dict[str, Any] = {
        name: None
        for name in row.__dataclass_fields__
        if name not in ("day", "bucket", "lower_s", "upper_s", "weekday", "hour", "zone")
    }
    values["suppressed"] = True
    values["devices"] = 0
    return replace(row, **values)


def suppressed(rows: Sequence[Any], k: int) -> list[Any]:
    """Blank every row whose ``devices`` is below ``k``."""
    return [_blank(r) if r.devices < k else r for r in rows]


def _visit_filters(store_id: str | None, start: datetime, end: datetime) -> list[Any]:
    out: list[Any] = [
        StoreVisit.started_at >= start,
        StoreVisit.started_at < end,
        StoreVisit.id_class.not_in(EXCLUDED_ID_CLASSES),
    ]
    if store_id is not None:
        out.append(StoreVisit.store_id == store_id)
    return out


def _zone_event_filters(
    kind: str, zone: str, store_id: str | None, start: datetime, end: datetime
) -> list[Any]:
    """Raw ``kind`` events of one zone in ``[start, end)``, randomized Wi-Fi excluded."""
    pe = PresenceEventRow
    out: list[Any] = [
        pe.kind == kind,
        pe.zone == zone,
        pe.ts >= start,
        pe.ts < end,
        pe.id_class.not_in(EXCLUDED_ID_CLASSES),
    ]
    if store_id is not None:
        out.append(pe.store_id == store_id)
    return out


def footfall(
    session: Session,
    store_id: str | None,
    start: datetime,
    end: datetime,
    horizon_s: float,
    k: int,
) -> tuple[list[FootfallRow], FootfallRow]:
    """Per UTC day and in total: visits, passers-by, engaged, capture rate, new vs repeat."""
    dialect = _dialect(session)
    sv = StoreVisit
    is_visit = sv.visit_class.in_(VISIT_CLASSES)
    randomized = sv.id_class == "wifi_randomized"

    def _sum(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    columns = (
        func.count(distinct(sv.device_key)).label("devices"),
        _sum(is_visit).label("visits"),
        _sum(sv.visit_class == "passer_by").label("passers_by"),
        _sum(sv.visit_class == "engaged").label("engaged"),
        _sum(and_(is_visit, randomized)).label("unknown"),
    )
    where = _visit_filters(store_id, start, end)
    day = _day(dialect, sv.started_at).label("day")
    per_day = session.execute(select(day, *columns).where(*where).group_by(day).order_by(day))
    total = session.execute(select(literal("total").label("day"), *columns).where(*where)).one()
    # repeat: the device's previous visit to the store (LAG over the visits from the
    # horizon before the period on) lies within the horizon -- one sorted pass, set-based
    horizon_start = start - timedelta(seconds=horizon_s)
    lagged = (
        select(
            sv.started_at,
            sv.id_class,
            func.lag(sv.started_at)
            .over(partition_by=(sv.store_id, sv.device_key), order_by=sv.started_at)
            .label("prev"),
        )
        .where(*_visit_filters(store_id, horizon_start, end), is_visit)
        .subquery()
    )
    is_repeat = and_(
        lagged.c.started_at >= start,
        lagged.c.id_class != "wifi_randomized",
        lagged.c.prev.is_not(None),
        lagged.c.prev >= _minus_seconds(dialect, lagged.c.started_at, horizon_s),
    )
    rday = _day(dialect, lagged.c.started_at).label("day")
    repeats = {
        str(r.day): int(r.n)
        for r in session.execute(
            select(rday, func.count().label("n")).where(is_repeat).group_by(rday)
        )
    }
    days = [_footfall_row(r, repeats.get(str(r.day), 0)) for r in per_day]
    total_row = _footfall_row(total, sum(repeats.values()))
    return suppressed(days, k), suppressed([total_row], k)[0]


def _footfall_row(r: Any, repeat: int) -> FootfallRow:
    visits, passers = int(r.visits), int(r.passers_by)
    unknown = int(r.unknown)
    seen = visits + passers
    return FootfallRow(
        day=str(r.day),
        devices=int(r.devices),
        visits=visits,
        passers_by=passers,
        engaged=int(r.engaged),
        capture_rate=visits / seen if seen else None,
        new_visits=visits - unknown - repeat,
        repeat_visits=repeat,
        unknown_visits=unknown,
    )


# --- dwell and heat -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DwellBucket:
    bucket: str
    lower_s: float
    upper_s: float | None
    devices: int
    visits: int | None
    suppressed: bool = False


def _bucket_case(col: Any) -> Any:
    whens = [(col < upper, label) for label, _, upper in DWELL_BUCKETS if upper is not None]
    return case(*whens, else_=DWELL_BUCKETS[-1][0])


def dwell_buckets(
    session: Session,
    store_id: str | None,
    zone: str | None,
    start: datetime,
    end: datetime,
    k: int,
) -> list[DwellBucket]:
    """Visits (store) or zone stays (``zone`` given) by dwell bucket."""
    dwell: Any
    if zone is None:
        dwell, key = StoreVisit.dwell_s, StoreVisit.device_key
        where = [*_visit_filters(store_id, start, end), StoreVisit.visit_class.in_(VISIT_CLASSES)]
    else:
        pe = PresenceEventRow
        dwell, key = pe.dwell_s, pe.device_key
        where = [
            *_zone_event_filters("zone_exit", zone, store_id, start, end),
            pe.dwell_s.is_not(None),
        ]
    bucket = _bucket_case(dwell).label("bucket")
    rows = {
        r.bucket: r
        for r in session.execute(
            select(bucket, func.count().label("n"), func.count(distinct(key)).label("devices"))
            .where(*where)
            .group_by(bucket)
        )
    }
    out = []
    for label, lower, upper in DWELL_BUCKETS:
        r = rows.get(label)
        out.append(
            DwellBucket(label, lower, upper, int(r.devices) if r else 0, int(r.n) if r else 0)
        )
    return suppressed(out, k)


@dataclass(frozen=True, slots=True)
class HeatCell:
    weekday: int
    hour: int
    devices: int
    visits: int | None
    suppressed: bool = False


def heat_by_hour(
    session: Session,
    store_id: str | None,
    zone: str | None,
    start: datetime,
    end: datetime,
    k: int,
) -> list[HeatCell]:
    """Visits (or zone entries) started per weekday and hour (UTC), every one of the 168 cells."""
    dialect = _dialect(session)
    if zone is None:
        ts, key = StoreVisit.started_at, StoreVisit.device_key
        where = [*_visit_filters(store_id, start, end), StoreVisit.visit_class.in_(VISIT_CLASSES)]
    else:
        pe = PresenceEventRow
        ts, key = pe.ts, pe.device_key
        where = _zone_event_filters("zone_enter", zone, store_id, start, end)
    wd, hr = _weekday(dialect, ts).label("wd"), _hour(dialect, ts).label("hr")
    found = {
        (int(r.wd), int(r.hr)): r
        for r in session.execute(
            select(wd, hr, func.count().label("n"), func.count(distinct(key)).label("devices"))
            .where(*where)
            .group_by(wd, hr)
        )
    }
    cells = []
    for d in range(7):
        for h in range(24):
            r = found.get((d, h))
            cells.append(HeatCell(d, h, int(r.devices) if r else 0, int(r.n) if r else 0))
    # an empty cell reveals nobody; only non-empty cells below k are blanked
    return [c if c.visits == 0 or c.devices >= k else _blank(c) for c in cells]


@dataclass(frozen=True, slots=True)
class ZoneStats:
    zone: str
    devices: int
    visits: int | None
    mean_dwell_s: float | None
    suppressed: bool = False


def zone_stats(
    session: Session, store_id: str, start: datetime, end: datetime, k: int
) -> list[ZoneStats]:
    """Per zone of a store: stays (zone exits) and their mean dwell."""
    pe = PresenceEventRow
    stmt = (
        select(
            pe.zone,
            func.count().label("n"),
            func.count(distinct(pe.device_key)).label("devices"),
            func.avg(pe.dwell_s).label("mean_dwell"),
        )
        .where(
            pe.store_id == store_id,
            pe.kind == "zone_exit",
            pe.zone.is_not(None),
            pe.ts >= start,
            pe.ts < end,
            pe.id_class.not_in(EXCLUDED_ID_CLASSES),
        )
        .group_by(pe.zone)
        .order_by(pe.zone)
    )
    rows = [
        ZoneStats(
            str(r.zone),
            int(r.devices),
            int(r.n),
            float(r.mean_dwell) if r.mean_dwell is not None else None,
        )
        for r in session.execute(stmt)
    ]
    return suppressed(rows, k)


# --- occupancy and agents -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneOccupancy:
    store_id: str
    zone: str
    devices: int
    agents: int
    sampled_at: datetime


def occupancy_now(
    session: Session, store_id: str | None, now: datetime, max_age_s: float
) -> list[ZoneOccupancy]:
    """Per zone: the max over agents of each agent's latest count within ``max_age_s``."""
    oc = OccupancySample
    stmt = select(oc.store_id, oc.agent_id, oc.zone, oc.ts, oc.device_count).where(
        oc.ts >= now - timedelta(seconds=max_age_s), oc.ts <= now + timedelta(seconds=max_age_s)
    )
    if store_id is not None:
        stmt = stmt.where(oc.store_id == store_id)
    latest: dict[tuple[str, str, str], tuple[datetime, int]] = {}
    for r in session.execute(stmt.order_by(oc.ts)):
        latest[(r.store_id, r.zone, r.agent_id)] = (r.ts, int(r.device_count))
    zones: dict[tuple[str, str], ZoneOccupancy] = {}
    for (store, zone, _agent), (ts, count) in latest.items():
        prev = zones.get((store, zone))
        if prev is None:
            zones[(store, zone)] = ZoneOccupancy(store, zone, count, 1, ts)
        else:
            zones[(store, zone)] = ZoneOccupancy(
                store, zone, max(prev.devices, count), prev.agents + 1, max(prev.sampled_at, ts)
            )
    return [zones[key] for key in sorted(zones)]


@dataclass(frozen=True, slots=True)
class AgentHealth:
    store_id: str
    agent_id: str
    online: bool
    health: str
    version: str | None
    uptime_s: float | None
    last_seen_at: datetime
    seconds_since_seen: float
    adverts_per_s: float | None
    probes_per_s: float | None
    events: int | None
    tracked_devices: int | None
    outbox_depth: int | None
    outbox_age_s: float | None
    drops: dict[str, int]


def _num(counters: dict[str, Any], name: str, kind: type) -> Any:
    value = counters.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return kind(value)
    return None


def agents(
    session: Session, store_id: str | None, now: datetime, offline_after_s: float
) -> list[AgentHealth]:
    """Every agent with its last status counters; online only if heard from recently."""
    stmt = select(Agent).order_by(Agent.store_id, Agent.agent_id)
    if store_id is not None:
        stmt = stmt.where(Agent.store_id == store_id)
    out = []
    for a in session.scalars(stmt):
        counters = a.counters if isinstance(a.counters, dict) else {}
        since = max(0.0, (now - a.last_seen_at).total_seconds())
        drops_raw = counters.get("drops")
        drops = (
            {str(k): int(v) for k, v in drops_raw.items() if isinstance(v, int)}
            if isinstance(drops_raw, dict)
            else {}
        )
        out.append(
            AgentHealth(
                store_id=a.store_id,
                agent_id=a.agent_id,
                online=bool(a.online) and since <= offline_after_s,
                health=a.health if a.online else "offline",
                version=a.version,
                uptime_s=a.uptime_s,
                last_seen_at=a.last_seen_at,
                seconds_since_seen=since,
                adverts_per_s=_num(counters, "adverts_per_s", float),
                probes_per_s=_num(counters, "probes_per_s", float),
                events=_num(counters, "events", int),
                tracked_devices=_num(counters, "tracked_devices", int),
                outbox_depth=_num(counters, "outbox_depth", int),
                outbox_age_s=_num(counters, "outbox_age_s", float),
                drops=drops,
            )
        )
    return out


def agent_ids(session: Session, store_id: str) -> list[str]:
    stmt = select(Agent.agent_id).where(Agent.store_id == store_id).order_by(Agent.agent_id)
    return list(session.scalars(stmt))


# --- stores and zones -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreInfo:
    id: str
    name: str | None
    timezone: str
    created_at: datetime
    zones: int


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    store_id: str
    name: str
    label: str | None
    min_rssi_dbm: float
    position: int


def stores(session: Session) -> list[StoreInfo]:
    zone_count = (
        select(func.count()).where(Zone.store_id == Store.id).correlate(Store).scalar_subquery()
    )
    stmt = select(Store, zone_count.label("zones")).order_by(Store.id)
    return [
        StoreInfo(s.id, s.name, s.timezone, s.created_at, int(n)) for s, n in session.execute(stmt)
    ]


def get_store(session: Session, store_id: str) -> StoreInfo:
    for s in stores(session):
        if s.id == store_id:
            return s
    raise NotFoundError(f"'store_id' {store_id!r} does not exist")


def create_store(
    session: Session, store_id: str, name: str | None, timezone: str, now: datetime
) -> StoreInfo:
    if session.get(Store, store_id) is not None:
        raise ConflictError(f"'id' {store_id!r}: the store exists already")
    session.add(Store(id=store_id, name=name, timezone=timezone, created_at=now))
    session.commit()
    return StoreInfo(store_id, name, timezone, now, 0)


def zones(session: Session, store_id: str) -> list[ZoneInfo]:
    if session.get(Store, store_id) is None:
        raise NotFoundError(f"'store_id' {store_id!r} does not exist")
    stmt = select(Zone).where(Zone.store_id == store_id).order_by(Zone.position, Zone.name)
    return [_zone(z) for z in session.scalars(stmt)]


def _zone(z: Zone) -> ZoneInfo:
    return ZoneInfo(z.store_id, z.name, z.label, z.min_rssi_dbm, z.position)


def _find_zone(session: Session, store_id: str, name: str) -> Zone:
    z = session.scalars(select(Zone).where(Zone.store_id == store_id, Zone.name == name)).first()
    if z is None:
        raise NotFoundError(f"'zone' {name!r} does not exist in store {store_id!r}")
    return z


def create_zone(
    session: Session, store_id: str, name: str, label: str | None, rssi: float, position: int
) -> ZoneInfo:
    if session.get(Store, store_id) is None:
        raise NotFoundError(f"'store_id' {store_id!r} does not exist")
    exists_ = session.scalars(
        select(Zone.id).where(Zone.store_id == store_id, Zone.name == name)
    ).first()
    if exists_ is not None:
        raise ConflictError(f"'name' {name!r}: the zone exists already in store {store_id!r}")
    z = Zone(store_id=store_id, name=name, label=label, min_rssi_dbm=rssi, position=position)
    session.add(z)
    session.commit()
    return _zone(z)


def update_zone(session: Session, store_id: str, name: str, changes: dict[str, Any]) -> ZoneInfo:
    z = _find_zone(session, store_id, name)
    for field_name, value in changes.items():
        setattr(z, field_name, value)
    session.commit()
    return _zone(z)


def delete_zone(session: Session, store_id: str, name: str) -> None:
    z = _find_zone(session, store_id, name)
    session.execute(delete(Zone).where(Zone.id == z.id))
    session.commit()


# --- campaigns --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    id: str
    name: str
    channels: list[str]
    starts_at: datetime
    ends_at: datetime
    window_click_days: float
    window_impression_days: float
    window_engaged_view_days: float
    control_design: str
    exposures: int


def campaigns(session: Session, campaign_id: str | None = None) -> list[CampaignInfo]:
    count = (
        select(func.count())
        .where(Exposure.campaign_id == Campaign.id)
        .correlate(Campaign)
        .scalar_subquery()
    )
    stmt = select(Campaign, count.label("n")).order_by(Campaign.starts_at.desc(), Campaign.id)
    if campaign_id is not None:
        stmt = stmt.where(Campaign.id == campaign_id)
    day = 86_400.0
    return [
        CampaignInfo(
            c.id,
            c.name,
            list(c.channels or []),
            c.starts_at,
            c.ends_at,
            c.window_click_s / day,
            c.window_impression_s / day,
            c.window_engaged_view_s / day,
            c.control_design,
            int(n),
        )
        for c, n in session.execute(stmt)
    ]


def get_campaign_info(session: Session, campaign_id: str) -> CampaignInfo:
    found = campaigns(session, campaign_id)
    if not found:
        raise NotFoundError(f"'campaign_id' {campaign_id!r} does not exist")
    return found[0]


# --- counts for /metrics ----------------------------------------------------------------


def table_counts(session: Session) -> dict[str, int]:
    """Row counts of the main tables (cheap enough for a scrape every 15-60 s)."""
    out = {}
    for name, model in (
        ("presence_events", PresenceEventRow),
        ("store_visits", StoreVisit),
        ("occupancy", OccupancySample),
        ("agents", Agent),
        ("campaigns", Campaign),
        ("exposures", Exposure),
    ):
        out[name] = int(session.execute(select(func.count()).select_from(model)).scalar_one())
    return out
