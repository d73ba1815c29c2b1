"""Pydantic models of the MQTT payloads the gateway accepts (DESIGN.md, events v1).

Validated independently of the agent's own code: strict types (no ``"5"`` for
an int, no ``true`` for a float), unknown fields ignored, ``schema`` must be 1.
Cross-field rules that need the topic or the clock live in :mod:`gateway.ingest`.
The high-volume ``events`` payload is a ``TypedDict`` validated by one reused
adapter (plain dicts out, no model object per event): :data:`EVENTS_FIELDS` and
:func:`breaks_event_rules` on the hot path, :data:`EVENTS_PAYLOAD` (the same rules
inside the validator) for the errors of a payload that fails them;
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


_NEEDS_DWELL = frozenset((EventKind.ZONE_EXIT, EventKind.VISIT_END))
_NEEDS_ZONE = frozenset((EventKind.ZONE_ENTER, EventKind.ZONE_EXIT))


def _rule_error(event: EventIn) -> str | None:
    """What is wrong with ``event`` across its fields (or its device key), if anything."""
    if _RAW_ID.match(event["device_key"]):
        return "'device_key' looks like a raw MAC address or beacon UUID, not a device key"
    kind = event["kind"]
    if kind in _NEEDS_DWELL and event.get("dwell_s") is None:
        return f"'dwell_s' is required on {kind.value} (got null)"
    if kind in _NEEDS_ZONE and event.get("zone") is None:
        return f"'zone' is required on {kind.value} (got null)"
    return None


def _event_rules(event: EventIn) -> EventIn:
    """The rules of one event that span fields, and the privacy check of its device key."""
    error = _rule_error(event)
    if error is not None:
        raise ValueError(error)
    return event


def breaks_event_rules(events: list[EventIn]) -> bool:
    """Whether some event of a :data:`EVENTS_FIELDS` result fails :func:`_event_rules`.

    :func:`_rule_error`'s tests, inlined: this runs for every event ingested.
    """
    raw_id = _RAW_ID.match
    for event in events:
        if raw_id(event["device_key"]):
            return True
        kind = event["kind"]
        if kind in _NEEDS_DWELL and event.get("dwell_s") is None:
            return True
        if kind in _NEEDS_ZONE and event.get("zone") is None:
            return True
    return False


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
"""The whole contract, one Python rule call per event: its errors are the dead letters'."""


@with_config(_STRICT_DICT)
class EventsFields(TypedDict):
    """:class:`EventsPayload` without the per-event rules (every field check stays in Rust).

    The fast path: a payload that passes this and :func:`breaks_event_rules` passes
    :data:`EVENTS_PAYLOAD` with the same result; one that fails either is validated again
    by :data:`EVENTS_PAYLOAD` for the exact errors.
    """

    schema: Literal[1]
    store_id: Name
    agent_id: Name
    sent_at: AwareDatetime
    events: Annotated[list[EventIn], Field(max_length=MAX_BATCH_EVENTS)]


EVENTS_FIELDS: TypeAdapter[EventsFields] = TypeAdapter(EventsFields)
"""Reused for every message: ``EVENTS_FIELDS.validate_json(payload)``, then the rules."""


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
