"""Writing what :func:`gateway.ingest.classify` decided: one transaction per batch.

Every insert is idempotent: events on ``event_id``, dead letters on (topic,
payload hash), occupancy on (store, agent, zone, ts); agents and stores are
upserts. So a redelivered message (the gateway died before its PUBACK went out)
changes nothing, and two gateways may race on the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import repeat
from operator import itemgetter
from typing import Any

from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite

from gateway.ingest import (
    Classified,
    EventBatch,
    EventRecord,
    Ignored,
    OccupancyRecord,
    Rejected,
    StatusRecord,
)
from gateway.models import (
    Agent,
    DeadLetter,
    OccupancySample,
    PresenceEventRow,
    Store,
    VisitDirty,
)

__all__ = ["Received", "WriteCounts", "write_batch"]


@dataclass(frozen=True, slots=True)
class Received:
    """One classified message and the wall-clock time the gateway received it."""

    outcome: Classified
    received_at: datetime


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """Rows offered to the database by one write (duplicates included)."""

    events: int
    dead_letters: int
    statuses: int
    occupancy: int
    dead_reasons: dict[str, int]

    def __add__(self, other: WriteCounts) -> WriteCounts:
        reasons = dict(self.dead_reasons)
        for reason, n in other.dead_reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
        return WriteCounts(
            self.events + other.events,
            self.dead_letters + other.dead_letters,
            self.statuses + other.statuses,
            self.occupancy + other.occupancy,
            reasons,
        )


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _insert_ignore(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    if rows:
        conn.execute(_insert(conn, table).on_conflict_do_nothing(index_elements=list(keys)), rows)


def _upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Iterable[str],
) -> None:
    if not rows:
        return
    stmt = _insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}
    )
    conn.execute(stmt, rows)


_JSON_OID = 114  # pg_type.oid of json (fixed in every PostgreSQL)

# Below this many rows a multi-row INSERT is as fast as COPY and simpler to reason about.
COPY_MIN_ROWS = 200
_EVENT_COLUMNS = (
    "event_id",
    "store_id",
    "agent_id",
    "seq",
    "kind",
    "ts",
    "device_key",
    "id_class",
    "zone",
    "dwell_s",
    "zones",
    "rssi_dbm",
    "reason",
    "received_at",
)


def _driver(conn: Connection) -> Any:
    """The psycopg connection under ``conn``, inside the same transaction."""
    return conn.connection.driver_connection


_EVENT_TYPES = (
    "text",
    "text",
    "text",
    "int8",
    "text",
    "timestamptz",
    "text",
    "text",
    "text",
    "float8",
    "json",
    "float8",
    "text",
    "timestamptz",
)
"""PostgreSQL types of :data:`_EVENT_COLUMNS` for a binary COPY (``varchar`` takes ``text``)."""


def _zones_json(zones: Sequence[str]) -> str:
    """``zones`` as a JSON array, without :func:`json.dumps` when no name needs escaping.

    Validated zone names (``NAME_PATTERN``) never do; anything else goes through ``json``.
    """
    if not zones:
        return "[]"
    joined = '","'.join(zones)
    if joined.count('"') == 2 * (len(zones) - 1) and "\\" not in joined and joined.isprintable():
        return f'["{joined}"]'
    return json.dumps(list(zones), separators=(",", ":"))


class _ZonesDumper(Dumper):
    """Binary COPY dumper of ``presence_events.zones`` (a tuple of names) as ``json``.

    Registered on the COPY's cursor only. psycopg's own ``json`` dumper calls
    :func:`json.dumps` for every visit_end (a few microseconds each); this one joins
    the validated names (the binary form of ``json`` is its text).
    """

    format = Format.BINARY
    oid = _JSON_OID

    def dump(self, obj: Any) -> bytes:
        return _zones_json(obj).encode()


def _copy_binary(
    cur: Any, table: str, columns: Sequence[str], types: Sequence[str], rows: Any
) -> None:
    """COPY ``rows`` in PostgreSQL's binary format: no text formatting on our side, no parsing on
    the server's (timestamps and floats go as they are)."""
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


_DIRTY_FROM_COPY = """
INSERT INTO visit_dirty (store_id, device_key, ts_min, ts_max)
SELECT store_id COLLATE "C", device_key COLLATE "C",
       min(CASE WHEN dwell_s <> 0 THEN ts - dwell_s * interval '1 second' ELSE ts END), max(ts)
FROM presence_events
WHERE id > %s AND id <= (SELECT currval(pg_get_serial_sequence('presence_events', 'id')))
GROUP BY 1, 2
"""
"""The ``visit_dirty`` rows of the events just copied, folded per device by the server.

Every row this transaction inserted has an ``id`` above the sequence value taken before
its COPY and at most the session's ``currval`` after it (in a sub-select: evaluated once,
so the primary key's index bounds the scan; a volatile call in the condition would scan
the table). Rows of other writers committed in that range are queued again too
(harmless: the merge folds ranges per device). Grouped bytewise (``COLLATE "C"``: the
sort costs a fraction of one by the database's collation). The range per device is the one
:func:`_dirty_ranges` computes: ``ts - dwell_s`` (when ``dwell_s`` is set and not 0) to
``ts``.
"""


def _copy_events(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL: COPY straight into ``presence_events``, then queue the devices for the merge.

    ``rows`` are ``(*EventRecord, received_at)``, in :data:`_EVENT_COLUMNS` order.
    COPY cannot skip duplicates, and a redelivered message carries events we hold.
    So the COPY runs inside a savepoint: usually nothing is a duplicate and it
    stands; otherwise it is rolled back and the rows go through a per-connection
    temporary table and one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``.
    Either way the ``visit_dirty`` rows of the inserted events are then made by one
    ``INSERT ... SELECT`` (:data:`_DIRTY_FROM_COPY`), not row by row in Python.
    """
    import psycopg

    cols = ", ".join(_EVENT_COLUMNS)
    raw = _driver(conn)
    with raw.cursor() as cur:
        cur.adapters.register_dumper(None, _ZonesDumper)  # this cursor only
        cur.execute("SELECT nextval(pg_get_serial_sequence('presence_events', 'id'))")
        before = cur.fetchone()
        cur.execute("SAVEPOINT footfall_copy")
        try:
            _copy_binary(cur, "presence_events", _EVENT_COLUMNS, _EVENT_TYPES, rows)
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT footfall_copy")
        else:
            cur.execute("RELEASE SAVEPOINT footfall_copy")
            cur.execute(_DIRTY_FROM_COPY, before)
            return
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _ingest_events "  # noqa: S608 - constant names
            f"AS SELECT {cols} FROM presence_events WITH NO DATA"
        )
        cur.execute("TRUNCATE _ingest_events")
        _copy_binary(cur, "_ingest_events", _EVENT_COLUMNS, _EVENT_TYPES, rows)
        cur.execute(
            f"INSERT INTO presence_events ({cols}) SELECT {cols} FROM _ingest_events "  # noqa: S608
            "ON CONFLICT (event_id) DO NOTHING"
        )
        cur.execute(_DIRTY_FROM_COPY, before)


def _dirty_ranges(
    events: Iterable[EventRecord],
) -> dict[tuple[str, str], tuple[datetime, datetime]]:
    """(store, device) -> the time range its events cover: ``ts - dwell_s`` to ``ts``."""
    dirty: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    for ev in events:
        ts = ev.ts
        lo = ts - timedelta(seconds=ev.dwell_s) if ev.dwell_s else ts
        dkey = (ev.store_id, ev.device_key)
        old = dirty.get(dkey)
        dirty[dkey] = (lo, ts) if old is None else (min(old[0], lo), max(old[1], ts))
    return dirty


_SEQ = itemgetter(3)  # EventRecord.seq
_add = tuple.__add__


def write_batch(conn: Connection, items: Sequence[Received]) -> WriteCounts:
    """Write ``items`` on ``conn`` (the caller owns the transaction and commits it)."""
    batches: list[tuple[EventBatch, datetime]] = []
    messages: set[tuple[str, str, str, int]] = set()
    dead: list[dict[str, Any]] = []
    occupancy: dict[tuple[str, str, str, datetime], dict[str, Any]] = {}
    stores: dict[str, datetime] = {}
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    statuses: dict[tuple[str, str], dict[str, Any]] = {}

    for item in items:
        outcome, at = item.outcome, item.received_at
        if isinstance(outcome, EventBatch):
            stores.setdefault(outcome.store_id, at)
            key = (outcome.store_id, outcome.agent_id)
            evs = outcome.events
            last_seq = max(map(_SEQ, evs)) if evs else None
            prev = seen.get(key)
            if prev is not None and prev["last_seq"] is not None and last_seq is not None:
                last_seq = max(last_seq, prev["last_seq"])
            seen[key] = {
                "store_id": key[0],
                "agent_id": key[1],
                "last_seen_at": at,
                "last_seq": last_seq if last_seq is not None else (prev or {}).get("last_seq"),
                "online": True,
                "health": "ok",
            }
            if evs:
                # A message redelivered into the batch it is already in: once is enough (and
                # any other overlap is absorbed by the unique key, as across batches).
                message = (outcome.agent_id, evs[0].event_id, evs[-1].event_id, len(evs))
                if message not in messages:
                    messages.add(message)
                    batches.append((outcome, at))
        elif isinstance(outcome, Rejected):
            dead.append(outcome.row(at))
        elif isinstance(outcome, StatusRecord):
            stores.setdefault(outcome.store_id, at)
            statuses[(outcome.store_id, outcome.agent_id)] = {
                "store_id": outcome.store_id,
                "agent_id": outcome.agent_id,
                "online": outcome.online,
                "health": outcome.health,
                "version": outcome.version,
                "uptime_s": outcome.uptime_s,
                "counters": outcome.counters,
                "status_at": outcome.at,
                "last_seen_at": at,
            }
        elif isinstance(outcome, OccupancyRecord):
            stores.setdefault(outcome.store_id, at)
            for zone, count in outcome.counts:
                okey = (outcome.store_id, outcome.agent_id, zone, outcome.at)
                occupancy[okey] = {
                    "store_id": outcome.store_id,
                    "agent_id": outcome.agent_id,
                    "zone": zone,
                    "ts": outcome.at,
                    "device_count": count,
                }
        else:
            assert isinstance(outcome, Ignored)  # noqa: S101 - exhaustive over Classified

    _insert_ignore(
        conn,
        _table(Store),
        [{"id": s, "created_at": at, "timezone": "UTC", "name": None} for s, at in stores.items()],
        ["id"],
    )
    n_events = sum(len(batch.events) for batch, _ in batches)
    dirty: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    if conn.dialect.name == "postgresql" and n_events >= COPY_MIN_ROWS:
        rows: list[tuple[Any, ...]] = []
        for batch, at in batches:
            rows.extend(map(_add, batch.events, repeat((at,))))  # (*EventRecord, received_at)
        _copy_events(conn, rows)  # queues the devices for the merge itself
    elif batches:
        events: dict[str, tuple[EventRecord, datetime]] = {}  # by event_id
        for batch, at in batches:
            for ev in batch.events:
                events[ev.event_id] = (ev, at)
        n_events = len(events)
        _insert_ignore(
            conn, _table(PresenceEventRow), [ev.row(at) for ev, at in events.values()], ["event_id"]
        )
        dirty = _dirty_ranges(ev for ev, _ in events.values())
    _insert_ignore(conn, _table(DeadLetter), dead, ["topic", "payload_sha256"])
    _insert_ignore(
        conn,
        _table(OccupancySample),
        list(occupancy.values()),
        ["store_id", "agent_id", "zone", "ts"],
    )
    agents = _table(Agent)
    seen_rows = [r for k, r in seen.items() if k not in statuses]
    if seen_rows:
        stmt = _insert(conn, agents)
        seq_expr = (
            func.greatest(agents.c.last_seq, stmt.excluded.last_seq)
            if conn.dialect.name == "postgresql"
            else func.max(func.coalesce(agents.c.last_seq, -1), stmt.excluded.last_seq)
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["store_id", "agent_id"],
            set_={"last_seen_at": stmt.excluded.last_seen_at, "last_seq": seq_expr},
        )
        conn.execute(stmt, sorted(seen_rows, key=lambda r: (r["store_id"], r["agent_id"])))
    _upsert(
        conn,
        agents,
        sorted(statuses.values(), key=lambda r: (r["store_id"], r["agent_id"])),
        ["store_id", "agent_id"],
        ["online", "health", "version", "uptime_s", "counters", "status_at", "last_seen_at"],
    )
    if dirty:
        conn.execute(
            _insert(conn, _table(VisitDirty)),
            [
                {"store_id": k[0], "device_key": k[1], "ts_min": lo, "ts_max": hi}
                for k, (lo, hi) in dirty.items()
            ],
        )
    reasons: dict[str, int] = {}
    for row in dead:
        reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    return WriteCounts(
        events=n_events,
        dead_letters=len(dead),
        statuses=len(statuses),
        occupancy=len(occupancy),
        dead_reasons=reasons,
    )
