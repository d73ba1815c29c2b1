"""PresenceTracker: readings through filters, classifier, dwell and visit machines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from positioning.events import EventKind, PresenceEvent
from positioning.tracker import (
    PresenceTracker,
    Reading,
    TrackerConfig,
    TrackerConfigError,
    fingerprint_tracker,
)

SENSORS = {"s-a": "aisle", "s-b": "bakery", "s-c": "checkout"}
T0 = 1_800_000_000.0


def _walk(
    key: str, plan: list[tuple[float, float, str]], rate_hz: float = 2.0, seed: int = 0
) -> list[Reading]:
    """BLE readings of one device: in each (start, end, loud sensor) span that sensor hears
    it at -60 dBm and the others at -80 dBm, with 2 dB of seeded noise."""
    rng = np.random.default_rng(seed)
    out: list[Reading] = []
    for start, end, loud in plan:
        for t in np.arange(start, end, 1.0 / rate_hz):
            for sensor in SENSORS:
                level = -60.0 if sensor == loud else -80.0
                out.append(
                    Reading(T0 + float(t), key, sensor, "ble", level + rng.normal(0, 2.0), -59.0)
                )
    return out


def _run(tracker: PresenceTracker, readings: list[Reading], end_s: float) -> list[PresenceEvent]:
    events: list[PresenceEvent] = []
    for second in range(int(end_s) + 1):
        batch = [r for r in readings if second <= r.ts_s - T0 < second + 1]
        events.extend(tracker.ingest(batch, now_s=T0 + second + 1))
    return events


def test_a_device_moving_between_sensors_enters_and_leaves_zones() -> None:
    """Loud at A for 60 s then at B for 60 s: enter aisle, switch to bakery near t = 60 s."""
    tracker = PresenceTracker(SENSORS)
    events = _run(tracker, _walk("dk1_x", [(0, 60, "s-a"), (60, 120, "s-b")]), 125)
    zone_events = [(e.kind, e.zone) for e in events if e.zone is not None]
    assert zone_events == [
        (EventKind.ZONE_ENTER, "aisle"),
        (EventKind.ZONE_EXIT, "aisle"),
        (EventKind.ZONE_ENTER, "bakery"),
    ]
    enter_b = next(e for e in events if e.zone == "bakery")
    assert abs(enter_b.ts_s - (T0 + 60)) <= 3.0
    assert events[0].kind is EventKind.VISIT_START
    assert tracker.zone_of("dk1_x") == "bakery"
    assert tracker.occupancy() == {"bakery": 1}


def test_silence_closes_the_zone_and_later_the_visit() -> None:
    """A quiet device leaves its zone after the grace period and its visit after the gap."""
    cfg = TrackerConfig()
    tracker = PresenceTracker(SENSORS, cfg)
    events = _run(tracker, _walk("dk1_y", [(0, 200, "s-c")]), 200)
    events += tracker.tick(T0 + 200 + 60)
    exit_ev = next(e for e in events if e.kind is EventKind.ZONE_EXIT)
    assert exit_ev.reason == "absent_for_grace_period"
    assert exit_ev.ts_s == pytest.approx(T0 + 199.5, abs=1.0)
    events += tracker.tick(T0 + 200 + cfg.visits.visit_gap_s + 30)
    (end,) = [e for e in events if e.kind is EventKind.VISIT_END]
    assert end.dwell_s == pytest.approx(200, abs=5)
    assert end.visit_class == "visitor"
    assert end.zones == ("checkout",)


def test_batching_does_not_change_the_events() -> None:
    """Feeding second by second or all at once gives the same events."""
    readings = _walk("dk1_z", [(0, 30, "s-a"), (30, 90, "s-c")], seed=3)
    a = PresenceTracker(SENSORS)
    b = PresenceTracker(SENSORS)
    per_second = _run(a, readings, 95) + a.close()
    at_once = b.ingest(readings, now_s=T0 + 96) + b.close()
    assert per_second == at_once


def test_unknown_sensors_and_bad_values_are_dropped_and_counted() -> None:
    """Readings of unknown sensors, unknown signals or NaN RSSI never raise; they are counted."""
    tracker = PresenceTracker(SENSORS)
    tracker.ingest(
        [
            Reading(T0, "dk1_q", "s-zz", "ble", -60.0),
            Reading(T0, "dk1_q", "s-a", "lora", -60.0),
            Reading(T0, "dk1_q", "s-a", "ble", math.nan),
            Reading(T0, "dk1_q", "s-a", "ble", -60.0),
        ]
    )
    c = tracker.counters
    assert (
        c.readings,
        c.dropped_unknown_sensor,
        c.dropped_unknown_signal,
        c.dropped_bad_value,
    ) == (
        4,
        1,
        1,
        1,
    )
    assert c.devices == 1


def test_wifi_bursts_place_a_device_between_sparse_probes() -> None:
    """A probe burst each 60 s keeps a Wi-Fi device in its zone between bursts."""
    tracker = PresenceTracker(SENSORS)
    readings = [
        Reading(T0 + t + k * 0.01, "dk1_w", s, "wifi", -50.0 if s == "s-b" else -70.0)
        for t in range(0, 300, 60)
        for k in range(3)
        for s in SENSORS
    ]
    events = tracker.ingest(readings, now_s=T0 + 300)
    assert [e.zone for e in events if e.kind is EventKind.ZONE_ENTER] == ["bakery"]
    assert not [e for e in events if e.kind is EventKind.ZONE_EXIT]


def test_silent_devices_give_their_filters_back() -> None:
    """After the visit gap and the margin a device's filters are released (bounded memory)."""
    cfg = TrackerConfig()
    tracker = PresenceTracker(SENSORS, cfg)
    for i in range(50):
        tracker.ingest(_walk(f"dk1_{i}", [(i, i + 5, "s-a")]), now_s=T0 + i + 6)
    assert tracker.counters.filter_slots == 150
    gap = cfg.visits.visit_gap_s + cfg.filter_eviction_margin_s
    tracker.tick(T0 + 60 + gap + 20)
    assert tracker.counters.filter_slots == 0
    assert tracker.counters.devices == 0


def test_config_refuses_a_bad_interval() -> None:
    """A zero classification interval fails and names the field."""
    with pytest.raises(TrackerConfigError, match="'classify_interval_s'"):
        TrackerConfig(classify_interval_s=0.0)
    with pytest.raises(TrackerConfigError, match="'sensor_zones'"):
        PresenceTracker({})


def _survey(loud_to_zone: dict[str, str], rows_per_zone: int = 20) -> tuple[np.ndarray, list[str]]:
    """Fingerprints as ``footfall zones record`` keeps them: columns sorted by sensor."""
    rng = np.random.default_rng(7)
    sensors = sorted(SENSORS)
    rows, labels = [], []
    for loud, zone in loud_to_zone.items():
        for _ in range(rows_per_zone):
            rows.append([(-60.0 if s == loud else -80.0) + rng.normal(0, 2.0) for s in sensors])
            labels.append(zone)
    return np.array(rows), labels


def test_a_survey_places_devices_where_the_fingerprints_say() -> None:
    """Where the survey found sensor A loudest in the bakery (a sensor mounted off its zone),
    the fingerprint tracker says bakery; the strongest-sensor tracker would say aisle."""
    matrix, labels = _survey({"s-a": "bakery", "s-b": "aisle", "s-c": "checkout"})
    tracker = fingerprint_tracker(SENSORS, sorted(SENSORS), matrix, labels)
    events = _run(tracker, _walk("dk1_x", [(0, 60, "s-a"), (60, 120, "s-b")]), 125)
    zone_events = [(e.kind, e.zone) for e in events if e.zone is not None]
    assert zone_events == [
        (EventKind.ZONE_ENTER, "bakery"),
        (EventKind.ZONE_EXIT, "bakery"),
        (EventKind.ZONE_ENTER, "aisle"),
    ]
    plain = _run(PresenceTracker(SENSORS), _walk("dk1_x", [(0, 60, "s-a")]), 65)
    assert [e.zone for e in plain if e.kind is EventKind.ZONE_ENTER] == ["aisle"]


def test_a_survey_tracker_keeps_faint_devices_out_of_every_zone() -> None:
    """A fingerprint always has a nearest zone; the signal's floor still keeps a phone heard
    only faintly (the sidewalk) out of the zones."""
    matrix, labels = _survey({"s-a": "aisle", "s-b": "bakery", "s-c": "checkout"})
    tracker = fingerprint_tracker(SENSORS, sorted(SENSORS), matrix, labels)
    faint = [
        Reading(T0 + t, "dk1_far", s, "ble", -93.0, -59.0)
        for t in np.arange(0.0, 60.0, 0.5)
        for s in SENSORS
    ]
    events = _run(tracker, faint, 65)
    assert not [e for e in events if e.kind is EventKind.ZONE_ENTER]


def test_a_survey_naming_unknown_zones_is_refused() -> None:
    matrix, labels = _survey({"s-a": "aisle", "s-b": "garden"})
    with pytest.raises(TrackerConfigError, match="garden"):
        fingerprint_tracker(SENSORS, sorted(SENSORS), matrix, labels)


def test_hysteresis_ends_with_the_zone_it_held() -> None:
    """Within the exit grace the held zone keeps its margin; once the dwell machine has
    closed it, a sensor 2 dB louder (less than the margin) wins at once."""

    def readings(start: float, end: float, levels: dict[str, float]) -> list[Reading]:
        return [
            Reading(T0 + float(t), "dk1_h", sensor, "ble", level, -59.0)
            for t in np.arange(start, end, 0.5)
            for sensor, level in levels.items()
        ]

    near_a = {"s-a": -60.0, "s-b": -80.0, "s-c": -85.0}
    slightly_b = {"s-a": -66.0, "s-b": -64.0, "s-c": -85.0}
    faint = {"s-a": -95.0, "s-b": -95.0, "s-c": -95.0}  # below the BLE floor: no zone
    late = _run(
        PresenceTracker(SENSORS),
        readings(0, 30, near_a) + readings(30, 60, faint) + readings(60, 100, slightly_b),
        105,
    )
    assert [e.zone for e in late if e.kind is EventKind.ZONE_ENTER] == ["aisle", "bakery"]
    soon = _run(
        PresenceTracker(SENSORS), readings(0, 30, near_a) + readings(30, 70, slightly_b), 75
    )
    assert [e.zone for e in soon if e.kind is EventKind.ZONE_ENTER] == ["aisle"]
