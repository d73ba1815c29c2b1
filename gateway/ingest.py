"""Validation and batching for MQTT ingest: pure decisions, no I/O.

:func:`classify` turns one MQTT message (topic, bytes, the time it arrived) into
exactly one outcome — events to store, an agent status, occupancy samples, a
message to ignore, or a :class:`Rejected` with a machine-readable
:class:`DeadLetterReason`. It never raises on untrusted bytes. :class:`Batcher`
decides when the waiting messages are committed. The paho loop and the SQL live
in :mod:`gateway.service` and :mod:`gateway.store`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from operator import itemgetter
from typing import Any, NamedTuple

from pydantic import ValidationError

from gateway.schemas import (
    EVENTS_FIELDS,
    EVENTS_PAYLOAD,
    EventsFields,
    EventsPayload,
    OccupancyPayload,
    StatusPayload,
    breaks_event_rules,
)
from hardware.observations import IdClass
from positioning.events import EventKind

__all__ = [
    "Batcher",
    "Classified",
    "DeadLetterReason",
    "EventRecord",
    "Ignored",
    "Limits",
    "OccupancyRecord",
    "Rejected",
    "StatusRecord",
    "TopicParts",
    "classify",
    "parse_topic",
]

_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_DETAIL_CHARS = 500
# Enum member -> its plain string, looked up per event: ``member.value`` is a descriptor call
# on Python 3.11 and showed in the ingest profile.
_KIND_VALUES = {k: k.value for k in EventKind}
_ID_CLASS_VALUES = {c: c.value for c in IdClass}


class DeadLetterReason(StrEnum):
    """Why a payload went to the dead letters (the ``reason`` column)."""

    OVERSIZED = "oversized"
    """Larger than the 256 KiB contract (checked before parsing)."""
    BAD_TOPIC = "bad_topic"
    """Not ``<root>/{store}/{agent}/{channel}`` with valid names."""
    NOT_JSON = "not_json"
    """Not UTF-8 JSON (or nested beyond the parser's limit)."""
    NOT_OBJECT = "not_object"
    """Valid JSON but not an object."""
    SCHEMA_VERSION = "schema_version"
    """``schema`` missing or not a version this gateway knows."""
    INVALID = "invalid"
    """Missing field, wrong type or impossible value."""
    TOO_MANY_EVENTS = "too_many_events"
    """More than 500 events in one batch."""
    RAW_IDENTIFIER = "raw_identifier"
    """A device key that looks like a raw MAC or beacon UUID (privacy contract)."""
    TOPIC_MISMATCH = "topic_mismatch"
    """``store_id``/``agent_id`` in the payload differ from the topic's."""
    EVENT_ID_MISMATCH = "event_id_mismatch"
    """``event_id`` is not ``agent_id:seq`` zero-padded to 12 digits."""
    TS_IN_FUTURE = "ts_in_future"
    """A timestamp further ahead of the gateway's clock than the allowed skew."""
    DB_REJECTED = "db_rejected"
    """The database refused the rows although they validated (a bug; kept for inspection)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds :func:`classify` enforces."""

    max_payload_bytes: int = 256 * 1024
    dead_letter_copy_bytes: int = 4096
    max_future_skew: timedelta = timedelta(hours=1)
    """How far ahead of the receive time an event's ``ts`` may be (agent clock skew)."""
    topic_root: str = "footfall/v1"


@dataclass(frozen=True, slots=True)
class TopicParts:
    store_id: str
    agent_id: str
    channel: str


class EventRecord(NamedTuple):
    """One validated event, as a row of ``presence_events`` wants it.

    Immutable like our frozen dataclasses, but a tuple whose fields are the
    ``presence_events`` columns in order (``received_at`` aside): ingest builds
    one per event, and a tuple is built ten times faster and goes straight into
    a COPY row (``(*record, received_at)``).
    """

    event_id: str
    store_id: str
    agent_id: str
    seq: int
    kind: str
    ts: datetime
    device_key: str
    id_class: str
    zone: str | None
    dwell_s: float | None
    zones: tuple[str, ...] | None
    rssi_dbm: float | None
    reason: str | None

    def row(self, received_at: datetime) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "store_id": self.store_id,
            "agent_id": self.agent_id,
            "seq": self.seq,
            "kind": self.kind,
            "ts": self.ts,
            "device_key": self.device_key,
            "id_class": self.id_class,
            "zone": self.zone,
            "dwell_s": self.dwell_s,
            "zones": list(self.zones) if self.zones is not None else None,
            "rssi_dbm": self.rssi_dbm,
            "reason": self.reason,
            "received_at": received_at,
        }


@dataclass(frozen=True, slots=True)
class EventBatch:
    store_id: str
    agent_id: str
    sent_at: datetime
    events: tuple[EventRecord, ...]


@dataclass(frozen=True, slots=True)
class StatusRecord:
    store_id: str
    agent_id: str
    online: bool
    version: str | None
    at: datetime | None
    uptime_s: float | None
    counters: dict[str, Any] | None
    health: str


@dataclass(frozen=True, slots=True)
class OccupancyRecord:
    store_id: str
    agent_id: str
    at: datetime
    counts: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Ignored:
    """A topic the gateway does not store (``rssi``, its own ``config``) or an empty payload."""

    channel: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """A dead letter: where it came from, why, and a bounded copy of the payload."""

    topic: str
    reason: DeadLetterReason
    detail: str
    payload_size: int
    payload_sha256: str
    payload_copy: bytes

    def row(self, received_at: datetime) -> dict[str, Any]:
        return {
            "received_at": received_at,
            "topic": self.topic,
            "reason": self.reason.value,
            "detail": self.detail,
            "payload_size": self.payload_size,
            "payload_sha256": self.payload_sha256,
            "payload": self.payload_copy,
        }


Classified = EventBatch | StatusRecord | OccupancyRecord | Ignored | Rejected


def _valid_name(value: str) -> bool:
    return (
        0 < len(value) <= 64 and value[0] != "." and value[0] != "-" and set(value) <= _NAME_CHARS
    )


def parse_topic(topic: str, root: str = "footfall/v1") -> TopicParts | None:
    """``<root>/{store}/{agent}/{channel}`` -> its parts, or ``None`` when it is not one."""
    prefix = root.rstrip("/") + "/"
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 3 or not _valid_name(parts[0]) or not _valid_name(parts[1]) or not parts[2]:
        return None
    return TopicParts(parts[0], parts[1], parts[2])


def reject(
    topic: str, payload: bytes, reason: DeadLetterReason, detail: str, limit: int
) -> Rejected:
    return Rejected(
        topic=topic[:1024],
        reason=reason,
        detail=detail[:_MAX_DETAIL_CHARS],
        payload_size=len(payload),
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        payload_copy=bytes(payload[:limit]),
    )


def _describe(errors: Sequence[Any]) -> str:
    # Only the location and pydantic's message: never the input value (it may be a raw MAC).
    parts = []
    for err in errors[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "<payload>"
        parts.append(f"{loc}: {err['msg']}")
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def _reason_for(errors: Sequence[Any]) -> DeadLetterReason:
    for err in errors:
        if err["type"] == "json_invalid":
            return DeadLetterReason.NOT_JSON
    for err in errors:
        if tuple(err["loc"]) in {("schema",), ("schema_version",)}:
            return DeadLetterReason.SCHEMA_VERSION
        if err["type"] in ("model_type", "dict_type") and not err["loc"]:
            return DeadLetterReason.NOT_OBJECT
    for err in errors:
        if tuple(err["loc"]) == ("events",) and err["type"] == "too_long":
            return DeadLetterReason.TOO_MANY_EVENTS
        if "raw MAC" in str(err["msg"]):
            return DeadLetterReason.RAW_IDENTIFIER
    return DeadLetterReason.INVALID


def classify(topic: str, payload: bytes, received_at: datetime, limits: Limits) -> Classified:
    """Decide what one MQTT message is; never raises on any ``topic``/``payload``."""
    copy = limits.dead_letter_copy_bytes
    parts = parse_topic(topic, limits.topic_root)
    if parts is None:
        return reject(
            topic, payload, DeadLetterReason.BAD_TOPIC, f"unexpected topic {topic[:200]!r}", copy
        )
    if len(payload) > limits.max_payload_bytes:
        return reject(
            topic,
            payload,
            DeadLetterReason.OVERSIZED,
            f"payload is {len(payload)} bytes (limit {limits.max_payload_bytes})",
            copy,
        )
    if parts.channel == "events":
        return _events(topic, parts, payload, received_at, limits)
    if parts.channel == "status":
        if not payload:  # a cleared retained status (agent decommissioned)
            return Ignored("status")
        return _status(topic, parts, payload, limits)
    if parts.channel == "occupancy":
        return _occupancy(topic, parts, payload, limits)
    return Ignored(parts.channel)


def _events(
    topic: str, parts: TopicParts, payload: bytes, received_at: datetime, limits: Limits
) -> Classified:
    copy = limits.dead_letter_copy_bytes
    batch: EventsFields | EventsPayload
    try:
        batch = EVENTS_FIELDS.validate_json(payload)
        valid = not breaks_event_rules(batch["events"])
    except ValidationError:
        valid = False
    if not valid:
        # Rare: validate again with the rules inside the validator, for the exact errors.
        try:
            batch = EVENTS_PAYLOAD.validate_json(payload)
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
            return reject(topic, payload, _reason_for(errors), _describe(errors), copy)
    store_id, agent_id = batch["store_id"], batch["agent_id"]
    if store_id != parts.store_id or agent_id != parts.agent_id:
        return reject(
            topic,
            payload,
            DeadLetterReason.TOPIC_MISMATCH,
            f"payload store_id/agent_id {store_id!r}/{agent_id!r} "
            f"differ from the topic's {parts.store_id!r}/{parts.agent_id!r}",
            copy,
        )
    events = batch["events"]
    try:  # agents send every field (null when unset): one C call per event instead of six .get()
        fields = list(map(_EVENT_FIELDS, events))
    except KeyError:
        fields = [(*_REQUIRED_FIELDS(ev), *_optional_fields(ev)) for ev in events]
    # The event_id and clock checks over the whole message at C speed; the first failing
    # event (event_id before ts within one event) names the dead letter, as one loop would.
    ids = [f[0] for f in fields]
    seqs = [f[1] for f in fields]
    expected = list(map((agent_id.replace("{", "{{").replace("}", "}}") + ":{:012d}").format, seqs))
    latest = received_at + limits.max_future_skew
    bad_id = (
        None
        if ids == expected
        else next(i for i, (a, b) in enumerate(zip(ids, expected, strict=True)) if a != b)
    )
    stamps = [f[3] for f in fields]
    bad_ts = (
        None
        if not stamps or max(stamps) <= latest
        else next(i for i, ts in enumerate(stamps) if ts > latest)
    )
    if bad_id is not None and (bad_ts is None or bad_id <= bad_ts):
        return reject(
            topic,
            payload,
            DeadLetterReason.EVENT_ID_MISMATCH,
            f"events.{bad_id}.event_id must be {expected[bad_id]!r} (got {ids[bad_id]!r})",
            copy,
        )
    if bad_ts is not None:
        return reject(
            topic,
            payload,
            DeadLetterReason.TS_IN_FUTURE,
            f"events.{bad_ts}.ts {stamps[bad_ts].isoformat()} is after receive time "
            f"{received_at.isoformat()} + {limits.max_future_skew}",
            copy,
        )
    kinds, id_classes, record = _KIND_VALUES, _ID_CLASS_VALUES, _new_record
    records = [
        record(
            (
                event_id,
                store_id,
                agent_id,
                seq,
                kinds[kind],
                ts,
                device_key,
                id_classes[id_class],
                zone,
                dwell_s,
                tuple(zones) if zones is not None else None,
                rssi,
                why,
            )
        )
        for event_id, seq, kind, ts, device_key, id_class, zone, dwell_s, zones, rssi, why in fields
    ]
    if len(set(seqs)) != len(seqs):  # an event twice in one message: stored once (the last copy)
        records = list({r.event_id: r for r in records}.values())
    return EventBatch(store_id, agent_id, batch["sent_at"], tuple(records))


def _optional_fields(ev: Any) -> tuple[Any, ...]:
    return (
        ev.get("zone"),
        ev.get("dwell_s"),
        ev.get("zones"),
        ev.get("rssi_dbm"),
        ev.get("reason"),
    )


_new_record = partial(tuple.__new__, EventRecord)
"""``EventRecord(*fields)`` without the Python frame of the named tuple's ``__new__``."""
_REQUIRED_FIELDS = itemgetter("event_id", "seq", "kind", "ts", "device_key", "id_class")
_EVENT_FIELDS = itemgetter(
    "event_id",
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
)


def _status(topic: str, parts: TopicParts, payload: bytes, limits: Limits) -> Classified:
    try:
        status = StatusPayload.model_validate_json(payload)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        return reject(
            topic, payload, _reason_for(errors), _describe(errors), limits.dead_letter_copy_bytes
        )
    online = status.state == "online"
    health = status.health or ("ok" if online else "offline")
    return StatusRecord(
        store_id=parts.store_id,
        agent_id=parts.agent_id,
        online=online,
        version=status.version,
        at=status.at,
        uptime_s=status.uptime_s,
        counters=dict(status.counters) if status.counters is not None else None,
        health=health,
    )


def _occupancy(topic: str, parts: TopicParts, payload: bytes, limits: Limits) -> Classified:
    copy = limits.dead_letter_copy_bytes
    try:
        occ = OccupancyPayload.model_validate_json(payload)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        return reject(topic, payload, _reason_for(errors), _describe(errors), copy)
    if occ.store_id != parts.store_id or occ.agent_id != parts.agent_id:
        return reject(
            topic,
            payload,
            DeadLetterReason.TOPIC_MISMATCH,
            f"payload store_id/agent_id {occ.store_id!r}/{occ.agent_id!r} "
            f"differ from the topic's {parts.store_id!r}/{parts.agent_id!r}",
            copy,
        )
    return OccupancyRecord(occ.store_id, occ.agent_id, occ.at, tuple(sorted(occ.zones.items())))


@dataclass
class Batcher:
    """When to commit: enough events waiting, or the oldest waiting message is old enough.

    The caller adds each message's weight (events in it; 1 for anything else) with
    the monotonic time it arrived, asks :meth:`due` with the current monotonic
    time, and calls :meth:`reset` after committing.
    """

    max_events: int
    max_wait_s: float
    waiting_events: int = 0
    waiting_messages: int = 0
    oldest_s: float | None = field(default=None)

    def add(self, weight: int, arrived_s: float) -> None:
        self.waiting_events += max(weight, 1)
        self.waiting_messages += 1
        if self.oldest_s is None:
            self.oldest_s = arrived_s

    def due(self, now_s: float) -> bool:
        if self.oldest_s is None:
            return False
        return self.waiting_events >= self.max_events or now_s - self.oldest_s >= self.max_wait_s

    def wait_s(self, now_s: float) -> float | None:
        """How long the loop may block for the next message before a commit falls due."""
        if self.oldest_s is None:
            return None
        return max(0.0, self.oldest_s + self.max_wait_s - now_s)

    def reset(self) -> None:
        self.waiting_events = 0
        self.waiting_messages = 0
        self.oldest_s = None
