"""Pydantic models of the MQTT payloads the gateway accepts (DESIGN.md, events v1).

Validated independently of the agent's own code: strict types (no ``"5"`` for
an int, no ``true`` for a float), unknown fields ignored, ``schema`` must be 1.
Cross-field rules that need the topic or the clock live in :mod:`gateway.ingest`.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from hardware.observations import IdClass
from positioning.events import EventKind

MAX_BATCH_EVENTS = 500
MAX_DWELL_S = 7 * 24 * 3600.0  # nobody stays a week: longer is a broken clock or state machine
RSSI_RANGE_DBM = (-130.0, 20.0)  # below thermal noise / above any legal transmitter at 0 m
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
"""Store, agent and zone names: safe as one MQTT topic level and in a URL."""

_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:\-]?[0-9A-Fa-f]{2}){5}$")
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$")


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"must be a finite number (got {value})")
    return value


def _keyed(value: str) -> str:
    # Privacy contract: raw MACs and beacon UUIDs never reach the database.
    if _MAC.match(value) or _UUID.match(value):
        raise ValueError("looks like a raw MAC address or beacon UUID, not a device key")
    return value


Name = Annotated[str, Field(pattern=NAME_PATTERN)]
FiniteFloat = Annotated[float, AfterValidator(_finite)]
DeviceKey = Annotated[
    str, Field(min_length=4, max_length=128, pattern=r"^[\x21-\x7e]+$"), AfterValidator(_keyed)
]

Scalar = int | float | str | None

_STRICT = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)


class EventIn(BaseModel):
    """One presence event inside an ``events`` payload."""

    model_config = _STRICT

    event_id: str = Field(max_length=96)
    seq: int = Field(ge=0, lt=10**12)
    kind: EventKind
    ts: AwareDatetime
    device_key: DeviceKey
    id_class: IdClass
    zone: Name | None = None
    dwell_s: Annotated[FiniteFloat, Field(ge=0.0, le=MAX_DWELL_S)] | None = None
    zones: Annotated[list[Name], Field(max_length=200)] | None = None
    rssi_dbm: Annotated[FiniteFloat, Field(ge=RSSI_RANGE_DBM[0], le=RSSI_RANGE_DBM[1])] | None = (
        None
    )
    reason: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> EventIn:
        if self.kind in (EventKind.ZONE_EXIT, EventKind.VISIT_END) and self.dwell_s is None:
            raise ValueError(f"'dwell_s' is required on {self.kind.value} (got null)")
        if self.kind in (EventKind.ZONE_ENTER, EventKind.ZONE_EXIT) and self.zone is None:
            raise ValueError(f"'zone' is required on {self.kind.value} (got null)")
        return self


class EventsPayload(BaseModel):
    """The ``footfall/v1/{store}/{agent}/events`` payload, version 1."""

    model_config = _STRICT

    schema_version: Literal[1] = Field(alias="schema")
    store_id: Name
    agent_id: Name
    sent_at: AwareDatetime
    events: Annotated[list[EventIn], Field(max_length=MAX_BATCH_EVENTS)]


class StatusPayload(BaseModel):
    """The retained ``status`` payload (``offline`` is also the agent's last will)."""

    model_config = _STRICT

    schema_version: Literal[1] = Field(alias="schema")
    state: Literal["online", "offline"]
    version: Annotated[str, Field(max_length=64)] | None = None
    at: AwareDatetime | None = None
    uptime_s: Annotated[FiniteFloat, Field(ge=0.0)] | None = None
    counters: dict[str, Scalar | dict[str, Scalar]] | None = None
    """Flat counters, or one level of named groups of them (``drops`` by reason)."""
    health: Annotated[str, Field(max_length=32)] | None = None


class OccupancyPayload(BaseModel):
    """The periodic ``occupancy`` payload: device counts per zone at ``at``."""

    model_config = _STRICT

    schema_version: Literal[1] = Field(alias="schema")
    store_id: Name
    agent_id: Name
    at: AwareDatetime
    zones: Annotated[dict[Name, Annotated[int, Field(ge=0, le=1_000_000)]], Field(max_length=500)]
