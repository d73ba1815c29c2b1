"""The agent's functional core: keyed sightings in, presence events (with id class) out.

``Pipeline`` drives a :class:`Tracker` (smoothing -> zone -> dwell/visit) with
time taken from the sightings themselves, so a live run and a replay of the same
sightings give the same events. The shell may also call :meth:`Pipeline.advance`
with a clock when no sightings arrive.

:class:`ProximityTracker` is the built-in tracker: an exponentially smoothed
RSSI per device, first-matching proximity zone, exit after a grace period, visit
end after the visit gap, eviction of stale devices. ``positioning.tracker``'s
Kalman-based tracker plugs in through :func:`make_tracker` when it is installed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from edge_agent.config import ThresholdSettings, ZoneSettings
from edge_agent.technician.zones import Fingerprints, load_fingerprints
from hardware.observations import IdClass, Sighting
from positioning.events import EventKind, PresenceEvent
from positioning.tracker import PresenceTracker, Reading, TrackerConfig, fingerprint_tracker

__all__ = [
    "ClassifiedEvent",
    "KalmanTracker",
    "Pipeline",
    "ProximityTracker",
    "Tracker",
    "make_tracker",
]

_LOGGER = logging.getLogger(__name__)

# Time advances in steps of this many seconds of sighting time: fine enough for
# 30 s grace periods, coarse enough that the O(stale devices) sweep is cheap.
TICK_S = 1.0
# The Kalman adapter ingests at least this often even if time stands still (bounded buffer).
_MAX_BUFFER = 20_000
# A sighting without RSSI (some captures) counts as present at the edge of range.
NO_RSSI_DBM = -100.0


@dataclass(frozen=True, slots=True)
class ClassifiedEvent:
    event: PresenceEvent
    id_class: IdClass


class Tracker(Protocol):
    """What the pipeline needs from a presence tracker."""

    def observe(self, sighting: Sighting) -> Sequence[ClassifiedEvent]: ...

    def advance(self, now_s: float) -> Sequence[ClassifiedEvent]: ...

    def reconfigure(self, zones: Sequence[ZoneSettings], thresholds: ThresholdSettings) -> None: ...

    def occupancy(self) -> dict[str, int]: ...

    def smoothed_rssi(self) -> dict[str, float]: ...

    def drop_counts(self) -> dict[str, int]: ...

    @property
    def tracked_devices(self) -> int: ...


@dataclass(slots=True)
class _Device:
    id_class: IdClass
    rssi_dbm: float
    first_s: float
    last_s: float
    zone: str | None = None
    zone_since_s: float = 0.0
    zone_last_s: float = 0.0
    zones: list[str] = field(default_factory=list)


class ProximityTracker:
    """Smoothed RSSI -> first matching zone -> zone enter/exit and visit start/end."""

    def __init__(self, zones: Sequence[ZoneSettings], thresholds: ThresholdSettings) -> None:
        self._zones = tuple(zones)
        self._t = thresholds
        # Ordered by last sighting, oldest first: the sweep stops at the first fresh device.
        self._devices: OrderedDict[str, _Device] = OrderedDict()

    @property
    def tracked_devices(self) -> int:
        return len(self._devices)

    def reconfigure(self, zones: Sequence[ZoneSettings], thresholds: ThresholdSettings) -> None:
        """Swap zones and thresholds; devices in a zone that no longer exists leave it next tick."""
        self._zones = tuple(zones)
        self._t = thresholds

    def _classify(self, rssi_dbm: float) -> str | None:
        for zone in self._zones:
            if rssi_dbm >= zone.min_rssi_dbm:
                return zone.name
        return None

    def observe(self, sighting: Sighting) -> list[ClassifiedEvent]:
        events: list[ClassifiedEvent] = []
        key = sighting.device_key
        ts = sighting.ts_s
        rssi = NO_RSSI_DBM if sighting.rssi_dbm is None else sighting.rssi_dbm
        dev = self._devices.get(key)
        if dev is None:
            if len(self._devices) >= self._t.max_devices:
                stale_key, stale = next(iter(self._devices.items()))
                events.extend(self._end(stale_key, stale, stale.last_s, "evicted_capacity"))
            dev = _Device(sighting.id_class, rssi, ts, ts)
            self._devices[key] = dev
            events.append(
                ClassifiedEvent(
                    PresenceEvent(EventKind.VISIT_START, ts, key, "first_sighting", rssi_dbm=rssi),
                    dev.id_class,
                )
            )
        else:
            # s = a*x + (1-a)*s: one pole low-pass; alpha from config.
            alpha = self._t.smoothing_alpha
            dev.rssi_dbm = alpha * rssi + (1.0 - alpha) * dev.rssi_dbm
            dev.last_s = max(dev.last_s, ts)
            self._devices.move_to_end(key)
        zone = self._classify(dev.rssi_dbm)
        if zone is not None and zone == dev.zone:
            dev.zone_last_s = ts
        elif zone is not None:
            if dev.zone is not None:
                events.append(self._exit(key, dev, ts, "moved_to_other_zone"))
            dev.zone, dev.zone_since_s, dev.zone_last_s = zone, ts, ts
            if not dev.zones or dev.zones[-1] != zone:
                dev.zones.append(zone)
            enter = PresenceEvent(
                EventKind.ZONE_ENTER,
                ts,
                key,
                "rssi_above_threshold",
                zone=zone,
                rssi_dbm=round(dev.rssi_dbm, 1),
            )
            events.append(ClassifiedEvent(enter, dev.id_class))
        elif dev.zone is not None and ts - dev.zone_last_s > self._t.exit_grace_s:
            events.append(self._exit(key, dev, dev.zone_last_s, "rssi_below_threshold"))
        return events

    def _exit(self, key: str, dev: _Device, ts_s: float, reason: str) -> ClassifiedEvent:
        event = PresenceEvent(
            EventKind.ZONE_EXIT,
            ts_s,
            key,
            reason,
            zone=dev.zone,
            dwell_s=max(0.0, ts_s - dev.zone_since_s),
            rssi_dbm=round(dev.rssi_dbm, 1),
        )
        dev.zone = None
        return ClassifiedEvent(event, dev.id_class)

    def _end(self, key: str, dev: _Device, ts_s: float, reason: str) -> list[ClassifiedEvent]:
        events = []
        if dev.zone is not None:
            events.append(self._exit(key, dev, min(ts_s, dev.zone_last_s), reason))
        dwell_s = max(0.0, ts_s - dev.first_s)
        if dwell_s < self._t.min_dwell_s:
            visit_class = "passer_by"
        elif dwell_s >= self._t.engaged_dwell_s:
            visit_class = "engaged"
        else:
            visit_class = "visitor"
        end = PresenceEvent(
            EventKind.VISIT_END,
            ts_s,
            key,
            reason,
            dwell_s=dwell_s,
            zones=tuple(dev.zones),
            visit_class=visit_class,
        )
        events.append(ClassifiedEvent(end, dev.id_class))
        del self._devices[key]
        return events

    def advance(self, now_s: float) -> list[ClassifiedEvent]:
        events: list[ClassifiedEvent] = []
        grace = self._t.exit_grace_s
        gap = min(self._t.visit_gap_s, self._t.evict_after_s)
        for key, dev in list(self._devices.items()):
            idle_s = now_s - dev.last_s
            if idle_s <= grace:
                break  # ordered by last sighting: everyone after is fresher
            if idle_s > gap:
                events.extend(self._end(key, dev, dev.last_s, "absent_for_visit_gap"))
            elif dev.zone is not None and now_s - dev.zone_last_s > grace:
                events.append(self._exit(key, dev, dev.zone_last_s, "absent_for_grace_period"))
        return events

    def occupancy(self) -> dict[str, int]:
        counts = {z.name: 0 for z in self._zones}
        for dev in self._devices.values():
            if dev.zone is not None and dev.zone in counts:
                counts[dev.zone] += 1
        return counts

    def smoothed_rssi(self) -> dict[str, float]:
        return {k: d.rssi_dbm for k, d in self._devices.items()}

    def drop_counts(self) -> dict[str, int]:
        return {}


class Pipeline:
    """Sightings -> tracker -> events tagged with their identifier class; time from the data."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self._next_tick_s: float | None = None
        self.sightings = 0
        self.events = 0
        self.last_ts_s = 0.0

    def process(self, sighting: Sighting) -> list[ClassifiedEvent]:
        out: list[ClassifiedEvent] = []
        self.sightings += 1
        ts = sighting.ts_s
        self.last_ts_s = max(self.last_ts_s, ts)
        if self._next_tick_s is None:
            self._next_tick_s = ts + TICK_S
        elif ts >= self._next_tick_s:
            out.extend(self.tracker.advance(ts))
            self._next_tick_s = ts + TICK_S
        out.extend(self.tracker.observe(sighting))
        self.events += len(out)
        return out

    def advance(self, now_s: float) -> list[ClassifiedEvent]:
        """Let time pass without sightings (shell clock, end of a replay)."""
        out = list(self.tracker.advance(now_s))
        self.events += len(out)
        return out


def make_tracker(
    kind: str,
    zones: Sequence[ZoneSettings],
    thresholds: ThresholdSettings,
    sensor_zones: Mapping[str, str],
    fingerprints: Path | None = None,
) -> Tracker:
    """``kalman``: positioning's Kalman bank + zones (strongest sensor, or the
    ``fingerprints`` survey: a grid filter over its spots when every row has one, else a
    kNN) + dwell/visit machines; ``proximity``: the light built-in
    RSSI-threshold tracker. A survey naming zones no sensor serves raises
    :class:`~positioning.tracker.TrackerConfigError`."""
    if kind == "kalman":
        survey = None if fingerprints is None else load_fingerprints(fingerprints)
        return KalmanTracker(sensor_zones, thresholds, survey)
    return ProximityTracker(zones, thresholds)


class KalmanTracker:
    """``positioning.tracker.PresenceTracker`` behind the :class:`Tracker` protocol.

    Readings are buffered per second of sighting time and ingested as one batch (the
    tracker classifies once per bucket anyway). The identifier class of each device is
    remembered here, since :class:`PresenceEvent` does not carry it, and forgotten at
    its ``visit_end`` (or after the visit gap plus the eviction margin).

    New thresholds close every open zone and visit (reason ``stream_closed``) and start
    a new tracker: filters and dwell machines are not carried across configs. New
    proximity zones alone change nothing here (zones come from ``sensor_zones``).
    """

    def __init__(
        self,
        sensor_zones: Mapping[str, str],
        thresholds: ThresholdSettings,
        survey: Fingerprints | None = None,
    ) -> None:
        self._sensor_zones = dict(sensor_zones)
        self._survey = survey
        self._tracker = self._build(thresholds)
        self._thresholds = thresholds
        self._classes: dict[str, tuple[IdClass, float]] = {}
        self._buffer: list[Reading] = []
        self._carry: list[ClassifiedEvent] = []
        self._next_prune_s = -math.inf

    def _build(self, t: ThresholdSettings) -> PresenceTracker:
        # Zone confirmation and exit grace stay positioning's per-signal tuning (a Wi-Fi
        # phone probes every 30-120 s, a beacon every second); visits and capacity are ours.
        base = TrackerConfig()
        config = dataclasses.replace(
            base,
            visits=dataclasses.replace(
                base.visits,
                visit_gap_s=t.visit_gap_s,
                min_dwell_s=t.min_dwell_s,
                engaged_dwell_s=t.engaged_dwell_s,
            ),
            tracking=dataclasses.replace(
                base.tracking, max_devices=t.max_devices, tick_interval_s=t.tick_interval_s
            ),
        )
        s = self._survey
        if s is None:
            return PresenceTracker(self._sensor_zones, config)
        return fingerprint_tracker(
            self._sensor_zones, s.sensors, s.rssi_dbm, s.zones, config, xy_m=s.xy_m
        )

    @property
    def tracked_devices(self) -> int:
        return self._tracker.counters.devices

    def occupancy(self) -> dict[str, int]:
        return self._tracker.occupancy()

    def smoothed_rssi(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, (_, last_s) in self._classes.items():
            per_sensor = self._tracker.smoothed_rssi(key, last_s)
            if per_sensor:
                out[key] = max(per_sensor.values())
        return out

    def drop_counts(self) -> dict[str, int]:
        c = self._tracker.counters
        return {
            "unknown_sensor": c.dropped_unknown_sensor,
            "unknown_signal": c.dropped_unknown_signal,
            "bad_value": c.dropped_bad_value,
        }

    def reconfigure(self, zones: Sequence[ZoneSettings], thresholds: ThresholdSettings) -> None:
        # Proximity zones do not drive this tracker (its zones come from sensor_zones):
        # only new thresholds restart it.
        if thresholds == self._thresholds:
            return
        self._flush_into_carry()
        self._carry.extend(self._tag(self._tracker.close()))
        self._tracker = self._build(thresholds)
        self._thresholds = thresholds

    def observe(self, sighting: Sighting) -> list[ClassifiedEvent]:
        # Buffer only: the pipeline calls advance() every second of sighting time, which
        # ingests the buffer as one batch (one numpy pass, one table tick).
        self._classes[sighting.device_key] = (sighting.id_class, sighting.ts_s)
        self._buffer.append(
            Reading(
                ts_s=sighting.ts_s,
                device_key=sighting.device_key,
                sensor_id=sighting.sensor_id,
                signal=sighting.signal.value,
                rssi_dbm=NO_RSSI_DBM if sighting.rssi_dbm is None else sighting.rssi_dbm,
                tx_power_1m_dbm=sighting.tx_power_dbm,
            )
        )
        if len(self._buffer) >= _MAX_BUFFER:
            self._flush_into_carry()
        out, self._carry = self._carry, []
        return out

    def _flush_into_carry(self) -> None:
        if self._buffer:
            self._carry.extend(self._tag(self._tracker.ingest(self._buffer)))
            self._buffer = []

    def advance(self, now_s: float) -> list[ClassifiedEvent]:
        out, self._carry = self._carry, []
        if self._buffer:
            out.extend(self._tag(self._tracker.ingest(self._buffer, now_s)))
            self._buffer = []
        else:
            out.extend(self._tag(self._tracker.tick(now_s)))
        if now_s >= self._next_prune_s:
            # Forget classes of devices the tracker has certainly released.
            self._next_prune_s = now_s + 60.0
            horizon = now_s - self._thresholds.visit_gap_s - 2 * 60.0
            for key in [k for k, (_, seen) in self._classes.items() if seen < horizon]:
                del self._classes[key]
        return out

    def _tag(self, events: Sequence[PresenceEvent]) -> list[ClassifiedEvent]:
        out = []
        for e in events:
            known = self._classes.get(e.device_key)
            id_class = known[0] if known is not None else IdClass.WIFI_RANDOMIZED
            out.append(ClassifiedEvent(e, id_class))
            if e.kind is EventKind.VISIT_END:
                self._classes.pop(e.device_key, None)
        return out
