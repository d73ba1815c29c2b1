"""Store visits: one visit per device per store, merged over every agent that saw it.

The rule (pure, :func:`merge_visits`): every piece of evidence is an interval
of presence — ``visit_end`` and ``zone_exit`` cover ``[ts - dwell_s, ts]``,
``visit_start`` and ``zone_enter`` the instant ``ts``. Sorted by start, an
interval joins the current visit when it begins no later than the visit's end
plus the visit gap; otherwise it starts a new visit. A visit is *open* while
some agent's latest ``visit_start`` in it has no later ``visit_end``. Its zones
are listed in the order first seen; its class is

    passer_by  dwell_s < min_dwell_s
    engaged    dwell_s >= engaged_dwell_s or at least engaged_zones zones
    visitor    otherwise

The shell (:func:`update_visits`) takes devices from the ``visit_dirty`` queue
that ingest fills, widens each dirty range until it holds whole visits, loads
the raw evidence of that range, re-merges it and replaces the stored visits of
the range. Late events (an outage replayed hours later) land in the queue like
any others, so they fix up exactly the visits they touch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.pq import Format
from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, text

from gateway.models import PresenceEventRow, StoreVisit, VisitDirty
from gateway.schemas import MAX_DWELL_S

_LOGGER = logging.getLogger(__name__)

__all__ = ["Evidence", "MergedVisit", "VisitRules", "merge_visits", "update_visits"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class VisitRules:
    gap_s: float = 900.0
    """Stays closer than this are one visit."""
    min_dwell_s: float = 120.0
    engaged_dwell_s: float = 900.0
    engaged_zones: int = 3


@dataclass(frozen=True, slots=True)
class Evidence:
    """One stored event of one device in one store, reduced to what the merge needs."""

    agent_id: str
    kind: str
    ts_s: float
    """POSIX seconds, UTC."""
    dwell_s: float | None = None
    zone: str | None = None
    zones: tuple[str, ...] | None = None
    id_class: str = "wifi_global"

    @property
    def start_s(self) -> float:
        if self.kind in ("visit_end", "zone_exit") and self.dwell_s is not None:
            return self.ts_s - self.dwell_s
        return self.ts_s


@dataclass(frozen=True, slots=True)
class MergedVisit:
    started_s: float
    ended_s: float
    zones: tuple[str, ...]
    visit_class: str
    agent_count: int
    open: bool
    id_class: str

    @property
    def dwell_s(self) -> float:
        return self.ended_s - self.started_s


def classify_visit(dwell_s: float, zone_count: int, rules: VisitRules) -> str:
    if dwell_s < rules.min_dwell_s:
        return "passer_by"
    if dwell_s >= rules.engaged_dwell_s or zone_count >= rules.engaged_zones:
        return "engaged"
    return "visitor"


_Ev = tuple[float, float, str, str, str | None, Sequence[str] | None, str]
"""Evidence as the merge works on it: ``(start_s, ts_s, agent_id, kind, zone, zones, id_class)``.

Plain tuples: the bulk re-merge builds one per stored event, several times cheaper than an
:class:`Evidence`, and the sort key is an ``itemgetter`` instead of a property call.
"""
_ORDER = itemgetter(0, 1, 2, 3)
_ENDS = frozenset(("visit_end", "zone_exit"))


def _as_tuple(ev: Evidence) -> _Ev:
    return (ev.start_s, ev.ts_s, ev.agent_id, ev.kind, ev.zone, ev.zones, ev.id_class)


def _evidence_tuple(
    agent_id: str,
    kind: str,
    ts_s: float,
    dwell_s: float | None,
    zone: str | None,
    zones: Sequence[str] | None,
    id_class: str,
) -> _Ev:
    """What :func:`_as_tuple` makes of the :class:`Evidence` with these fields."""
    start_s = ts_s - dwell_s if dwell_s is not None and kind in _ENDS else ts_s
    return (
        start_s,
        ts_s,
        agent_id,
        kind,
        zone,
        tuple(zones) if zones is not None else None,
        id_class,
    )


def _close(group: list[_Ev], start_s: float, end_s: float, rules: VisitRules) -> MergedVisit:
    seen_at: dict[str, float] = {}
    last_start: dict[str, float] = {}
    last_end: dict[str, float] = {}
    for ev_start, ts, agent, kind, zone, zones, _ in group:
        if zone is not None:
            first = seen_at.get(zone)
            if first is None or ev_start < first:
                seen_at[zone] = ev_start
        if zones:
            for i, z in enumerate(zones):
                # visit_end lists zones in order from the visit's start: keep that order.
                seen_at.setdefault(z, ev_start + i * 1e-6)
        if kind == "visit_start":
            latest = last_start.get(agent)
            if latest is None or ts > latest:
                last_start[agent] = ts
        elif kind == "visit_end":
            latest = last_end.get(agent)
            if latest is None or ts > latest:
                last_end[agent] = ts
    agents = {ev[2] for ev in group}
    classes = {ev[6] for ev in group}
    zone_order = tuple(sorted(seen_at, key=lambda z: (seen_at[z], z)))
    is_open = any(ts > last_end.get(agent, float("-inf")) for agent, ts in last_start.items())
    return MergedVisit(
        started_s=start_s,
        ended_s=end_s,
        zones=zone_order,
        visit_class=classify_visit(end_s - start_s, len(zone_order), rules),
        agent_count=len(agents),
        open=is_open,
        id_class=min(classes),
    )


def merge_visits(evidence: Iterable[Evidence], rules: VisitRules) -> list[MergedVisit]:
    """One device's evidence in one store -> its visits, in time order (order of input is free)."""
    return _merge([_as_tuple(ev) for ev in evidence], rules)


def _merge(evidence: list[_Ev], rules: VisitRules) -> list[MergedVisit]:
    """:func:`merge_visits` over evidence tuples (sorts ``evidence`` in place)."""
    evidence.sort(key=_ORDER)
    gap_s = rules.gap_s
    visits: list[MergedVisit] = []
    group: list[_Ev] = []
    start_s = end_s = 0.0
    for ev in evidence:
        ev_start, ts = ev[0], ev[1]
        if group and ev_start > end_s + gap_s:
            visits.append(_close(group, start_s, end_s, rules))
            group = []
        if not group:
            start_s, end_s = ev_start, ts
        group.append(ev)
        if ts > end_s:
            end_s = ts
    if group:
        visits.append(_close(group, start_s, end_s, rules))
    return visits


# -- the SQL shell -------------------------------------------------------------------------


def _to_s(ts: datetime) -> float:
    return (ts - _EPOCH).total_seconds()


def _to_dt(ts_s: float) -> datetime:
    return _EPOCH + timedelta(seconds=ts_s)


def _load_evidence(
    conn: Connection, store_id: str, device_key: str, lo: datetime, hi: datetime
) -> list[Evidence]:
    e = PresenceEventRow
    rows = conn.execute(
        select(e.agent_id, e.kind, e.ts, e.dwell_s, e.zone, e.zones, e.id_class).where(
            e.store_id == store_id,
            e.device_key == device_key,
            e.ts >= lo,
            # an exit reported later may reach back into the range by its dwell
            e.ts <= hi + timedelta(seconds=MAX_DWELL_S),
        )
    ).all()
    lo_s, hi_s = _to_s(lo), _to_s(hi)
    out = []
    for r in rows:
        ev = Evidence(
            agent_id=r.agent_id,
            kind=r.kind,
            ts_s=_to_s(r.ts),
            dwell_s=r.dwell_s,
            zone=r.zone,
            zones=tuple(r.zones) if r.zones is not None else None,
            id_class=r.id_class,
        )
        if ev.start_s <= hi_s and ev.ts_s >= lo_s:
            out.append(ev)
    return out


def _existing(conn: Connection, store_id: str, device_key: str, lo: datetime, hi: datetime) -> Any:
    v = StoreVisit
    return conn.execute(
        select(v.started_at, v.ended_at).where(
            v.store_id == store_id, v.device_key == device_key, v.started_at <= hi, v.ended_at >= lo
        )
    ).all()


def remerge_device(
    conn: Connection,
    store_id: str,
    device_key: str,
    lo: datetime,
    hi: datetime,
    rules: VisitRules,
    now: datetime,
) -> int:
    """Recompute the visits of one device in one store around ``[lo, hi]``; returns how many."""
    gap = timedelta(seconds=rules.gap_s)
    for _ in range(50):  # widening converges in a step or two; the bound guards a bug
        existing = _existing(conn, store_id, device_key, lo - gap, hi + gap)
        new_lo = min([lo, *(r.started_at for r in existing)])
        new_hi = max([hi, *(r.ended_at for r in existing)])
        evidence = _load_evidence(conn, store_id, device_key, new_lo - gap, new_hi + gap)
        merged = merge_visits(evidence, rules)
        if merged:
            new_lo = min(new_lo, _to_dt(merged[0].started_s))
            new_hi = max(new_hi, _to_dt(merged[-1].ended_s))
        if (new_lo, new_hi) == (lo, hi):
            break
        lo, hi = new_lo, new_hi
    v = StoreVisit
    conn.execute(
        delete(v).where(
            v.store_id == store_id,
            v.device_key == device_key,
            v.started_at <= hi + gap,
            v.ended_at >= lo - gap,
        )
    )
    _insert_visits(conn, [_visit_row(store_id, device_key, m, now) for m in merged])
    return len(merged)


@dataclass(frozen=True, slots=True)
class VisitUpdate:
    devices: int
    visits: int


def _claim(conn: Connection, limit: int, last_id: int) -> list[tuple[str, str, datetime, datetime]]:
    """Take up to ``limit`` queue rows up to ``last_id`` (skipping rows another gateway holds)
    and delete them.

    Returns one merged range per (store, device), sorted as the advisory lock keys are.
    """
    if conn.dialect.name == "postgresql":
        # One round trip: lock, delete and fold the rows per device on the server.
        with _driver(conn).cursor() as cur:
            cur.execute(_CLAIM_SQL, (last_id, limit))
            claimed = [(r[0], r[1], r[2], r[3]) for r in cur.fetchall()]
    else:
        d = VisitDirty
        rows = conn.execute(
            select(d.id, d.store_id, d.device_key, d.ts_min, d.ts_max)
            .where(d.id <= last_id)
            .order_by(d.id)
            .limit(limit)
        ).all()
        if not rows:
            return []
        conn.execute(delete(d).where(d.id.in_([r.id for r in rows])))
        ranges: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        for r in rows:
            key = (r.store_id, r.device_key)
            old = ranges.get(key)
            ranges[key] = (
                (r.ts_min, r.ts_max)
                if old is None
                else (min(old[0], r.ts_min), max(old[1], r.ts_max))
            )
        claimed = [(k[0], k[1], lo, hi) for k, (lo, hi) in ranges.items()]
    # Sorted as the advisory lock keys are, so concurrent rounds lock in one global order.
    claimed.sort(key=lambda c: f"{c[0]}/{c[1]}")
    return claimed


_CLAIM_SQL = """
WITH taken AS (
    DELETE FROM visit_dirty WHERE id IN (
        SELECT id FROM visit_dirty WHERE id <= %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
    )
    RETURNING store_id, device_key, ts_min, ts_max
)
SELECT store_id COLLATE "C", device_key COLLATE "C", min(ts_min), max(ts_max) FROM taken
GROUP BY 1, 2
"""


def _driver(conn: Connection) -> Any:
    """The psycopg connection under ``conn``, inside the same transaction."""
    return conn.connection.driver_connection


def _lock_devices(conn: Connection, keys: Sequence[tuple[str, str]]) -> None:
    """Two gateways may claim one device from different queue rows: serialise them.

    Transaction-scoped advisory locks, taken in sorted order so two rounds cannot deadlock.
    """
    if conn.dialect.name == "postgresql" and keys:
        conn.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k"
            ),
            {"keys": sorted({f"{store}/{device}" for store, device in keys})},
        )


# How far around the claimed ranges one bulk round loads evidence; a device whose visits
# reach further is re-merged on its own (remerge_device), which widens without limit.
BULK_MARGIN = timedelta(hours=1)
BULK_DEVICES = 500  # devices per IN (...) list: well under SQLite's variable limit


_EXISTING_SQL = """
SELECT v.id, v.store_id, v.device_key, v.started_at, v.ended_at
FROM unnest(%s::text[]) AS d(device_key) CROSS JOIN LATERAL (
    SELECT id, store_id, device_key, started_at, ended_at FROM store_visits
    WHERE device_key = d.device_key AND started_at <= %s AND ended_at >= %s
    OFFSET 0
) AS v
"""
_EVIDENCE_SQL = """
SELECT e.store_id, e.device_key,
       CASE WHEN e.kind IN ('visit_end', 'zone_exit') AND e.dwell_s IS NOT NULL
            THEN e.ts_s - e.dwell_s ELSE e.ts_s END,
       e.ts_s, e.agent_id, e.kind, e.zone, e.zones, e.id_class
FROM unnest(%s::text[]) AS d(device_key) CROSS JOIN LATERAL (
    SELECT store_id, device_key, date_part('epoch', ts) AS ts_s, dwell_s, agent_id, kind,
           zone, zones, id_class
    FROM presence_events
    WHERE device_key = d.device_key AND ts >= %s AND ts <= %s
    OFFSET 0
) AS e
"""
"""Evidence rows as ``(store_id, device_key, *_Ev)``: the server computes ``start_s`` (one IEEE
subtraction, the same double as :func:`_evidence_tuple`'s) and the POSIX seconds of ``ts``
(``date_part``: microseconds / 1e6 correctly rounded, the same double as :func:`_to_s`; the
numeric ``extract`` costs more and rounds to the same). ``zones`` are read by
:class:`_ZonesLoader`.

Both queries look each device up on its own through the ``(device_key, ...)`` index (the
``OFFSET 0`` keeps the lateral scan per device): with ``store_id = ANY(...)`` beside
``device_key = ANY(...)`` and no statistics yet (a new or freshly filled table), PostgreSQL
took the ``(store_id, ts)`` index and filtered every event of the stores in the window, a
scan that grew with the table on every round. The rows of a claimed device in a store that
was not claimed are loaded too (a device seen in two stores) and ignored: the merge looks
its evidence up by (store, device)."""

_JSON_OID = 114  # pg_type.oid of json


def _load_zones(text: str) -> tuple[str, ...] | Any:
    """A JSON array of zone names -> the names; anything else as :func:`json.loads` reads it.

    What ingest copies (``["a","b"]``, no escapes: validated names) is split without a JSON
    parser, which took a tenth of the merge's Python time.
    """
    if text[:2] == '["' and text[-2:] == '"]' and "\\" not in text:
        names = text[2:-2].split('","')
        if '"' not in "".join(names):
            return tuple(names)
    elif text == "[]":
        return ()
    return json.loads(text)


class _ZonesLoader(Loader):
    """``json`` column values of the merge's queries (only ``zones``) via :func:`_load_zones`."""

    def load(self, data: Buffer) -> Any:
        return _load_zones(bytes(data).decode())


class _ZonesBinaryLoader(_ZonesLoader):
    """:class:`_ZonesLoader` for binary results (the binary form of ``json`` is its text)."""

    format = Format.BINARY


_STORE_DEVICE = itemgetter(0, 1)

_Existing = tuple[int, datetime, datetime]
"""A stored visit around a claimed range: (id, started_at, ended_at)."""


def _load_bulk(
    conn: Connection,
    devices: list[str],
    stores: list[str],
    load_lo: datetime,
    load_hi: datetime,
) -> tuple[dict[tuple[str, str], list[_Existing]], dict[tuple[str, str], list[_Ev]]]:
    """The stored visits and the evidence of ``devices`` in ``stores`` around the load window."""
    existing: dict[tuple[str, str], list[_Existing]] = {}
    evidence: dict[tuple[str, str], list[_Ev]] = {}
    ev_hi = load_hi + timedelta(seconds=MAX_DWELL_S)
    if conn.dialect.name == "postgresql":
        # Plain psycopg rows: array parameters instead of IN lists of hundreds of binds, and
        # no per-value result processing (the load is most of the merge's Python time).
        with _driver(conn).cursor() as cur:
            cur.adapters.register_loader(_JSON_OID, _ZonesLoader)  # this cursor only
            cur.execute(_EXISTING_SQL, (devices, load_hi, load_lo))
            for vid, store_id, device_key, started_at, ended_at in cur.fetchall():
                existing.setdefault((store_id, device_key), []).append((vid, started_at, ended_at))
            cur.adapters.register_loader(_JSON_OID, _ZonesBinaryLoader)
            # binary results: the doubles arrive as they are (no text to parse); the rows of
            # one (store, device) come together (the lateral scan goes device by device)
            cur.execute(_EVIDENCE_SQL, (devices, load_lo, ev_hi), binary=True)
            for key, rows in groupby(cur.fetchall(), _STORE_DEVICE):
                evidence.setdefault(key, []).extend([row[2:] for row in rows])
        return existing, evidence
    v, e = StoreVisit, PresenceEventRow
    for r in conn.execute(
        select(v.id, v.store_id, v.device_key, v.started_at, v.ended_at).where(
            v.device_key.in_(devices),  # the (device_key, started_at) index
            v.store_id.in_(stores),
            v.started_at <= load_hi,
            v.ended_at >= load_lo,
        )
    ).all():
        existing.setdefault((r.store_id, r.device_key), []).append((r.id, r.started_at, r.ended_at))
    for store_id, device_key, agent_id, kind, ts, dwell_s, zone, zones, id_class in conn.execute(
        select(
            e.store_id,
            e.device_key,
            e.agent_id,
            e.kind,
            e.ts,
            e.dwell_s,
            e.zone,
            e.zones,
            e.id_class,
        ).where(
            e.device_key.in_(devices),
            e.store_id.in_(stores),
            e.ts >= load_lo,
            e.ts <= ev_hi,
        )
    ):
        evidence.setdefault((store_id, device_key), []).append(
            _evidence_tuple(agent_id, kind, _to_s(ts), dwell_s, zone, zones, id_class)
        )
    return existing, evidence


def _remerge_bulk(
    conn: Connection,
    claimed: Sequence[tuple[str, str, datetime, datetime]],
    rules: VisitRules,
    now: datetime,
) -> int:
    """:func:`remerge_device` for many devices with two queries instead of a few per device."""
    gap = timedelta(seconds=rules.gap_s)
    devices = sorted({c[1] for c in claimed})
    stores = sorted({c[0] for c in claimed})
    load_lo = min(c[2] for c in claimed) - gap - BULK_MARGIN
    load_hi = max(c[3] for c in claimed) + gap + BULK_MARGIN
    existing, evidence = _load_bulk(conn, devices, stores, load_lo, load_hi)
    v = StoreVisit
    doomed: list[int] = []
    rows: list[dict[str, Any]] = []
    count = 0
    for store_id, device_key, lo, hi in claimed:
        key = (store_id, device_key)
        mine = existing.get(key, [])
        evs = evidence.get(key, [])
        merged: list[MergedVisit] = []
        merged_from = -1
        for _ in range(50):
            near = [x for x in mine if x[1] <= hi + gap and x[2] >= lo - gap]
            new_lo = min([lo, *(x[1] for x in near)])
            new_hi = max([hi, *(x[2] for x in near)])
            w_lo, w_hi = _to_s(new_lo - gap), _to_s(new_hi + gap)
            window = [x for x in evs if x[0] <= w_hi and x[1] >= w_lo]
            # The window only widens: as many events as last round are the same events (in
            # the same order), so the same visits; usually the second round just confirms.
            if len(window) != merged_from:
                merged = _merge(window, rules)
                merged_from = len(window)
            if merged:
                new_lo = min(new_lo, _to_dt(merged[0].started_s))
                new_hi = max(new_hi, _to_dt(merged[-1].ended_s))
            if (new_lo, new_hi) == (lo, hi):
                break
            lo, hi = new_lo, new_hi
        if lo - gap < load_lo or hi + gap > load_hi:
            count += remerge_device(conn, store_id, device_key, lo, hi, rules, now)
            continue
        doomed.extend(x[0] for x in mine if x[1] <= hi + gap and x[2] >= lo - gap)
        rows.extend(_visit_row(store_id, device_key, m, now) for m in merged)
        count += len(merged)
    if doomed:
        if conn.dialect.name == "postgresql":
            with _driver(conn).cursor() as cur:
                cur.execute("DELETE FROM store_visits WHERE id = ANY(%s)", (doomed,))
        else:
            conn.execute(delete(v).where(v.id.in_(doomed)))
    _insert_visits(conn, rows)
    return count


def _insert_visits(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        # Binary COPY: no INSERT round trip per visit, no text formatting.
        row_values = itemgetter(*_VISIT_COLUMNS)
        with _driver(conn).cursor() as cur, cur.copy(_VISITS_COPY) as copy:
            copy.set_types(_VISIT_TYPES)
            for r in rows:
                copy.write_row(row_values(r))
    else:
        conn.execute(insert(StoreVisit), rows)


_VISIT_COLUMNS = (
    "store_id",
    "device_key",
    "id_class",
    "started_at",
    "ended_at",
    "dwell_s",
    "zones",
    "visit_class",
    "agent_count",
    "open",
    "updated_at",
)
_VISIT_TYPES = (
    "text",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "float8",
    "json",
    "text",
    "int4",
    "bool",
    "timestamptz",
)
_VISITS_COPY = f"COPY store_visits ({', '.join(_VISIT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"


def _visit_row(store_id: str, device_key: str, m: MergedVisit, now: datetime) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "device_key": device_key,
        "id_class": m.id_class,
        "started_at": _to_dt(m.started_s),
        "ended_at": _to_dt(m.ended_s),
        "dwell_s": m.dwell_s,
        "zones": list(m.zones),
        "visit_class": m.visit_class,
        "agent_count": m.agent_count,
        "open": m.open,
        "updated_at": now,
    }


def update_visits(
    engine: Engine, rules: VisitRules, now: datetime, *, batch: int = 20_000, max_rounds: int = 100
) -> VisitUpdate:
    """Drain the ``visit_dirty`` queue as it is now; each round is one transaction of up to
    ``batch`` rows.

    Rows queued meanwhile wait for the next call: under a steady stream one call does not
    chase the queue in ever smaller rounds, each reloading the evidence of devices the
    previous round merged (most of the merge's cost).
    """
    devices = visits = 0
    with engine.connect() as conn:
        last_id = conn.execute(select(func.max(VisitDirty.id))).scalar()
    if last_id is None:
        return VisitUpdate(0, 0)
    for _ in range(max_rounds):
        with engine.begin() as conn:
            claimed = _claim(conn, batch, last_id)
            if not claimed:
                break
            for i in range(0, len(claimed), BULK_DEVICES):
                chunk = claimed[i : i + BULK_DEVICES]
                _lock_devices(conn, [(c[0], c[1]) for c in chunk])
                visits += _remerge_bulk(conn, chunk, rules, now)
            devices += len(claimed)
    if devices:
        _LOGGER.debug("re-merged the visits of %d devices (%d visits)", devices, visits)
    return VisitUpdate(devices, visits)


def visits_of(conn: Connection, store_id: str, device_key: str | None = None) -> Sequence[Any]:
    """Stored visits of a store (optionally one device), oldest first: for tests and tools."""
    v = StoreVisit
    cond = [v.store_id == store_id]
    if device_key is not None:
        cond.append(v.device_key == device_key)
    return conn.execute(select(v).where(and_(*cond)).order_by(v.device_key, v.started_at)).all()
