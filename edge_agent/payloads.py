"""MQTT payloads, exactly as DESIGN.md's contract says (events v1, status, occupancy, config).

An event is serialised once, without ``event_id``/``seq``, when it enters the
outbox (:func:`event_body`); the batch builder (:func:`events_payload`) splices
the id in when it publishes, so a re-sent event is byte-identical.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edge_agent.config import ThresholdSettings, ZoneSettings
from edge_agent.outbox import OutboxItem
from hardware.observations import IdClass
from positioning.events import PresenceEvent

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "SCHEMA_VERSION",
    "ConfigUpdate",
    "event_body",
    "event_id",
    "events_payload",
    "format_ts",
    "occupancy_payload",
    "split_batch",
    "status_payload",
]

SCHEMA_VERSION = 1
# DESIGN.md: a batch holds at most 500 events and 256 KiB.
MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 256 * 1024


def format_ts(ts_s: float) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-11-23T10:14:58.900Z``."""
    ms = math.floor(ts_s * 1000.0 + 0.5)
    whole, frac = divmod(ms, 1000)
    return datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:03d}Z"


def event_id(agent_id: str, seq: int) -> str:
    """``agent_id:seq`` with the seq zero-padded to 12 digits."""
    return f"{agent_id}:{seq:012d}"


def _round(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


def event_body(event: PresenceEvent, id_class: IdClass) -> str:
    """One event as a JSON object, without ``event_id``/``seq`` (the outbox assigns those)."""
    body: dict[str, Any] = {
        "kind": event.kind.value,
        "ts": format_ts(event.ts_s),
        "device_key": event.device_key,
        "id_class": id_class.value,
        "zone": event.zone,
        "dwell_s": _round(event.dwell_s, 3),
        "zones": list(event.zones) if event.zones is not None else None,
        "rssi_dbm": _round(event.rssi_dbm, 1),
        "reason": event.reason,
    }
    if event.visit_class is not None:
        body["visit_class"] = event.visit_class
    return json.dumps(body, separators=(",", ":"), allow_nan=False)


def _event_json(agent_id: str, item: OutboxItem) -> str:
    # body is '{"kind":...}': splice the id fields in front without re-parsing.
    return f'{{"event_id":"{event_id(agent_id, item.seq)}","seq":{item.seq},{item.body[1:]}'


def events_payload(
    store_id: str, agent_id: str, sent_at_s: float, items: Sequence[OutboxItem]
) -> bytes:
    """The ``events`` payload v1 for ``items`` (the caller keeps within the batch limits)."""
    head = (
        f'{{"schema":{SCHEMA_VERSION},"store_id":"{store_id}","agent_id":"{agent_id}",'
        f'"sent_at":"{format_ts(sent_at_s)}","events":['
    )
    return (head + ",".join(_event_json(agent_id, i) for i in items) + "]}").encode()


def split_batch(agent_id: str, items: Sequence[OutboxItem]) -> list[OutboxItem]:
    """The longest prefix of ``items`` that fits one batch (<= 500 events, <= 256 KiB)."""
    # Envelope: schema, ids, sent_at and brackets stay well under this.
    budget = MAX_BATCH_BYTES - 512
    out: list[OutboxItem] = []
    for item in items[:MAX_BATCH_EVENTS]:
        size = len(item.body) + len(agent_id) + 40
        if size > budget and out:
            break
        budget -= size
        out.append(item)
    return out


def status_payload(
    *,
    online: bool,
    version: str,
    now_s: float,
    uptime_s: float | None = None,
    counters: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
) -> bytes:
    """Retained ``status``: ``online`` with counters periodically, ``offline`` as the last will."""
    out: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "state": "online" if online else "offline",
        "version": version,
        "at": format_ts(now_s),
    }
    if uptime_s is not None:
        out["uptime_s"] = round(uptime_s, 1)
    if counters is not None:
        out["counters"] = dict(counters)
    if config is not None:
        out["config"] = dict(config)
    return json.dumps(out, separators=(",", ":"), allow_nan=False).encode()


def occupancy_payload(
    store_id: str, agent_id: str, now_s: float, counts: Mapping[str, int]
) -> bytes:
    """Per-zone device counts (QoS 0, periodic)."""
    return json.dumps(
        {
            "schema": SCHEMA_VERSION,
            "store_id": store_id,
            "agent_id": agent_id,
            "at": format_ts(now_s),
            "zones": dict(counts),
        },
        separators=(",", ":"),
    ).encode()


def rssi_payload(
    store_id: str, agent_id: str, now_s: float, rssi_dbm: Mapping[str, float]
) -> bytes:
    """Smoothed RSSI per device key (QoS 0, optional)."""
    return json.dumps(
        {
            "schema": SCHEMA_VERSION,
            "store_id": store_id,
            "agent_id": agent_id,
            "at": format_ts(now_s),
            "devices": {k: round(v, 1) for k, v in rssi_dbm.items()},
        },
        separators=(",", ":"),
    ).encode()


class ConfigUpdate(BaseModel):
    """What the gateway may send on the retained ``config`` topic.

    ``version`` is echoed on ``status`` once applied (or with the reason when rejected).
    Fields left out keep their current value.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    schema_version: Literal[1] = Field(alias="schema")
    version: str = Field(min_length=1, max_length=64)
    zones: tuple[ZoneSettings, ...] | None = Field(default=None, min_length=1)
    thresholds: ThresholdSettings | None = None
