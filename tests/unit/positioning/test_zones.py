"""Zone classifiers: proximity, strongest sensor and trilateration behind one interface."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from positioning import (
    Calibration,
    PathLossModel,
    ProximityClassifier,
    StrongestSensorClassifier,
    TrilaterationClassifier,
    Zone,
    ZoneClassifier,
)

SQUARE = Zone("shoes", ((0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)))


def test_zone_polygon_contains_points() -> None:
    """Ray casting puts inside points in and outside points out, also for a concave polygon."""
    ell = Zone("ell", ((0, 0), (4, 0), (4, 1), (1, 1), (1, 4), (0, 4)))
    assert SQUARE.contains(2.0, 2.0)
    assert not SQUARE.contains(5.0, 2.0)
    assert ell.contains(0.5, 3.0)
    assert not ell.contains(3.0, 3.0)
    np.testing.assert_array_equal(
        ell.contains_points(np.array([[0.5, 0.5], [2.0, 2.0], [3.5, 0.5]])), [True, False, True]
    )
    with pytest.raises(ValueError, match="'polygon' of zone 'x' must have >= 3 vertices"):
        Zone("x", ((0, 0), (1, 1)))


def test_all_classifiers_satisfy_the_protocol() -> None:
    """Every classifier is a ZoneClassifier."""
    classifiers = [
        ProximityClassifier("door", "entrance"),
        StrongestSensorClassifier({"a": "shoes", "b": "bags"}),
        TrilaterationClassifier({"a": (0.0, 0.0)}, PathLossModel(-60.0, 2.0), (SQUARE,)),
    ]
    for c in classifiers:
        assert isinstance(c, ZoneClassifier)


def test_proximity_enters_and_exits_with_hysteresis() -> None:
    """A device enters at enter_dbm, stays inside down to exit_dbm and leaves below it."""
    clf = ProximityClassifier("door", "entrance", enter_dbm=-65.0, exit_dbm=-72.0)
    zone = None
    trace = []
    for rssi in [-80.0, -68.0, -64.0, -70.0, -71.9, -73.0, -68.0]:
        est = clf.classify({"door": rssi}, zone)
        zone = est.zone
        trace.append(zone)
    assert trace == [None, None, "entrance", "entrance", "entrance", None, None]


def test_proximity_probability_crosses_half_at_the_applying_threshold() -> None:
    """The probability is 0.5 at enter_dbm when outside and at exit_dbm when inside."""
    clf = ProximityClassifier("door", "entrance", enter_dbm=-65.0, exit_dbm=-72.0)
    assert clf.classify({"door": -65.0}).probabilities["entrance"] == pytest.approx(0.5)
    assert clf.classify({"door": -72.0}, "entrance").probabilities["entrance"] == pytest.approx(0.5)
    assert clf.classify({}).probabilities["entrance"] == 0.0
    assert clf.classify({"door": math.nan}, "entrance").zone is None
    with pytest.raises(ValueError, match=r"'exit_dbm' must be below 'enter_dbm' \(-65.0\)"):
        ProximityClassifier("door", "entrance", enter_dbm=-65.0, exit_dbm=-60.0)


def test_proximity_vectorised_equals_one_by_one() -> None:
    """classify_many gives the same flags and probabilities as classify per device."""
    rng = np.random.default_rng(3)
    clf = ProximityClassifier("door", "entrance")
    rssi = rng.uniform(-90, -50, 200)
    rssi[::17] = np.nan
    inside = rng.random(200) < 0.5
    p, now_in = clf.classify_many(rssi, inside)
    for i in range(200):
        est = clf.classify({"door": float(rssi[i])}, "entrance" if inside[i] else None)
        assert est.probabilities["entrance"] == pytest.approx(p[i])
        assert (est.zone == "entrance") == now_in[i]


@given(rssi=st.floats(-120.0, 0.0), inside=st.booleans())
def test_proximity_probability_agrees_with_the_decision(rssi: float, inside: bool) -> None:
    """The decided zone is the zone exactly when its probability is at least one half."""
    clf = ProximityClassifier("door", "entrance")
    est = clf.classify({"door": rssi}, "entrance" if inside else None)
    assert (est.zone == "entrance") == (est.probabilities["entrance"] >= 0.5)


def test_strongest_sensor_switches_only_past_the_margin() -> None:
    """The zone follows the loudest sensor, but a rival must win by margin_db to take over."""
    clf = StrongestSensorClassifier(
        {"s1": "shoes", "s2": "bags", "s3": "bags"}, margin_db=4.0, floor_dbm=-90.0
    )
    assert clf.zones == ("bags", "shoes")
    est = clf.classify({"s1": -60.0, "s2": -70.0})
    assert est.zone == "shoes"
    assert est.probabilities["shoes"] > 0.9
    assert clf.classify({"s1": -60.0, "s3": -57.0}, "shoes").zone == "shoes"  # 3 dB < margin
    assert clf.classify({"s1": -60.0, "s3": -55.0}, "shoes").zone == "bags"  # 5 dB > margin
    assert clf.classify({"s1": -95.0}, None).zone is None  # below the floor
    assert clf.classify({"s1": -95.0}).probabilities == {}
    assert clf.classify({"s2": -80.0}, "shoes").zone == "bags"  # previous zone no longer heard
    assert sum(clf.classify({"s1": -70.0, "s2": -71.0}).probabilities.values()) == pytest.approx(1)


def test_strongest_sensor_learns_sensor_zones_from_fingerprints() -> None:
    """from_fingerprints maps each sensor to the zone most recorded where it was loudest."""
    x = np.array([[-50.0, -80.0], [-55.0, np.nan], [-90.0, -60.0], [np.nan, np.nan]])
    clf = StrongestSensorClassifier.from_fingerprints(x, ["a", "a", "b", "b"], ["s1", "s2"])
    assert dict(clf.sensor_zones) == {"s1": "a", "s2": "b"}


def _square_room() -> tuple[dict[str, tuple[float, float]], PathLossModel, tuple[Zone, ...]]:
    sensors = {"sw": (0.0, 0.0), "se": (10.0, 0.0), "ne": (10.0, 10.0), "nw": (0.0, 10.0)}
    model = PathLossModel(-60.0, 2.0, sigma_db=2.0)
    zones = (
        Zone("west", ((0, 0), (5, 0), (5, 10), (0, 10))),
        Zone("east", ((5, 0), (10, 0), (10, 10), (5, 10))),
    )
    return sensors, model, zones


def test_trilateration_recovers_a_position_from_exact_rssi() -> None:
    """With noise-free RSSI from four sensors the WLS position is the true one."""
    sensors, model, zones = _square_room()
    clf = TrilaterationClassifier(sensors, model, zones, prior_sigma_m=1000.0)
    truth = np.array([2.5, 6.0])
    rssi = {s: model.rssi_at(float(np.hypot(*(truth - np.array(xy))))) for s, xy in sensors.items()}
    pos = clf.locate(rssi)
    assert pos is not None
    assert pos.x_m == pytest.approx(2.5, abs=0.01)
    assert pos.y_m == pytest.approx(6.0, abs=0.01)
    est = clf.classify(rssi)
    assert est.zone == "west"
    assert est.probabilities["west"] > 0.9


def test_trilateration_on_noisy_rssi_is_mostly_right_and_calibrated_offsets_matter() -> None:
    """Seeded noisy readings put most devices in the right half; a sensor offset is corrected."""
    sensors, model, zones = _square_room()
    cal = Calibration(model, sensor_offsets_db={"ne": 6.0})  # this sensor reads 6 dB hot
    clf = TrilaterationClassifier(sensors, cal, zones)
    rng = np.random.default_rng(42)
    correct = 0
    for _ in range(200):
        truth = rng.uniform(0.5, 9.5, size=2)
        rssi = {
            s: cal.model_for(s).rssi_at(max(float(np.hypot(*(truth - np.array(xy)))), 0.1))
            + rng.normal(0, 2.0)
            for s, xy in sensors.items()
        }
        expected = "west" if truth[0] < 5 else "east"
        correct += clf.classify(rssi).zone == expected
    assert correct >= 150


def test_trilateration_hysteresis_and_missing_sensors() -> None:
    """Near the border the previous zone is kept; no heard sensor gives no zone."""
    sensors, model, zones = _square_room()
    clf = TrilaterationClassifier(
        sensors, model, zones, enter_probability=0.6, exit_probability=0.3
    )
    truth = np.array([5.3, 5.0])  # just east of the border
    rssi = {s: model.rssi_at(float(np.hypot(*(truth - np.array(xy))))) for s, xy in sensors.items()}
    est = clf.classify(rssi, "west")
    assert 0.3 <= est.probabilities["west"] < 0.5
    assert est.zone == "west"
    assert clf.classify(rssi).zone == "east"
    assert clf.classify({}).zone is None
    one = clf.locate({"sw": -70.0})
    assert one is not None
    assert one.covariance_m2[0][0] > 1.0  # one sensor: a wide, honest uncertainty
