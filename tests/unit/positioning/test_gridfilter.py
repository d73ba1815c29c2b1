"""The grid Bayes filter over surveyed spots, alone and inside the tracker."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning.events import EventKind, PresenceEvent
from positioning.gridfilter import GridFilter, GridFilterTuning
from positioning.tracker import PresenceTracker, Reading, fingerprint_tracker

# A 20 x 4 m corridor: aisle for x < 10, bakery beyond, two sensors on the walls of each.
SENSOR_XY = {"s-a1": (2.0, 0.0), "s-a2": (8.0, 4.0), "s-b1": (12.0, 0.0), "s-b2": (18.0, 4.0)}
SENSORS = tuple(sorted(SENSOR_XY))
SENSOR_ZONES = {s: "aisle" if s.startswith("s-a") else "bakery" for s in SENSORS}
T0 = 1_800_000_000.0


def _rssi(x: float, y: float, facing_rad: float = 0.0) -> list[float]:
    """Log-distance path loss (exponent 2.2) from a phone at 1 m to sensors at 2.5 m, and
    up to 5 dB of body loss for the sensors behind the carrier."""
    out = []
    for sx, sy in (SENSOR_XY[s] for s in SENSORS):
        body = 5.0 * (1.0 - math.cos(math.atan2(sy - y, sx - x) - facing_rad)) / 2.0
        d = math.sqrt((x - sx) ** 2 + (y - sy) ** 2 + 1.5**2)
        out.append(-59.0 - 22.0 * math.log10(d) - body)
    return out


def _survey(facings: int = 4) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A 1 m grid of spots over the corridor, one row per spot and facing."""
    rows, labels, spots = [], [], []
    for x in np.arange(0.5, 20.0):
        for y in np.arange(0.5, 4.0):
            for f in range(facings):
                rows.append(_rssi(x, y, 2.0 * math.pi * f / facings))
                labels.append("aisle" if x < 10 else "bakery")
                spots.append((x, y))
    return np.array(rows), labels, np.array(spots)


@pytest.fixture(scope="module")
def grid() -> GridFilter:
    matrix, labels, spots = _survey()
    return GridFilter(SENSORS).fit(matrix, labels, spots)


def test_rows_on_one_spot_are_one_spot_and_zones_come_from_the_labels(grid: GridFilter) -> None:
    assert grid.n_spots == 80
    assert grid.zones == ("aisle", "bakery")
    belief = grid.initial(3)
    assert belief.shape == (3, 80)
    assert grid.zone_probabilities(belief) == pytest.approx(np.full((3, 2), 0.5))


def test_a_standing_phone_is_found_on_its_spot_despite_its_transmit_offset(
    grid: GridFilter,
) -> None:
    """Ten seconds at (12.5, 1.5) of a phone 4 dB quieter than the survey beacon: the belief
    peaks on that spot's neighbourhood and the bakery holds nearly all of it."""
    rng = np.random.default_rng(1)
    belief = grid.initial(1)
    for _ in range(10):
        reading = np.array([_rssi(12.5, 1.5)]) - 4.0 + rng.normal(0.0, 1.0, (1, 4))
        belief = grid.update(grid.predict(belief, [1.0]), reading)
    peak = grid.spots_m[int(belief.argmax())]
    assert math.dist(peak, (12.5, 1.5)) <= 1.5
    assert grid.zone_probabilities(belief)[0, 1] > 0.95


def test_a_missing_sensor_reads_as_the_floor(grid: GridFilter) -> None:
    """Heard by the aisle's sensors only: the bakery, where its own sensors would be loud,
    is unlikely; the aisle's far end is likely."""
    ll = grid.log_likelihood(np.array([[-65.0, -75.0, np.nan, np.nan]]))[0]
    far_aisle = int(np.argmin(np.hypot(*(grid.spots_m - (0.5, 0.5)).T)))
    far_bakery = int(np.argmin(np.hypot(*(grid.spots_m - (19.5, 0.5)).T)))
    assert ll[far_aisle] > ll[far_bakery]


def test_a_step_moves_the_belief_no_further_than_walking_allows(grid: GridFilter) -> None:
    """From certainty at (0.5, 0.5), one second later almost nothing is beyond 5 m (the
    uniform share aside), and the device most likely has not moved."""
    belief = np.zeros((1, grid.n_spots))
    start = int(np.argmin(np.hypot(*(grid.spots_m - (0.5, 0.5)).T)))
    belief[0, start] = 1.0
    moved = grid.predict(belief, [1.0])[0]
    far = np.hypot(*(grid.spots_m - (0.5, 0.5)).T) > 5.0
    assert moved[far].sum() < 2 * grid.tuning.uniform_share
    assert int(moved.argmax()) == start


def test_transition_matrices_are_cached_within_a_bound() -> None:
    """Irregular gaps do not pile up (spots, spots) matrices; a cached one is the same."""
    matrix, labels, spots = _survey()
    grid = GridFilter(SENSORS).fit(matrix, labels, spots)
    belief = np.eye(1, grid.n_spots)  # certain of the first spot
    first = grid.predict(belief, [1.0])
    for dt in np.arange(0.0, 30.0, 0.25):
        grid.predict(belief, [dt])
    assert len(grid._transitions) <= 8
    assert grid.predict(belief, [1.0]) == pytest.approx(first)


def test_the_held_zone_keeps_its_place_within_the_margin(grid: GridFilter) -> None:
    proba = np.array([[0.4, 0.6], [0.3, 0.7], [0.4, 0.6]])
    assert grid.decide(proba, [0, 0, -1]).tolist() == [0, 1, 1]


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.floats(0.0, 1.0), min_size=80, max_size=80).filter(lambda w: sum(w) > 1e-3),
    dt=st.floats(0.0, 120.0),
    rssi=st.lists(
        st.one_of(st.floats(-120.0, -30.0), st.just(float("nan"))), min_size=4, max_size=4
    ),
)
def test_predict_and_update_keep_a_probability_distribution(
    grid: GridFilter, weights: list[float], dt: float, rssi: list[float]
) -> None:
    belief = np.array([weights]) / sum(weights)
    predicted = grid.predict(belief, [dt])
    assert (predicted >= 0).all()
    assert predicted.sum() == pytest.approx(1.0)
    posterior = grid.update(predicted, np.array([rssi]))
    assert (posterior >= 0).all()
    assert posterior.sum() == pytest.approx(1.0)
    assert grid.zone_probabilities(posterior).sum() == pytest.approx(1.0)


def test_bad_input_and_settings_are_refused() -> None:
    matrix, labels, spots = _survey()
    with pytest.raises(ValueError, match="fitted"):
        GridFilter(SENSORS).initial(1)
    with pytest.raises(ValueError, match="'xy_m'"):
        GridFilter(SENSORS).fit(matrix, labels, spots[:-1])
    with pytest.raises(ValueError, match="'rssi_matrix'"):
        GridFilter(SENSORS[:2]).fit(matrix, labels, spots)
    with pytest.raises(ValueError, match="'xy_m' must hold finite"):
        GridFilter(SENSORS).fit(matrix, labels, np.full_like(spots, np.nan))
    with pytest.raises(ValueError, match="'sigma_db'"):
        GridFilterTuning(sigma_db=0.0)
    with pytest.raises(ValueError, match="'switch_margin'"):
        GridFilterTuning(switch_margin=1.0)
    with pytest.raises(ValueError, match="'backdate_mass'"):
        GridFilterTuning(backdate_mass=1.5)
    with pytest.raises(ValueError, match="'confirm_switch_min_samples'"):
        GridFilterTuning(confirm_switch_min_samples=0)


# -- in the tracker: the late arrival ----------------------------------------------------------


def _late_arrival(key: str, seed: int) -> list[Reading]:
    """60 s standing mid-aisle, a walk at 1.2 m/s to 1 m inside the bakery (the boundary
    crossed at t = 64.2 s), 60 s there facing the shelf (+y). BLE at 4 Hz, 4 dB fading."""
    rng = np.random.default_rng(seed)
    walk_s = 6.0 / 1.2
    out: list[Reading] = []
    for t in np.arange(0.0, 120.0 + walk_s, 0.25):
        x = 5.0 + 1.2 * float(np.clip(t - 60.0, 0.0, walk_s))
        facing = math.pi / 2 if t > 60.0 + walk_s else 0.0
        for sensor, level in zip(SENSORS, _rssi(x, 1.5, facing), strict=True):
            out.append(
                Reading(T0 + float(t), key, sensor, "ble", level + rng.normal(0, 4.0), -59.0)
            )
    return out


def _enters(tracker: PresenceTracker, readings: list[Reading], end_s: float) -> list[PresenceEvent]:
    events: list[PresenceEvent] = []
    for second in range(int(end_s) + 1):
        batch = [r for r in readings if second <= r.ts_s - T0 < second + 1]
        events.extend(tracker.ingest(batch, now_s=T0 + second + 1))
    events.extend(tracker.close())
    return [e for e in events if e.kind is EventKind.ZONE_ENTER]


@pytest.mark.parametrize("seed", range(6))
def test_a_shopper_stopping_just_inside_a_zone_is_placed_there(seed: int) -> None:
    """The case the kNN got wrong: a stop 1 m past the boundary splits the kNN vote under
    its switch margin, so it held the device in the aisle for the whole stop. With the
    spots, the grid filter enters the bakery, back-dated to near the crossing."""
    matrix, labels, spots = _survey()
    readings = _late_arrival("dk1_late", seed)
    knn = fingerprint_tracker(SENSOR_ZONES, SENSORS, matrix, labels)
    assert [e.zone for e in _enters(knn, readings, 130)] == ["aisle"]
    tracker = fingerprint_tracker(SENSOR_ZONES, SENSORS, matrix, labels, xy_m=spots)
    enters = _enters(tracker, readings, 130)
    assert [e.zone for e in enters] == ["aisle", "bakery"]
    assert 60.0 <= enters[1].ts_s - T0 <= 64.2 + 20.0


@pytest.mark.parametrize("seed", range(6))
def test_a_zone_change_is_stamped_where_the_new_zone_began_to_rise(seed: int) -> None:
    """The belief crosses the switch margin seconds after the shopper crossed the boundary;
    the bakery enter is stamped where the bakery's mass last rose to ``backdate_mass``:
    never later than without back-dating, and near the crossing (64.2 s)."""
    matrix, labels, spots = _survey()
    readings = _late_arrival("dk1_late", seed)
    dated, undated = (
        _enters(
            fingerprint_tracker(SENSOR_ZONES, SENSORS, matrix, labels, xy_m=spots, grid=tuning),
            readings,
            130,
        )
        for tuning in (GridFilterTuning(), GridFilterTuning(backdate_max_s=0.0))
    )
    assert [e.zone for e in dated] == [e.zone for e in undated] == ["aisle", "bakery"]
    assert dated[1].ts_s <= undated[1].ts_s
    assert 60.0 <= dated[1].ts_s - T0 <= 64.2 + 13.0


def test_each_device_has_its_own_belief_and_loses_it_with_the_device() -> None:
    """Two devices on either side of the boundary at once keep their own zones; once both
    went silent for the visit gap the tracker holds no device (nor its belief)."""
    matrix, labels, spots = _survey()
    tracker = fingerprint_tracker(SENSOR_ZONES, SENSORS, matrix, labels, xy_m=spots)
    readings = [
        Reading(T0 + float(t), key, sensor, "ble", level, -59.0)
        for t in np.arange(0.0, 30.0, 0.5)
        for key, x in (("dk1_left", 3.0), ("dk1_right", 17.0))
        for sensor, level in zip(SENSORS, _rssi(x, 2.0), strict=True)
    ]
    for second in range(31):
        tracker.ingest([r for r in readings if second <= r.ts_s - T0 < second + 1], T0 + second)
    assert tracker.zone_of("dk1_left") == "aisle"
    assert tracker.zone_of("dk1_right") == "bakery"
    beliefs = [tracker._devices[k].belief for k in ("dk1_left", "dk1_right")]
    # bounded: one float32 per spot, owned (not a view keeping a whole batch alive)
    assert all(b is not None and b.base is None and b.nbytes == 4 * 80 for b in beliefs)
    gone = T0 + 30.0 + tracker.config.visits.visit_gap_s + tracker.config.filter_eviction_margin_s
    tracker.tick(gone + 20.0)
    assert tracker.counters.devices == 0
