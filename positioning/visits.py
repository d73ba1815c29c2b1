"""Store-visit machine per device, fed by the zone machine's events.

A visit runs from the device's first confirmed zone presence (its first ``zone_enter``)
until it has been outside every zone for longer than the visit gap; it then ends at the
last moment it was present (the last ``zone_exit``), so ``dwell_s`` counts presence, not
the gap that proved it over. Functional core: :func:`step` takes the previous
:class:`VisitState`, the zone events of one device in time order and ``now_s``.

Classes (:class:`VisitClass`, thresholds in :class:`VisitConfig`), checked in this order:

1. ``staff``: dwell longer than ``max_dwell_s`` (4 h) — employees, not shoppers.
2. ``passer_by``: dwell shorter than ``min_dwell_s`` (2 min), or the smoothed RSSI never
   reached ``min_peak_rssi_dbm`` (when set) — someone walking past the window.
3. ``engaged``: dwell of at least ``engaged_dwell_s`` (10 min) or at least
   ``engaged_min_zones`` (3) distinct zones.
4. ``visitor``: everything else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from positioning.events import EventKind, PresenceEvent

REASON_VISIT_START = "first_confirmed_presence"
"""``visit_start``: the device's first confirmed zone presence."""
REASON_VISIT_GAP = "absent_longer_than_visit_gap"
"""``visit_end``: outside every zone for longer than the visit gap."""


class VisitClass(StrEnum):
    PASSER_BY = "passer_by"
    VISITOR = "visitor"
    ENGAGED = "engaged"
    STAFF = "staff"


class VisitConfigError(ValueError):
    """A :class:`VisitConfig` field is out of range."""


@dataclass(frozen=True, slots=True)
class VisitConfig:
    """Thresholds of the visit machine; defaults from common retail-analytics practice."""

    visit_gap_s: float = 15 * 60.0
    """Absence longer than this ends the visit (15 min)."""
    min_dwell_s: float = 2 * 60.0
    """Shorter visits are passers-by (2 min)."""
    engaged_dwell_s: float = 10 * 60.0
    """Visits at least this long are engaged (10 min)."""
    engaged_min_zones: int = 3
    """...as are visits through at least this many distinct zones."""
    max_dwell_s: float = 4 * 3600.0
    """Longer visits are staff (4 h)."""
    min_peak_rssi_dbm: float | None = None
    """If set, a visit whose RSSI never reached this is a passer-by (never strongly confirmed)."""

    def __post_init__(self) -> None:
        for name in ("visit_gap_s", "min_dwell_s", "engaged_dwell_s", "max_dwell_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 7 * 86400.0):
                raise VisitConfigError(f"'{name}' must be seconds in [0, 604800] (got {value!r})")
        if not self.min_dwell_s <= self.engaged_dwell_s <= self.max_dwell_s:
            raise VisitConfigError(
                "'min_dwell_s' <= 'engaged_dwell_s' <= 'max_dwell_s' must hold "
                f"(got {self.min_dwell_s}, {self.engaged_dwell_s}, {self.max_dwell_s})"
            )
        if self.engaged_min_zones < 1:
            raise VisitConfigError(
                f"'engaged_min_zones' must be >= 1 (got {self.engaged_min_zones})"
            )
        if self.min_peak_rssi_dbm is not None and not -130.0 <= self.min_peak_rssi_dbm <= 0.0:
            raise VisitConfigError(
                f"'min_peak_rssi_dbm' must be in [-130, 0] dBm (got {self.min_peak_rssi_dbm})"
            )


def classify_visit(
    dwell_s: float, zones: tuple[str, ...], peak_rssi_dbm: float | None, cfg: VisitConfig
) -> VisitClass:
    """The class of a finished visit (rules in the module docstring)."""
    if dwell_s > cfg.max_dwell_s:
        return VisitClass.STAFF
    if dwell_s < cfg.min_dwell_s:
        return VisitClass.PASSER_BY
    if cfg.min_peak_rssi_dbm is not None and (
        peak_rssi_dbm is None or peak_rssi_dbm < cfg.min_peak_rssi_dbm
    ):
        return VisitClass.PASSER_BY
    if dwell_s >= cfg.engaged_dwell_s or len(set(zones)) >= cfg.engaged_min_zones:
        return VisitClass.ENGAGED
    return VisitClass.VISITOR


@dataclass(frozen=True, slots=True)
class VisitState:
    """One device's visit, if any. Build the first one with :func:`initial_visit_state`."""

    device_key: str
    active: bool = False
    start_ts_s: float = 0.0
    last_presence_ts_s: float = 0.0
    """Last moment the device was known to be in a zone."""
    zone: str | None = None
    """The zone it is in now (between a ``zone_enter`` and its ``zone_exit``)."""
    zones: tuple[str, ...] = ()
    """Zones of the visit in order, consecutive repeats removed."""
    peak_rssi_dbm: float | None = None


def initial_visit_state(device_key: str) -> VisitState:
    """A device with no visit yet."""
    return VisitState(device_key=device_key)


def _end(state: VisitState, reason: str, cfg: VisitConfig) -> tuple[VisitState, PresenceEvent]:
    dwell_s = max(0.0, state.last_presence_ts_s - state.start_ts_s)
    event = PresenceEvent(
        kind=EventKind.VISIT_END,
        ts_s=state.last_presence_ts_s,
        device_key=state.device_key,
        reason=reason,
        dwell_s=dwell_s,
        zones=state.zones,
        rssi_dbm=state.peak_rssi_dbm,
        visit_class=classify_visit(dwell_s, state.zones, state.peak_rssi_dbm, cfg).value,
    )
    return initial_visit_state(state.device_key), event


def _gap_over(state: VisitState, now_s: float, cfg: VisitConfig) -> bool:
    return (
        state.active and state.zone is None and now_s - state.last_presence_ts_s > cfg.visit_gap_s
    )


def _peak(old: float | None, new: float | None) -> float | None:
    if new is None:
        return old
    return new if old is None else max(old, new)


def step(
    state: VisitState,
    zone_events: Iterable[PresenceEvent],
    now_s: float,
    cfg: VisitConfig,
    rssi_dbm: float | None = None,
    present_since_s: float = math.nan,
    present_last_s: float = math.nan,
) -> tuple[VisitState, list[PresenceEvent]]:
    """Apply one device's zone events (time-ordered, ``ts_s <= now_s``) and the clock.

    ``rssi_dbm`` is the device's current smoothed RSSI, counted towards the visit's peak
    while the device is in a zone. ``present_since_s``/``present_last_s`` are the first and
    last observation of the device's current presence run (the zone machine's
    ``DwellState``: observations supporting some zone, none further apart than its exit
    grace): a visit starts at the beginning of the run its first zone was confirmed in,
    and ends at the end of the run its last zone was left in, so walking in and out
    through zones too briefly to be confirmed (the entrance) is part of the visit.
    Other event kinds are ignored.
    """
    out: list[PresenceEvent] = []
    for event in zone_events:
        if event.kind is EventKind.ZONE_ENTER and event.zone is not None:
            if _gap_over(state, event.ts_s, cfg):
                state, ended = _end(state, REASON_VISIT_GAP, cfg)
                out.append(ended)
            if state.active:
                start_ts_s, zones = state.start_ts_s, state.zones
            else:
                # the run the enter belongs to (NaN, or a later run: the enter's own time)
                start_ts_s = present_since_s if present_since_s <= event.ts_s else event.ts_s
                zones = ()
                out.append(
                    PresenceEvent(
                        kind=EventKind.VISIT_START,
                        ts_s=start_ts_s,
                        device_key=state.device_key,
                        reason=REASON_VISIT_START,
                        rssi_dbm=event.rssi_dbm,
                    )
                )
            if zones[-1:] != (event.zone,):
                zones = (*zones, event.zone)
            # Fields in declaration order (cheaper than dataclasses.replace on this path).
            state = VisitState(
                state.device_key,
                True,
                start_ts_s,
                max(state.last_presence_ts_s, event.ts_s),
                event.zone,
                zones,
                _peak(state.peak_rssi_dbm, event.rssi_dbm),
            )
        elif event.kind is EventKind.ZONE_EXIT and state.active:
            state = VisitState(
                state.device_key,
                True,
                state.start_ts_s,
                max(state.last_presence_ts_s, event.ts_s),
                None,
                state.zones,
                _peak(state.peak_rssi_dbm, event.rssi_dbm),
            )
    if (
        state.active
        and state.zone is None
        and present_since_s <= state.last_presence_ts_s < present_last_s
    ):
        # left every zone, still in the run of its last zone (walking out): still present
        state = replace(state, last_presence_ts_s=present_last_s)
    elif state.active and state.zone is not None:
        # Presence itself is extended by the zone events (exits carry the last support).
        # The hot path (a device seen again in its zone): a new state only if the peak rose.
        peak = _peak(state.peak_rssi_dbm, rssi_dbm)
        if peak is not state.peak_rssi_dbm:
            state = VisitState(
                state.device_key,
                state.active,
                state.start_ts_s,
                state.last_presence_ts_s,
                state.zone,
                state.zones,
                peak,
            )
    if _gap_over(state, now_s, cfg):
        state, ended = _end(state, REASON_VISIT_GAP, cfg)
        out.append(ended)
    return state, out


def tick(
    state: VisitState, now_s: float, cfg: VisitConfig
) -> tuple[VisitState, list[PresenceEvent]]:
    """Advance time with no zone events: end the visit once the gap has passed."""
    return step(state, (), now_s, cfg)


def close(
    state: VisitState, cfg: VisitConfig, reason: str
) -> tuple[VisitState, list[PresenceEvent]]:
    """End an open visit now at its last presence (eviction, shutdown); close the zone first."""
    if not state.active:
        return state, []
    state, ended = _end(replace(state, zone=None), reason, cfg)
    return state, [ended]
