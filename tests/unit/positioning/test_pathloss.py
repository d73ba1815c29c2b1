"""Log-distance path loss: distances, intervals, the Huber fit and calibration offsets."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from positioning.pathloss import Calibration, PathLossModel, fit_path_loss
from tests.conftest import shared_data

models = st.builds(
    PathLossModel,
    p1m_dbm=st.floats(-100.0, 0.0),
    n=st.floats(1.0, 6.0),
    sigma_db=st.floats(0.5, 15.0),
)


def test_rssi_at_and_distance_are_inverse() -> None:
    """rssi_at(d) maps back to d, and the 1 m power is P1m."""
    model = PathLossModel(p1m_dbm=-59.0, n=2.0, sigma_db=4.0)
    assert model.rssi_at(1.0) == -59.0
    assert model.rssi_at(10.0) == pytest.approx(-79.0)
    assert model.distance_m(-79.0).distance_m == pytest.approx(10.0)


def test_distance_interval_follows_sigma() -> None:
    """The one-sigma interval is RSSI +/- sigma mapped through the model, around the median."""
    model = PathLossModel(p1m_dbm=-60.0, n=2.0, sigma_db=4.0)
    est = model.distance_m(-80.0)
    assert est.low_m == pytest.approx(10 ** ((20 - 4) / 20), rel=1e-3)
    assert est.high_m == pytest.approx(10 ** ((20 + 4) / 20), rel=1e-3)
    wider = model.distance_m(-80.0, confidence=0.95)
    assert wider.low_m < est.low_m < est.distance_m < est.high_m < wider.high_m


@given(model=models, a=st.floats(-120.0, 10.0), b=st.floats(-120.0, 10.0))
def test_distance_never_decreases_as_rssi_falls(model: PathLossModel, a: float, b: float) -> None:
    """A weaker reading never gives a shorter distance (nor a shorter interval end)."""
    weak, strong = min(a, b), max(a, b)
    d_weak, d_strong = model.distance_m(weak), model.distance_m(strong)
    assert d_weak.distance_m >= d_strong.distance_m
    assert d_weak.low_m >= d_strong.low_m
    assert d_weak.high_m >= d_strong.high_m


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"p1m_dbm": -59.0, "n": 9.1}, "'n' must be in [1.0, 6.0] (got 9.1)"),
        ({"p1m_dbm": 30.0, "n": 2.0}, "'p1m_dbm' must be in [-110.0, 10.0] (got 30.0)"),
        (
            {"p1m_dbm": -59.0, "n": 2.0, "sigma_db": 0.0},
            "'sigma_db' must be in (0, 30.0] (got 0.0)",
        ),
        ({"p1m_dbm": -59.0, "n": math.nan}, "'n' must be in [1.0, 6.0] (got nan)"),
    ],
)
def test_impossible_parameters_are_refused(kwargs: dict[str, float], message: str) -> None:
    """Out-of-range parameters fail with the field, the range and the value."""
    with pytest.raises(ValueError, match=re.escape(message)):
        PathLossModel(**kwargs)


def test_fit_recovers_parameters_despite_outliers() -> None:
    """The Huber fit recovers P1m and n from noisy readings with 10 % gross outliers."""
    rng = np.random.default_rng(5)
    d = np.repeat([0.5, 1.0, 2.0, 4.0, 8.0], 200)
    rssi = -62.0 - 10 * 2.4 * np.log10(d) + rng.normal(0, 3.0, d.size)
    bad = rng.random(d.size) < 0.1
    rssi[bad] -= 25.0  # a body in the path: much weaker
    fit = fit_path_loss(d, rssi)
    assert fit.p1m_dbm == pytest.approx(-62.0, abs=1.0)
    assert fit.n == pytest.approx(2.4, abs=0.15)
    assert fit.sigma_db == pytest.approx(3.0, abs=0.6)
    assert fit.weights[bad].mean() < 0.5 < fit.weights[~bad].mean()
    plain = np.polyfit(np.log10(d), rssi, 1)  # ordinary least squares is pulled down
    assert abs(fit.p1m_dbm + 62.0) < abs(plain[1] + 62.0)
    assert fit.residuals_db.shape == d.shape
    assert 0.0 < fit.r2 <= 1.0
    assert fit.model.n == fit.n


def test_fit_refuses_a_single_distance() -> None:
    """Calibration at one distance cannot give an exponent: the error says so."""
    with pytest.raises(ValueError, match="'distances_m' must hold at least 2 distinct values"):
        fit_path_loss([1.0, 1.0, 1.0], [-60.0, -61.0, -59.0])
    with pytest.raises(ValueError, match="'distances_m' must be > 0"):
        fit_path_loss([0.0, 1.0], [-60.0, -61.0])


def test_calibration_offsets_per_sensor_and_device_class() -> None:
    """Sensor and device-class offsets add to P1m; unknown names get 0 dB."""
    cal = Calibration(
        PathLossModel(-60.0, 2.0),
        sensor_offsets_db={"door": 3.0},
        device_class_offsets_db={"iphone": -2.0},
    )
    assert cal.model_for("door", "iphone").p1m_dbm == -59.0
    assert cal.model_for("till").p1m_dbm == -60.0
    assert cal.corrected_rssi(-70.0, "door", "iphone") == -71.0
    with pytest.raises(ValueError, match=r"'sensor_offsets_db\['x'\]' must be in \[-40, 40\] dB"):
        Calibration(PathLossModel(-60.0, 2.0), sensor_offsets_db={"x": 99.0})


def test_fit_on_spachos_known_distances_gives_indoor_parameters() -> None:
    """Real BLE and Wi-Fi readings at known distances give plausible indoor P1m and n."""
    root = shared_data("ble-wifi-rssi-known-distance-spachos")
    line = re.compile(r"^Node ([ABC]):\s*(-?\d+)")
    for env in (1, 2):
        for tech, p1m_range in (("BLE", (-75, -55)), ("WiFi", (-55, -40))):
            d_all: list[float] = []
            r_all: list[float] = []
            for path in sorted((root / "Dataset" / f"Environment{env}" / tech).glob("?D?.txt")):
                side, pos = float(path.name[0]), int(path.name[2])
                rx, ry = {1: (side / 2, 0), 2: (side / 2, side / 2), 3: (2 * side / 3, side / 3)}[
                    pos
                ]
                nodes = {"A": (0.0, 0.0), "B": (side, 0.0), "C": (side, side)}
                for text in path.read_text().splitlines():
                    m = line.match(text.strip())
                    if m:
                        x, y = nodes[m.group(1)]
                        d_all.append(math.hypot(x - rx, y - ry))
                        r_all.append(float(m.group(2)))
            fit = fit_path_loss(d_all, r_all)
            assert p1m_range[0] < fit.p1m_dbm < p1m_range[1], (env, tech, fit.p1m_dbm)
            assert 1.0 <= fit.n <= 3.0, (env, tech, fit.n)
            assert fit.model.distance_m(fit.p1m_dbm).distance_m == pytest.approx(1.0)
