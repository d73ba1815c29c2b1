"""The store simulator: seeded, consistent with its truth, rates and MAC rotation as configured."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from hardware.simulator import (
    PersonKind,
    PopulationConfig,
    RadioModel,
    SimBleAdvert,
    SimConfig,
    SimProbe,
    SimulatedStore,
    default_store,
)
from hardware.simulator.floorplan import FloorPlan, FloorPlanError
from hardware.simulator.population import PHONE_MODELS

SHORT = SimConfig(duration_s=240.0, population=PopulationConfig(shoppers_per_hour=60.0, staff=2))


def _records(store: SimulatedStore) -> list[SimBleAdvert | SimProbe]:
    return list(store.records())


def test_same_seed_gives_the_same_records_and_truth() -> None:
    """Two stores built with one seed emit identical records and identical truth."""
    a, b = SimulatedStore(config=SHORT, seed=7), SimulatedStore(config=SHORT, seed=7)
    assert _records(a) == _records(b)
    assert a.truth() == b.truth()


def test_another_seed_gives_another_run() -> None:
    """A different seed changes the population and the records."""
    a, b = SimulatedStore(config=SHORT, seed=7), SimulatedStore(config=SHORT, seed=8)
    assert a.truth()["people"] != b.truth()["people"]


def test_records_come_in_time_order() -> None:
    """The merged stream never goes back in time."""
    ts = [r.ts_s for r in SimulatedStore(config=SHORT, seed=3).records()]
    assert ts == sorted(ts)
    assert len(ts) > 1000


def test_truth_intervals_are_ordered_and_inside_each_track() -> None:
    """Zone intervals are disjoint, time-ordered and within the person's time on the map."""
    store = SimulatedStore(config=SHORT, seed=4)
    zones = set(store.plan.zone_names)
    for person in store.truth()["people"]:
        track = person["track"]
        prev_end = track[0][0]
        for zone, start, end in person["zone_intervals"]:
            assert zone in zones
            assert prev_end <= start < end <= track[-1][0] + 1e-6
            prev_end = end


def test_truth_visits_match_person_kinds() -> None:
    """Shoppers have one visit of the minimum stay, staff one staff visit, passers-by none."""
    store = SimulatedStore(config=SHORT, seed=5)
    kinds = {p["kind"] for p in store.truth()["people"]}
    assert kinds == {"shopper", "passer_by", "staff"}
    for person in store.truth()["people"]:
        if person["kind"] == "passer_by":
            assert person["visits"] == []
            assert person["zone_intervals"] == []
        elif person["kind"] == "staff":
            assert [v["class"] for v in person["visits"]] == ["staff"]
        else:
            (visit,) = person["visits"]
            assert visit["class"] == "visitor"
            assert visit["dwell_s"] >= SHORT.population.min_in_store_s - 30.0
            assert person["zone_intervals"][0][0] == "entrance"


def test_ble_advert_rate_is_as_configured() -> None:
    """With perfect reception every sensor hears rate x time adverts of each beacon."""
    radio = RadioModel(ble_sensitivity_dbm=-200.0, ble_capture_probability=1.0)
    pop = PopulationConfig(
        shoppers_per_hour=30.0, passers_by_per_hour=0.0, staff=0, ble_app_share=1.0, wifi_share=0.0
    )
    store = SimulatedStore(config=SimConfig(duration_s=300.0, population=pop, radio=radio), seed=2)
    counts: dict[tuple[str, str], int] = {}
    for rec in store.records():
        assert isinstance(rec, SimBleAdvert)
        counts[(rec.address, rec.sensor_id)] = counts.get((rec.address, rec.sensor_id), 0) + 1
    assert store.people
    for person in store.people:
        assert person.ble is not None
        expected = person.ble.adv_rate_hz * (person.track.end_s - person.track.start_s)
        for sensor in store.plan.sensors:
            assert abs(counts[(person.ble.address, sensor.sensor_id)] - expected) <= 1.5


def test_macs_rotate_within_the_models_period_and_carry_the_right_bit() -> None:
    """Randomizing phones rotate MACs within their model's period, locally administered bit set."""
    pop = PopulationConfig(shoppers_per_hour=120.0, passers_by_per_hour=0.0, wifi_share=1.0)
    store = SimulatedStore(config=SimConfig(duration_s=1200.0, population=pop), seed=9)
    rotations = 0
    for person in store.people:
        assert person.wifi is not None
        model, schedule = person.wifi.model, person.wifi.mac_schedule
        for _, mac in schedule:
            assert bool(int(mac[:2], 16) & 0x02) is model.randomizes
        if not model.randomizes:
            assert len(schedule) == 1
            continue
        gaps = np.diff([t for t, _ in schedule])
        rotations += gaps.size
        assert not gaps[1:].size or model.rotation_s[0] - 1e-6 <= gaps[1:].min()
        assert not gaps.size or gaps.max() <= model.rotation_s[1] + 1e-6
    assert rotations > 10


def test_probe_bursts_follow_the_models_interval_and_sequence_numbers() -> None:
    """Bursts are spaced within the model's probe interval; seq numbers run on inside a burst."""
    radio = RadioModel(wifi_sensitivity_dbm=-200.0, wifi_capture_probability=1.0)
    pop = PopulationConfig(
        shoppers_per_hour=30.0, passers_by_per_hour=0.0, staff=0, ble_app_share=0.0, wifi_share=1.0
    )
    store = SimulatedStore(config=SimConfig(duration_s=600.0, population=pop, radio=radio), seed=1)
    sensor = store.plan.sensors[0].sensor_id
    by_person: dict[str, list[SimProbe]] = {}
    macs = {
        mac: p.person_id
        for p in store.people
        if p.wifi is not None
        for _, mac in p.wifi.mac_schedule
    }
    for rec in store.records():
        if isinstance(rec, SimProbe) and rec.sensor_id == sensor:
            by_person.setdefault(macs[rec.mac], []).append(rec)
    people = {p.person_id: p for p in store.people}
    for pid, frames in by_person.items():
        model = people[pid].wifi.model  # type: ignore[union-attr]
        starts = [f.ts_s for i, f in enumerate(frames) if i == 0 or f.ts_s - frames[i - 1].ts_s > 1]
        gaps = np.diff(starts)
        assert np.all(gaps >= model.probe_interval_s[0] - 0.2)
        assert np.all(gaps <= model.probe_interval_s[1] + 0.2)
        for a, b in itertools.pairwise(frames):
            if b.ts_s - a.ts_s < 0.01 and a.mac == b.mac:
                assert b.seq_num == (a.seq_num + 1) % 4096


def test_stream_paces_with_the_callers_sleep() -> None:
    """The paced stream asks the caller to sleep the simulated gaps divided by the speed-up."""
    slept: list[float] = []
    store = SimulatedStore(config=SHORT, seed=3)
    recs = list(store.stream(sleep=slept.append, speed=10.0))
    assert sum(slept) == pytest.approx((recs[-1].ts_s - recs[0].ts_s) / 10.0)
    with pytest.raises(ValueError, match="'speed' must be > 0"):
        next(store.stream(speed=0.0))


def test_floor_plan_round_trips_through_layout_json() -> None:
    """layout.json parses back into the same floor plan; a bad one names the field."""
    plan = default_store()
    assert FloorPlan.from_json(plan.to_json()) == plan
    doc = plan.to_json()
    del doc["sensors"]
    with pytest.raises(FloorPlanError, match="'sensors'"):
        FloorPlan.from_json(doc)


def test_default_store_zones_tile_the_floor() -> None:
    """Every point of the default store's floor lies in exactly one named zone."""
    plan = default_store()
    xs, ys = np.meshgrid(np.linspace(0.1, 29.9, 60), np.linspace(0.1, 19.9, 40))
    idx = plan.zone_index(xs.ravel(), ys.ravel())
    assert (idx >= 0).all()
    assert plan.sensor_zones() == {s.sensor_id: s.sensor_id[2:] for s in plan.sensors}
    assert len(PHONE_MODELS) >= 4


def test_passers_by_never_enter_the_store() -> None:
    """Passers-by stay on the sidewalk for their whole track."""
    store = SimulatedStore(config=SHORT, seed=6)
    for person in store.people:
        if person.kind is PersonKind.PASSER_BY:
            assert not store.plan.inside_store(person.track.xs_m, person.track.ys_m).any()


def test_radio_model_refuses_a_bad_exponent() -> None:
    """A path-loss exponent out of range fails with the field and the value."""
    with pytest.raises(
        ValueError, match=r"'path_loss_exponent' must be in \[1.6, 6.0\] \(got 9.1\)"
    ):
        replace(RadioModel(), path_loss_exponent=9.1)
