"""The agent's functional core: sightings in, classified presence events out, memory bounded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.config import ThresholdSettings, ZoneSettings
from edge_agent.pipeline import (
    ClassifiedEvent,
    KalmanTracker,
    Pipeline,
    ProximityTracker,
    make_tracker,
)
from edge_agent.sources.synthetic import SyntheticStore
from hardware.observations import IdClass, Sighting, SignalKind
from positioning.events import EventKind
from positioning.tracker import TrackerConfigError

ZONES = (ZoneSettings(name="door", min_rssi_dbm=-60), ZoneSettings(name="floor", min_rssi_dbm=-85))
T = ThresholdSettings(exit_grace_s=10, visit_gap_s=60, min_dwell_s=30, smoothing_alpha=1.0)


def s(
    ts: float, key: str = "dk1_a", rssi: float = -55.0, cls: IdClass = IdClass.WIFI_GLOBAL
) -> Sighting:
    return Sighting(ts, "agent", key, cls, SignalKind.WIFI, rssi)


def kinds(events: list[ClassifiedEvent]) -> list[tuple[str, str | None]]:
    return [(c.event.kind.value, c.event.zone) for c in events]


def test_proximity_visit_with_zone_change_and_gap_end() -> None:
    """A device enters door, moves to floor, goes silent: exits and visit end follow with dwell."""
    pipe = Pipeline(ProximityTracker(ZONES, T))
    out: list[ClassifiedEvent] = []
    for t in range(0, 20):
        out += pipe.process(s(1000.0 + t, rssi=-55.0))
    for t in range(20, 50):
        out += pipe.process(s(1000.0 + t, rssi=-75.0))
    out += pipe.advance(1049.0 + 61.0)
    assert kinds(out) == [
        ("visit_start", None),
        ("zone_enter", "door"),
        ("zone_exit", "door"),
        ("zone_enter", "floor"),
        ("zone_exit", "floor"),
        ("visit_end", None),
    ]
    end = out[-1].event
    assert end.dwell_s == pytest.approx(49.0)
    assert end.zones == ("door", "floor")
    assert end.visit_class == "visitor"
    assert out[2].event.dwell_s == pytest.approx(20.0)
    assert all(c.id_class is IdClass.WIFI_GLOBAL for c in out)


def test_short_stay_is_a_passer_by() -> None:
    """A stay shorter than min_dwell_s ends as passer_by."""
    pipe = Pipeline(ProximityTracker(ZONES, T))
    for t in range(5):
        pipe.process(s(t, rssi=-80.0))
    end = [c.event for c in pipe.advance(1000.0) if c.event.kind is EventKind.VISIT_END]
    assert len(end) == 1
    assert end[0].visit_class == "passer_by"


def test_capacity_evicts_the_stalest_device_with_a_visit_end() -> None:
    """Beyond max_devices the stalest device is ended (reason evicted_capacity) and forgotten."""
    tracker = ProximityTracker(ZONES, ThresholdSettings(max_devices=3))
    pipe = Pipeline(tracker)
    out: list[ClassifiedEvent] = []
    for i in range(5):
        out += pipe.process(s(float(i) * 0.1, key=f"dk1_{i}"))
    assert tracker.tracked_devices == 3
    evicted = [
        c.event.device_key
        for c in out
        if c.event.reason == "evicted_capacity" and c.event.kind is EventKind.VISIT_END
    ]
    assert evicted == ["dk1_0", "dk1_1"]


@pytest.mark.parametrize("kind", ["proximity", "kalman"])
def test_memory_stays_bounded_with_device_churn(kind: str) -> None:
    """With devices coming and going for 15 minutes, tracked devices follow presence only."""
    store = SyntheticStore(
        seed=4, duration_s=900, arrivals_per_s=1.0, mean_stay_s=120.0, sensor_id="agent"
    )
    t = ThresholdSettings(visit_gap_s=60, exit_grace_s=10, evict_after_s=120)
    tracker = (
        ProximityTracker(ZONES, t) if kind == "proximity" else KalmanTracker({"agent": "door"}, t)
    )
    pipe = Pipeline(tracker)
    peak = 0
    seen: set[str] = set()
    for i, sighting in enumerate(store.sightings()):
        seen.add(sighting.device_key)
        pipe.process(sighting)
        if i % 500 == 0:
            peak = max(peak, tracker.tracked_devices)
    assert len(seen) > 800
    # ~120 present at a time (1/s x 120 s) plus ~60-180 within the visit gap and margins.
    assert peak < 400
    if isinstance(tracker, KalmanTracker):
        assert len(tracker._classes) < 400


def test_kalman_tracker_events_carry_the_sightings_id_class() -> None:
    """Events from positioning's tracker are tagged with the class of the device's sightings."""
    pipe = Pipeline(KalmanTracker({"agent": "door"}, T))
    out: list[ClassifiedEvent] = []
    for t in range(30):
        out += pipe.process(s(2000.0 + t, key="dk1_b", rssi=-50.0, cls=IdClass.PERSONAL_BEACON))
    out += pipe.advance(2030.0 + 600.0)
    assert [c.event.kind for c in out][:2] == [EventKind.VISIT_START, EventKind.ZONE_ENTER]
    assert out[-1].event.kind is EventKind.VISIT_END
    assert {c.id_class for c in out} == {IdClass.PERSONAL_BEACON}


def test_kalman_tracker_with_a_survey_places_beacons_by_the_fingerprints(tmp_path: Path) -> None:
    """A survey recorded where sensor s-1 is loudest in the 'back' zone (a box mounted off
    its zone) places a beacon loud at s-1 in 'back'; the strongest sensor says 'front'."""
    survey = tmp_path / "survey.jsonl"
    spots = [("back", {"s-1": -58.0, "s-2": -82.0}), ("front", {"s-1": -80.0, "s-2": -60.0})]
    rows = [
        {"zone": zone, "ts_s": float(i), "rssi_dbm": rssi}
        for i, (zone, rssi) in enumerate(spots * 20)
    ]
    survey.write_text("".join(json.dumps(r) + "\n" for r in rows))
    zones = {"s-1": "front", "s-2": "back"}

    def entered(tracker: KalmanTracker) -> list[str | None]:
        pipe = Pipeline(tracker)
        out: list[ClassifiedEvent] = []
        for t in range(40):
            for sensor, rssi in (("s-1", -58.0), ("s-2", -82.0)):
                sighting = Sighting(
                    3000.0 + t, sensor, "dk1_c", IdClass.PERSONAL_BEACON, SignalKind.BLE, rssi
                )
                out += pipe.process(sighting)
        return [c.event.zone for c in out if c.event.kind is EventKind.ZONE_ENTER]

    assert entered(make_tracker("kalman", ZONES, T, zones, survey)) == ["back"]
    assert entered(KalmanTracker(zones, T)) == ["front"]
    with pytest.raises(TrackerConfigError, match="back"):
        make_tracker("kalman", ZONES, T, {"s-1": "front", "s-2": "side"}, survey)
