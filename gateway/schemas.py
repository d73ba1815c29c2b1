"""Pydantic models of the MQTT payloads the gateway accepts (DESIGN.md, events v1).

Validated independently of the agent's own code: strict types (no ``"5"`` for
an int, no ``true`` for a float), unknown fields ignored, ``schema`` must be 1.
Cross-field rules that need the topic or the clock live in :mod:`gateway.ingest`.
The high-volume ``events`` payload is a ``TypedDict`` validated by one reused
:data:`EVENTS_PAYLOAD` adapter (plain dicts out, no model object per event);
``status`` and ``occupancy`` are models.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal, NotRequired

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    with_config,
)
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from hardware.observations import IdClass
from positioning.events import EventKind

MAX_BATCH_EVENTS = 500
MAX_DWELL_S = 7 * 24 * 3600.0  # nobody stays a week: longer is a broken clock or state machine
RSSI_RANGE_DBM = (-130.0, 20.0)  # below thermal noise / above any legal transmitter at 0 m
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
"""Store, agent and zone names: safe as one MQTT topic level and in a URL."""

_RAW_ID = re.compile(
    r"^[0-9A-Fa-f]{2}([:\-]?[0-9A-Fa-f]{2}){5}$"  # a MAC address
    r"|^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$"  # a beacon UUID
)
"""What a device key must not look like (privacy contract: raw identifiers never get in)."""


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"must be a finite number (got {value})")
    return value


Name = Annotated[str, Field(pattern=NAME_PATTERN)]
FiniteFloat = Annotated[float, AfterValidator(_finite)]
DeviceKey = Annotated[str, Field(min_length=4, max_length=128, pattern=r"^[\x21-\x7e]+$")]
"""Checked for raw identifiers by :func:`_event_rules` (one Python call per event, not two)."""

Scalar = int | float | str | None

_STRICT = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)
_STRICT_DICT = ConfigDict(strict=True, extra="ignore")


@with_config(_STRICT_DICT)
class EventIn(TypedDict):
    """One presence event inside an ``events`` payload (validated as a plain dict)."""

    event_id: Annotated[str, Field(max_length=96)]
    seq: Annotated[int, Field(ge=0, lt=10**12)]
    kind: EventKind
    ts: AwareDatetime
    device_key: DeviceKey
    id_class: IdClass
    zone: NotRequired[Name | None]
    dwell_s: NotRequired[
        Annotated[float, Field(ge=0.0, le=MAX_DWELL_S, allow_inf_nan=False)] | None
    ]
    zones: NotRequired[Annotated[list[Name], Field(max_length=200)] | None]
    rssi_dbm: NotRequired[
        Annotated[float, Field(ge=RSSI_RANGE_DBM[0], le=RSSI_RANGE_DBM[1], allow_inf_nan=False)]
        | None
    ]
    reason: NotRequired[Annotated[str, Field(max_length=64)] | None]


def _event_rules(event: EventIn) -> EventIn:
    """The rules of one event that span fields, and the privacy check of its device key."""
    if _RAW_ID.match(event["device_key"]):
        raise ValueError(
            "'device_key' looks like a raw MAC address or beacon UUID, not a device key"
        )
    kind = event["kind"]
    if kind in (EventKind.ZONE_EXIT, EventKind.VISIT_END) and event.get("dwell_s") is None:
        raise ValueError(f"'dwell_s' is required on {kind.value} (got null)")
    if kind in (EventKind.ZONE_ENTER, EventKind.ZONE_EXIT) and event.get("zone") is None:
        raise ValueError(f"'zone' is required on {kind.value} (got null)")
    return event


@with_config(_STRICT_DICT)
class EventsPayload(TypedDict):
    """The ``footfall/v1/{store}/{agent}/events`` payload, version 1 (``schema`` must be 1).

    Validated with :data:`EVENTS_PAYLOAD` into plain dicts: the same strict rules
    as a model, without building a model object per event (about a third faster
    on the gateway's hot path, see docs/gateway.md).
    """

    schema: Literal[1]
    store_id: Name
    agent_id: Name
    sent_at: AwareDatetime
    events: Annotated[
        list[Annotated[EventIn, AfterValidator(_event_rules)]], Field(max_length=MAX_BATCH_EVENTS)
    ]


EVENTS_PAYLOAD: TypeAdapter[EventsPayload] = TypeAdapter(EventsPayload)
"""Reused for every message: ``EVENTS_PAYLOAD.validate_json(payload)``."""


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
