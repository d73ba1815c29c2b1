"""RSSI Kalman filters: the scalar reference, the numpy bank and filterpy as the oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from filterpy.kalman import KalmanFilter
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning.kalman import (
    BLE_PARAMS,
    DEFAULT_PARAMS,
    WIFI_PARAMS,
    KalmanParams,
    RssiKalman,
    RssiKalmanBank,
)


class FilterpyRssi:
    """A filterpy KalmanFilter configured as our 1-D random walk, with the same gate and reset."""

    def __init__(self, params: KalmanParams) -> None:
        self.params = params
        self.kf = KalmanFilter(dim_x=1, dim_z=1)
        self.kf.F = np.array([[1.0]])
        self.kf.H = np.array([[1.0]])
        self.kf.R = np.array([[params.measurement_noise_dbm2]])
        self.t_s = -math.inf
        self.started = False
        self.streak = 0

    def update(self, t_s: float, z: float) -> bool:
        p = self.params
        if self.started:
            dt = max(t_s - self.t_s, 0.0)
            var = float(self.kf.P[0, 0])
            # the staleness cap as process noise: Q = min(P + q dt, P_max) - P
            q = min(var + p.process_noise_dbm2_per_s * dt, p.max_variance_dbm2) - var
            self.kf.predict(Q=np.array([[q]]))
        self.t_s = max(self.t_s, t_s)
        if self.started:
            y = z - float(self.kf.x[0, 0])
            s = float(self.kf.P[0, 0]) + p.measurement_noise_dbm2
            if y * y <= p.gate_sigmas**2 * s:
                self.kf.update(np.array([[z]]))
                self.streak = 0
                return True
            self.streak += 1
            if self.streak < p.reset_after:
                return False
        self.kf.x = np.array([[z]])
        self.kf.P = np.array([[p.p0_dbm2]])
        self.started = True
        self.streak = 0
        return True


def _irregular_sequence(
    rng: np.random.Generator, n: int, wifi: bool
) -> tuple[list[float], list[float]]:
    """Irregular times (BLE 1-10 Hz, Wi-Fi bursts every 30-120 s), RSSI with walk and outliers."""
    times: list[float] = []
    values: list[float] = []
    t, level = 0.0, -70.0
    while len(times) < n:
        if wifi:
            t += rng.uniform(30, 120)
            burst = int(rng.integers(1, 5))
            steps = [rng.uniform(0.0, 0.05) for _ in range(burst)]
        else:
            steps = [rng.uniform(0.1, 1.0)]
        for dt in steps:
            t += dt
            level += rng.normal(0, 1.5)
            value = level + rng.normal(0, 4)
            if rng.random() < 0.05:
                value += rng.choice([-1, 1]) * rng.uniform(20, 40)  # far outlier
            times.append(t)
            values.append(value)
    return times[:n], values[:n]


@pytest.mark.parametrize(("kind", "seed"), [("ble", 1), ("ble", 2), ("wifi", 3), ("wifi", 4)])
def test_bank_equals_filterpy_per_device_on_irregular_sequences(kind: str, seed: int) -> None:
    """The bank's mean and variance equal one filterpy KalmanFilter per device to 1e-9."""
    rng = np.random.default_rng(seed)
    params = DEFAULT_PARAMS[kind]
    n_dev, n_obs = 20, 200
    seqs = [_irregular_sequence(rng, n_obs, wifi=kind == "wifi") for _ in range(n_dev)]
    bank = RssiKalmanBank(capacity=4)
    slots = bank.allocate_many(kind, n_dev)
    oracles = [FilterpyRssi(params) for _ in range(n_dev)]
    rejected_any = False
    for i in range(n_obs):
        t = np.array([seqs[d][0][i] for d in range(n_dev)])
        z = np.array([seqs[d][1][i] for d in range(n_dev)])
        accepted = bank.update(slots, t, z)
        expected = [oracles[d].update(float(t[d]), float(z[d])) for d in range(n_dev)]
        assert accepted.tolist() == expected
        rejected_any |= not all(expected)
        mean, var = bank.predict(slots, t)
        np.testing.assert_allclose(mean, [o.kf.x[0, 0] for o in oracles], rtol=0, atol=1e-9)
        np.testing.assert_allclose(var, [o.kf.P[0, 0] for o in oracles], rtol=0, atol=1e-9)
    assert rejected_any


def test_scalar_reference_equals_bank_on_one_device() -> None:
    """The scalar RssiKalman and a one-slot bank agree on every step, including rejections."""
    rng = np.random.default_rng(7)
    times, values = _irregular_sequence(rng, 300, wifi=False)
    ref = RssiKalman(BLE_PARAMS)
    bank = RssiKalmanBank()
    slot = bank.allocate("ble")
    for t, z in zip(times, values, strict=True):
        ok_ref = ref.update(t, z)
        ok_bank = bool(bank.update([slot], t, [z])[0])
        assert ok_ref == ok_bank
        mean, var = bank.predict([slot], t)
        assert mean[0] == pytest.approx(ref.mean_dbm, abs=1e-12)
        assert var[0] == pytest.approx(ref.var_dbm2, abs=1e-12)
    assert ref.rejected == int(bank.rejected([slot])[0]) == bank.rejected_total > 0


def test_repeated_slots_in_one_batch_equal_sequential_updates() -> None:
    """A batch naming a slot several times equals feeding its readings one by one."""
    rng = np.random.default_rng(11)
    n = 500
    slot_ids = rng.integers(0, 8, size=n)
    times = np.sort(rng.uniform(0, 60, size=n))
    values = rng.normal(-65, 5, size=n)
    batch = RssiKalmanBank()
    seq = RssiKalmanBank()
    slots_b = batch.allocate_many("ble", 8)
    slots_s = seq.allocate_many("ble", 8)
    accepted = batch.update(slots_b[slot_ids], times, values)
    one_by_one = [
        bool(seq.update([slots_s[i]], t, [v])[0])
        for i, t, v in zip(slot_ids, times, values, strict=True)
    ]
    assert accepted.tolist() == one_by_one
    m_b, v_b = batch.predict(slots_b, 60.0)
    m_s, v_s = seq.predict(slots_s, 60.0)
    np.testing.assert_array_equal(m_b, m_s)
    np.testing.assert_array_equal(v_b, v_s)


def test_variance_grows_while_unseen_up_to_the_cap() -> None:
    """An unseen device's variance grows by q per second and stops at max_variance_dbm2."""
    bank = RssiKalmanBank()
    slot = bank.allocate("wifi")
    bank.update([slot], 0.0, [-60.0])
    _, v0 = bank.predict([slot], 0.0)
    _, v10 = bank.predict([slot], 10.0)
    _, v_late = bank.predict([slot], 1e6)
    assert v0[0] == WIFI_PARAMS.measurement_noise_dbm2
    assert v10[0] == pytest.approx(v0[0] + 10 * WIFI_PARAMS.process_noise_dbm2_per_s)
    assert v_late[0] == WIFI_PARAMS.max_variance_dbm2


def test_unseen_slot_predicts_nan_mean_and_infinite_variance() -> None:
    """A slot without a reading has no estimate: mean NaN, variance infinity."""
    bank = RssiKalmanBank()
    slot = bank.allocate("ble")
    mean, var = bank.predict([slot], 5.0)
    assert math.isnan(mean[0])
    assert var[0] == math.inf


def test_consecutive_outliers_reinitialise_the_filter() -> None:
    """After reset_after far readings in a row the filter jumps to the new level."""
    bank = RssiKalmanBank()
    slot = bank.allocate("ble")
    for i in range(20):
        bank.update([slot], i * 0.1, [-80.0])
    results = [bool(bank.update([slot], 2.0 + i * 0.1, [-50.0])[0]) for i in range(3)]
    assert results == [False, False, True]
    mean, _ = bank.predict([slot], 2.3)
    assert mean[0] == -50.0
    assert bank.reset_total == 1
    assert bank.rejected_total == 2


def test_capacity_doubles_and_keeps_state() -> None:
    """Growing the bank keeps every existing filter's state."""
    bank = RssiKalmanBank(capacity=2)
    first = bank.allocate("ble")
    bank.update([first], 1.0, [-61.0])
    more = bank.allocate_many("wifi", 5)
    assert bank.capacity == 8
    assert bank.size == 6
    mean, _ = bank.predict([first], 1.0)
    assert mean[0] == -61.0
    assert len(set(more.tolist()) | {first}) == 6


def test_released_slot_is_reused_fresh() -> None:
    """A released slot is handed out again without its old state."""
    bank = RssiKalmanBank()
    slot = bank.allocate("ble")
    bank.update([slot], 0.0, [-40.0])
    bank.release(slot)
    again = bank.allocate("wifi")
    assert again == slot
    mean, _ = bank.predict([again], 0.0)
    assert math.isnan(mean[0])
    bank.release(again)
    with pytest.raises(ValueError, match="'slot' must be an allocated slot"):
        bank.release(again)
    with pytest.raises(ValueError, match="'slots' must all be allocated"):
        bank.predict([again], 0.0)


def test_non_finite_readings_are_dropped_and_counted() -> None:
    """NaN and infinite RSSI change nothing and are counted as invalid."""
    bank = RssiKalmanBank()
    slots = bank.allocate_many("ble", 2)
    accepted = bank.update(slots, 0.0, [math.nan, -70.0])
    assert accepted.tolist() == [False, True]
    assert bank.invalid_total == 1
    mean, _ = bank.predict(slots, 0.0)
    assert math.isnan(mean[0])
    assert mean[1] == -70.0


def test_bad_params_and_kinds_are_refused_with_the_field_named() -> None:
    """Impossible parameters and unknown kinds fail with a message naming the field and value."""
    with pytest.raises(
        ValueError, match=r"'measurement_noise_dbm2' must be finite and > 0 \(got -1"
    ):
        KalmanParams(process_noise_dbm2_per_s=1.0, measurement_noise_dbm2=-1.0)
    with pytest.raises(ValueError, match="'reset_after' must be >= 1"):
        KalmanParams(process_noise_dbm2_per_s=1.0, measurement_noise_dbm2=1.0, reset_after=0)
    with pytest.raises(ValueError, match=r"'kind' must be one of \['ble', 'wifi'\] \(got 'lora'\)"):
        RssiKalmanBank().allocate("lora")


@settings(max_examples=60, deadline=None)
@given(
    readings=st.lists(
        st.tuples(
            st.floats(0.0, 300.0),
            st.floats(-110.0, 0.0),
        ),
        min_size=1,
        max_size=60,
    ),
    kind=st.sampled_from(["ble", "wifi"]),
)
def test_variance_stays_positive_and_bounded(
    readings: list[tuple[float, float]], kind: str
) -> None:
    """Whatever the readings and gaps, the variance stays in (0, max_variance]."""
    bank = RssiKalmanBank()
    slot = bank.allocate(kind)
    t = 0.0
    for dt, z in readings:
        t += dt
        bank.update([slot], t, [z])
        _, var = bank.predict([slot], t)
        assert 0.0 < var[0] <= DEFAULT_PARAMS[kind].max_variance_dbm2


@settings(max_examples=60, deadline=None)
@given(
    warmup=st.lists(st.floats(-90.0, -40.0), min_size=1, max_size=20),
    dt=st.floats(0.0, 30.0),
    z=st.floats(-120.0, 10.0),
)
def test_gate_rejects_exactly_the_readings_beyond_g_sigmas(
    warmup: list[float], dt: float, z: float
) -> None:
    """A reading is rejected if and only if it lies more than g innovation sigmas away."""
    params = KalmanParams(
        process_noise_dbm2_per_s=2.0, measurement_noise_dbm2=16.0, reset_after=255
    )
    bank = RssiKalmanBank({"ble": params})
    slot = bank.allocate("ble")
    for i, w in enumerate(warmup):
        bank.update([slot], i * 0.2, [w])
    t_last = (len(warmup) - 1) * 0.2
    mean, var = bank.predict([slot], t_last + dt)
    sigma = math.sqrt(var[0] + params.measurement_noise_dbm2)
    far = abs(z - mean[0]) > params.gate_sigmas * sigma
    accepted = bool(bank.update([slot], t_last + dt, [z])[0])
    if abs(abs(z - mean[0]) - params.gate_sigmas * sigma) > 1e-9:
        assert accepted is not far
