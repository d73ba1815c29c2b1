"""Presence events: what the dwell and visit machines emit.

These are the domain values behind the ``events`` MQTT payload (DESIGN.md):
the agent adds ``event_id``/``seq``/``id_class`` when it serialises them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    ZONE_ENTER = "zone_enter"
    ZONE_EXIT = "zone_exit"
    VISIT_START = "visit_start"
    VISIT_END = "visit_end"


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """One transition of one device. ``reason`` is the machine-readable switch reason."""

    kind: EventKind
    ts_s: float
    """When the transition took effect (not when it was confirmed), UTC POSIX seconds."""
    device_key: str
    reason: str
    zone: str | None = None
    """The zone entered or left; ``None`` for visit events."""
    dwell_s: float | None = None
    """Seconds spent; required on ``zone_exit`` and ``visit_end``."""
    zones: tuple[str, ...] | None = None
    """Zones visited in order, on ``visit_end`` only."""
    rssi_dbm: float | None = None
    """Smoothed RSSI at the transition, if known."""
    visit_class: str | None = None
    """On ``visit_end``: ``passer_by``, ``visitor`` or ``engaged``."""

    def __post_init__(self) -> None:
        if self.kind in (EventKind.ZONE_EXIT, EventKind.VISIT_END) and self.dwell_s is None:
            raise ValueError(f"'dwell_s' is required on {self.kind.value} (got None)")
        if self.dwell_s is not None and self.dwell_s < 0:
            raise ValueError(f"'dwell_s' must be >= 0 (got {self.dwell_s})")
