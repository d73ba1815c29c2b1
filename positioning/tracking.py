"""Per-device zone and visit machines for many devices, with bounded memory and a reorder buffer.

:class:`DeviceTable` is the stateful wrapper the agent's tracker holds: it owns one
:class:`~positioning.dwell.DwellState` and one :class:`~positioning.visits.VisitState` per
device and feeds them in time order. It reads no clock: the shell passes ``now_s``.

* Late and out-of-order observations: :meth:`DeviceTable.push` puts them in a reorder
  buffer; :meth:`DeviceTable.advance` releases, in ``(ts_s, arrival)`` order, everything
  at or before the *watermark* ``now_s - max_lateness_s``. An observation older than the
  watermark already released is dropped and counted (``dropped_late``); so is one whose
  time is not a finite number (``dropped_bad_time``). Events therefore leave at least
  ``max_lateness_s`` after the observation that caused them, but they carry the time the
  transition took effect, so dwell and zone-change times are not delayed.
* Bounded memory: a device unseen for longer than ``visit_gap_s + eviction_margin_s`` is
  dropped after its zone and visit are closed (reason ``evicted``); when the table holds
  ``max_devices``, a new device evicts the least recently seen one first
  (``evicted_capacity`` counter, same reason on its events).
* Deterministic: the same pushes and advances give the same events in the same order.
* Cost: an observation touches only its own device; a clock tick touches only the devices
  with a due *timer* (a heap of the next time each device's zone grace period or visit gap
  can run out), never every silent device. The events are the same as ticking all of
  them: a device with no due timer would emit nothing and change nothing that is read
  before its next observation (which expires its candidate itself).
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from positioning import dwell, visits
from positioning.dwell import DwellConfig, DwellState, ZoneObservation
from positioning.events import EventKind, PresenceEvent
from positioning.visits import VisitConfig, VisitState

_LOGGER = logging.getLogger(__name__)

# Within one time stamp: a zone closes before the visit ends, a visit starts before its zone.
_KIND_ORDER = {
    EventKind.ZONE_EXIT: 0,
    EventKind.VISIT_END: 1,
    EventKind.VISIT_START: 2,
    EventKind.ZONE_ENTER: 3,
}


class TrackingConfigError(ValueError):
    """A :class:`TrackingConfig` field is out of range."""


@dataclass(frozen=True, slots=True)
class TrackingConfig:
    """Buffering and memory bounds of a :class:`DeviceTable`."""

    max_lateness_s: float = 5.0
    """Observations up to this late are reordered; older ones are dropped and counted."""
    eviction_margin_s: float = 60.0
    """A device is forgotten ``visit_gap_s`` + this after it was last seen."""
    max_devices: int = 20_000
    """Hard cap on tracked devices; the least recently seen goes first."""
    tick_interval_s: float = 1.0
    """How often (watermark time) silent devices are checked for grace and visit gaps."""

    def __post_init__(self) -> None:
        for name in ("max_lateness_s", "eviction_margin_s", "tick_interval_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 3600.0):
                raise TrackingConfigError(f"'{name}' must be seconds in [0, 3600] (got {value!r})")
        if self.max_devices < 1:
            raise TrackingConfigError(f"'max_devices' must be >= 1 (got {self.max_devices})")


@dataclass(frozen=True, slots=True)
class TableCounters:
    """What a :class:`DeviceTable` accepted, dropped and evicted since it was built."""

    accepted: int = 0
    dropped_late: int = 0
    dropped_bad_time: int = 0
    evicted_stale: int = 0
    evicted_capacity: int = 0


@dataclass(slots=True)
class _Device:
    dwell: DwellState
    visit: VisitState
    last_seen_ts_s: float
    recency: int
    """When it was last observed, in observations: the ``_devices`` order, as a number."""
    timer_s: float = math.inf
    """Time of its live entry in ``_timers`` (``inf``: none)."""


@dataclass(slots=True)
class _Counts:
    accepted: int = 0
    dropped_late: int = 0
    dropped_bad_time: int = 0
    evicted_stale: int = 0
    evicted_capacity: int = 0


@dataclass(slots=True)
class DeviceTable:
    """Zone and visit state of every device one agent hears (see the module docstring)."""

    dwell_config: DwellConfig = field(default_factory=DwellConfig)
    visit_config: VisitConfig = field(default_factory=VisitConfig)
    config: TrackingConfig = field(default_factory=TrackingConfig)
    _devices: OrderedDict[str, _Device] = field(default_factory=OrderedDict, init=False)
    _buffer: list[tuple[float, int, str, ZoneObservation]] = field(default_factory=list, init=False)
    _arrivals: int = field(default=0, init=False)
    _watermark_s: float = field(default=-math.inf, init=False)
    _last_tick_s: float = field(default=-math.inf, init=False)
    _counts: _Counts = field(default_factory=_Counts, init=False)
    _timers: list[tuple[float, str]] = field(default_factory=list, init=False)
    """Heap of ``(time, device_key)``: from that time on the device may have a zone or a visit
    to close. Entries whose time is not the device's ``timer_s`` are stale and skipped."""
    _observed: int = field(default=0, init=False)

    def __len__(self) -> int:
        return len(self._devices)

    @property
    def counters(self) -> TableCounters:
        c = self._counts
        return TableCounters(
            c.accepted, c.dropped_late, c.dropped_bad_time, c.evicted_stale, c.evicted_capacity
        )

    @property
    def buffered(self) -> int:
        """Observations waiting in the reorder buffer."""
        return len(self._buffer)

    @property
    def watermark_s(self) -> float:
        """Everything at or before this time has been processed."""
        return self._watermark_s

    def zone_of(self, device_key: str) -> str | None:
        """The confirmed zone of a device, ``None`` if none or unknown."""
        device = self._devices.get(device_key)
        return None if device is None else device.dwell.zone

    def occupancy(self) -> dict[str, int]:
        """Devices per confirmed zone, zones sorted by name."""
        counts: dict[str, int] = {}
        for device in self._devices.values():
            if device.dwell.zone is not None:
                counts[device.dwell.zone] = counts.get(device.dwell.zone, 0) + 1
        return dict(sorted(counts.items()))

    def push(self, device_key: str, observation: ZoneObservation, ts_s: float) -> bool:
        """Queue one observation taken at ``ts_s``; ``False`` when dropped (too late, bad time)."""
        if not math.isfinite(ts_s):
            self._counts.dropped_bad_time += 1
            return False
        if ts_s <= self._watermark_s:
            self._counts.dropped_late += 1
            _LOGGER.debug(
                "dropped a late observation of %s (%.3f s behind the watermark)",
                device_key,
                self._watermark_s - ts_s,
            )
            return False
        self._arrivals += 1
        heapq.heappush(self._buffer, (ts_s, self._arrivals, device_key, observation))
        self._counts.accepted += 1
        return True

    def advance(self, now_s: float) -> list[PresenceEvent]:
        """Process what the clock ``now_s`` lets out of the buffer; return the events caused."""
        watermark = now_s - self.config.max_lateness_s
        if not watermark > self._watermark_s:
            return []
        events: list[PresenceEvent] = []
        while self._buffer and self._buffer[0][0] <= watermark:
            ts_s, _, key, observation = heapq.heappop(self._buffer)
            self._observe(key, observation, ts_s, events)
        self._watermark_s = watermark
        if watermark - self._last_tick_s >= self.config.tick_interval_s:
            self._last_tick_s = watermark
            events.extend(self._tick_all(watermark))
        return events

    def close_all(self) -> list[PresenceEvent]:
        """Release the whole buffer, then close every open zone and visit (``stream_closed``)."""
        events: list[PresenceEvent] = []
        while self._buffer:
            ts_s, _, key, observation = heapq.heappop(self._buffer)
            self._observe(key, observation, ts_s, events)
            self._watermark_s = max(self._watermark_s, ts_s)
        events.extend(self._tick_all(self._watermark_s))
        for key in list(self._devices):
            events.extend(self._drop(key, dwell.REASON_CLOSED))
        return events

    # -- internals -------------------------------------------------------------------------

    def _observe(
        self, key: str, observation: ZoneObservation, ts_s: float, out: list[PresenceEvent]
    ) -> None:
        """Step one device's machines with one observation; append the events to ``out``."""
        devices = self._devices
        device = devices.get(key)
        self._observed += 1
        if device is None:
            while len(devices) >= self.config.max_devices:
                self._counts.evicted_capacity += 1
                out.extend(self._drop(next(iter(devices)), dwell.REASON_EVICTED))
            device = _Device(
                dwell.initial_state(key), visits.initial_visit_state(key), ts_s, self._observed
            )
            devices[key] = device
        else:
            devices.move_to_end(key)
            device.recency = self._observed
            if ts_s > device.last_seen_ts_s:
                device.last_seen_ts_s = ts_s
        device.dwell, zone_events = dwell.step(device.dwell, observation, ts_s, self.dwell_config)
        state = device.dwell
        device.visit, visit_events = visits.step(
            device.visit,
            zone_events,
            ts_s,
            self.visit_config,
            observation.rssi_dbm,
            state.present_since_ts_s,
            state.present_last_ts_s,
        )
        if zone_events or visit_events:
            # Without events a step only moves the device's due time later (a zone seen
            # again), so its timer stays early enough; with them, a zone or a visit gap
            # may have started and need an earlier one.
            self._schedule(device)
            out.extend(_ordered(zone_events, visit_events))

    def _schedule(self, device: _Device) -> None:
        """Make sure a timer fires by the first time the device's tick could emit an event.

        A tick at ``now_s`` closes the zone when ``now_s - last_support_ts_s > grace_exit_s``
        and ends the visit when it is active, outside every zone and ``now_s -
        last_presence_ts_s > visit_gap_s``. Only an earlier time needs a new entry: an
        existing earlier one fires, finds nothing due and reschedules.
        """
        due_s = math.inf
        state = device.dwell
        if state.zone is not None:
            due_s = _earliest(state.last_support_ts_s, self.dwell_config.grace_exit_s)
        visit = device.visit
        if visit.active and visit.zone is None:
            due_s = min(due_s, _earliest(visit.last_presence_ts_s, self.visit_config.visit_gap_s))
        if due_s < device.timer_s:
            device.timer_s = due_s
            heapq.heappush(self._timers, (due_s, state.device_key))

    def _due(self, now_s: float) -> list[_Device]:
        """Devices whose live timer is at or before ``now_s``, in ``_devices`` order."""
        timers, devices = self._timers, self._devices
        due: list[_Device] = []
        while timers and timers[0][0] <= now_s:
            timer_s, key = heapq.heappop(timers)
            device = devices.get(key)
            if device is not None and device.timer_s == timer_s:
                device.timer_s = math.inf
                due.append(device)
        if len(timers) > 2 * len(devices) + 1024:
            # Stale entries of evicted or re-timed devices: rebuild from the live ones.
            timers[:] = [(d.timer_s, k) for k, d in devices.items() if d.timer_s < math.inf]
            heapq.heapify(timers)
        due.sort(key=_recency)
        return due

    def _tick_all(self, now_s: float) -> list[PresenceEvent]:
        events: list[PresenceEvent] = []
        for device in self._due(now_s):
            device.dwell, zone_events = dwell.tick(device.dwell, now_s, self.dwell_config)
            device.visit, visit_events = visits.step(
                device.visit,
                zone_events,
                now_s,
                self.visit_config,
                None,
                device.dwell.present_since_ts_s,
                device.dwell.present_last_ts_s,
            )
            self._schedule(device)
            if zone_events or visit_events:
                events.extend(_ordered(zone_events, visit_events))
        stale_before = now_s - self.visit_config.visit_gap_s - self.config.eviction_margin_s
        while self._devices:
            key, device = next(iter(self._devices.items()))
            if device.last_seen_ts_s >= stale_before:
                break
            self._counts.evicted_stale += 1
            events.extend(self._drop(key, dwell.REASON_EVICTED))
        return events

    def _drop(self, key: str, reason: str) -> list[PresenceEvent]:
        device = self._devices.pop(key)
        _, zone_events = dwell.close(device.dwell, device.last_seen_ts_s, reason)
        state, visit_events = visits.step(
            device.visit,
            zone_events,
            device.last_seen_ts_s,
            self.visit_config,
            None,
            device.dwell.present_since_ts_s,
            device.dwell.present_last_ts_s,
        )
        _, closing = visits.close(state, self.visit_config, reason)
        return _ordered(zone_events, [*visit_events, *closing])


def _recency(device: _Device) -> int:
    return device.recency


def _earliest(since_ts_s: float, wait_s: float) -> float:
    """A time at or before the first ``now_s`` with ``now_s - since_ts_s > wait_s``.

    A few ulps early, so the rounding of the sum never makes a timer fire a tick late;
    a timer that fires early finds nothing due and is set again.
    """
    return since_ts_s + wait_s - 4.0 * math.ulp(abs(since_ts_s) + wait_s)


def _ordered(
    zone_events: Iterable[PresenceEvent], visit_events: Iterable[PresenceEvent]
) -> list[PresenceEvent]:
    """One device's events in time order, ties by :data:`_KIND_ORDER` (stable)."""
    merged = [*zone_events, *visit_events]
    merged.sort(key=lambda event: (event.ts_s, _KIND_ORDER[event.kind]))
    return merged
