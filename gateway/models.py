"""The database schema (SQLAlchemy 2.0 declarative models).

Models never leave the database layer: ingest, visits, reports and the API read
and write through functions that return plain values. Every timestamp column is
:class:`~gateway.db.UtcDateTime` (aware UTC in, aware UTC out). Schema changes go
into a new Alembic migration under ``gateway/migrations/versions``.

Tables
    stores, zones, agents ............ the fleet (agents updated from ``status``)
    presence_events .................. raw events, unique ``event_id`` (purged by retention)
    occupancy ........................ per-zone device counts from ``occupancy``
    dead_letters ..................... every rejected MQTT payload, with the reason
    store_visits, visit_dirty ........ merged visits and the queue of devices to re-merge
    campaigns, exposures, identity_links ... written and read by ``campaigns``
    people ........................... integer ids of the person_keys (report joins)
    api_keys ......................... the HTTP API's credentials
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.db import UtcDateTime, epoch_seconds

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real bigint.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_CLASSES = ("infrastructure_beacon", "personal_beacon", "wifi_global", "wifi_randomized")
EVENT_KINDS = ("zone_enter", "zone_exit", "visit_start", "visit_end")
VISIT_CLASSES = ("passer_by", "visitor", "engaged")


def only_on(dialect: str, index: Index) -> Index:
    """``index``, created only on ``dialect`` (autogenerate: :func:`alembic_include_object`)."""
    index.info["dialect"] = dialect
    return index.ddl_if(dialect=dialect)


def alembic_include_object(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` for ``dialect``: autogenerate does not count a model's
    index made for the other dialect (:func:`only_on`) as missing."""

    def include(obj: Any, _name: str | None, _type: str, reflected: bool, _other: Any) -> bool:
        wanted = getattr(obj, "info", {}).get("dialect")
        return reflected or wanted is None or wanted == dialect

    return include


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime]


class Zone(Base):
    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("store_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(200))
    min_rssi_dbm: Mapped[float] = mapped_column(Float, default=-75.0, server_default="-75")
    """Agents place a device in this zone while its smoothed RSSI is at least this."""
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Order in the agents' config: zones are tried nearest first (lowest position first)."""


class Agent(Base):
    """One edge agent, as its retained ``status`` messages describe it."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("store_id", "agent_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    health: Mapped[str] = mapped_column(String(32), default="unknown")
    """``ok``, ``degraded``, ``offline`` or ``unknown`` (from the status payload)."""
    version: Mapped[str | None] = mapped_column(String(64))
    uptime_s: Mapped[float | None] = mapped_column(Float)
    counters: Mapped[dict[str, Any] | None]
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    status_at: Mapped[datetime | None]
    """``sent_at`` of the latest status payload."""
    last_seen_at: Mapped[datetime]
    """When the gateway last received anything from this agent."""


class PresenceEventRow(Base):
    """One raw presence event; ``event_id`` makes replays and redeliveries idempotent."""

    __tablename__ = "presence_events"
    __table_args__ = (
        Index(None, "store_id", "ts"),
        Index(None, "device_key", "ts"),
        # BRIN on PostgreSQL (migration 0003): events arrive in about ts order, and a
        # block-range index serves retention's ts < cutoff at a fraction of a B-tree's upkeep.
        Index(None, "ts", postgresql_using="brin", postgresql_with={"autosummarize": "on"}),
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
        CheckConstraint(_in("id_class", ID_CLASSES), name="id_class"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(
        # bytewise on PostgreSQL: only ever tested for equality (migration 0007)
        String(96).with_variant(String(96, collation="C"), "postgresql"),
        unique=True,
    )
    store_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime]
    device_key: Mapped[str] = mapped_column(String(128))
    id_class: Mapped[str] = mapped_column(String(32))
    zone: Mapped[str | None] = mapped_column(String(64))
    dwell_s: Mapped[float | None] = mapped_column(Float)
    zones: Mapped[list[str] | None]
    rssi_dbm: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime]


class OccupancySample(Base):
    __tablename__ = "occupancy"
    __table_args__ = (
        UniqueConstraint("store_id", "agent_id", "zone", "ts"),
        Index(None, "store_id", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime]
    device_count: Mapped[int] = mapped_column(Integer)


class DeadLetter(Base):
    """A payload the gateway refused, with why; identical redeliveries collapse on the hash."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("topic", "payload_sha256"),
        Index(None, "reason", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime]
    topic: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(32))
    """Machine-readable: ``not_json``, ``schema_version``, ``invalid``, ``oversized``, ..."""
    detail: Mapped[str] = mapped_column(Text)
    payload_size: Mapped[int] = mapped_column(Integer)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    """The first ``dead_letter_copy_bytes`` bytes only."""


class StoreVisit(Base):
    """One device's visit to one store, merged over every agent that saw it."""

    __tablename__ = "store_visits"
    __table_args__ = (
        Index(None, "store_id", "started_at"),
        # the attribution report's join from identity links (migration 0006)
        only_on("postgresql", Index(None, "device_key", "started_at")),
        only_on(
            "sqlite",
            Index(None, "device_key", "started_at", "visit_class", "store_id", "zones"),
        ),
        CheckConstraint(_in("visit_class", VISIT_CLASSES), name="visit_class"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64))
    device_key: Mapped[str] = mapped_column(String(128))
    id_class: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    dwell_s: Mapped[float] = mapped_column(Float)
    zones: Mapped[list[str]]
    visit_class: Mapped[str] = mapped_column(String(16))
    agent_count: Mapped[int] = mapped_column(Integer)
    open: Mapped[bool] = mapped_column(Boolean, default=False)
    """True while no agent has reported the end yet (``ended_at`` is the latest evidence)."""
    updated_at: Mapped[datetime]


class VisitDirty(Base):
    """Devices whose store visits must be re-merged over ``[ts_min, ts_max]`` (a work queue)."""

    __tablename__ = "visit_dirty"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64))
    device_key: Mapped[str] = mapped_column(String(128))
    ts_min: Mapped[datetime]
    ts_max: Mapped[datetime]


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(_in("control_design", ("randomized_holdout", "none")), name="control"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    channels: Mapped[list[str]]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    window_click_s: Mapped[float] = mapped_column(Float)
    window_impression_s: Mapped[float] = mapped_column(Float)
    window_engaged_view_s: Mapped[float] = mapped_column(Float)
    control_design: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class Person(Base):
    """A person_key (a SHA-256 hex, never a raw identifier) and its integer id.

    Filled by every write of ``exposures`` and ``identity_links``
    (:mod:`gateway.campaign_store`); the reports join and group on the integer.
    """

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64), unique=True)


class Exposure(Base):
    __tablename__ = "exposures"
    __table_args__ = (
        UniqueConstraint("campaign_id", "person_key", "ts", "kind", "channel", "creative"),
        Index(None, "person_key", "ts"),
        Index(None, "campaign_id", "grp"),
        # covers the attribution join (gateway/reports.py): campaign, person id and group
        # looked up, a range on ts_s, every column the report reads in the index
        # (migration 0005; 0004 had person_key and no ts_s)
        Index(
            "ix_exposures_attribution_cover",
            "campaign_id",
            "person_id",
            "grp",
            "ts_s",
            "ts",
            "kind",
            "channel",
            "creative",
        ),
        CheckConstraint(_in("kind", ("click", "impression", "engaged_view")), name="kind"),
        CheckConstraint(_in("grp", ("exposed", "control")), name="grp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    person_key: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(BigId, ForeignKey("people.id"))
    """``people.id`` of ``person_key``: the reports join and group on this integer."""
    ts: Mapped[datetime]
    ts_s: Mapped[float] = mapped_column(Float, Computed(epoch_seconds("ts"), persisted=True))
    """``ts`` in seconds since the epoch, computed by the database (never written)."""
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(64))
    creative: Mapped[str] = mapped_column(String(128))
    grp: Mapped[str] = mapped_column(String(8))
    store_id: Mapped[str | None] = mapped_column(String(64))
    import_id: Mapped[str | None] = mapped_column(String(64))


class IdentityLink(Base):
    __tablename__ = "identity_links"
    __table_args__ = (
        UniqueConstraint("device_key", "person_key", "source"),
        Index(None, "device_key"),
        Index(None, "person_key"),
        Index(None, "person_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_key: Mapped[str] = mapped_column(String(128))
    person_key: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(BigId, ForeignKey("people.id"))
    """``people.id`` of ``person_key``."""
    source: Mapped[str] = mapped_column(String(32))
    """``app``, ``wifi_login``, ... (a consented source)."""
    consented_at: Mapped[datetime]
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(_in("role", ("admin", "marketer", "technician", "ingest")), name="role"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
