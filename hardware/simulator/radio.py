"""The radio channel: log-distance path loss, shadowing, fast fading, body loss, sensitivity.

For a phone at ``(x, y)`` (carried at 1 m height) heard by a sensor at distance ``d``
(3-D, metres)::

    rssi_dbm = P1m + offset_device - 10 n log10(d / 1 m)     (log-distance path loss)
               - (1 - P_los(d)) L_nlos                       (obstructed links lose more)
               + sigma(d) S_sensor(x, y)                     (log-normal shadowing: a smooth
                                                              unit random field per sensor,
                                                              sigma blends LOS and NLOS by P_los)
               - L_body * (1 - cos(phi)) / 2                 (the carrier's body: 0 dB facing the
                                                              sensor, L_body with the back to it)
               - L_wall  if the phone is outside the store   (the shop front)
               + F                                           (fast fading: Rician amplitude in dB)

and the sensor hears the frame when ``rssi_dbm >= sensitivity`` and a capture draw
(scan duty cycle, channel) succeeds. Values are rounded to whole dBm, as scanners report.

The shadowing field ``S`` is spatially correlated: a sum of random Fourier features
approximating a Gaussian process with a squared-exponential kernel of length
``shadowing_corr_m``, so two nearby points see similar shadowing and a person who
stands still sees a constant bias (a slow, per-link error no filter averages away).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hardware.simulator.floorplan import FloorPlan, distance_3d_m

FloatArray = npt.NDArray[np.float64]

_FEATURES = 64
"""Random Fourier features per sensor field: enough for a smooth, Gaussian-looking field."""


@dataclass(frozen=True, slots=True)
class RadioModel:
    """Channel parameters for one environment (defaults: an open-plan shop floor)."""

    ble_p1m_dbm: float = -59.0
    """BLE received power at 1 m (the iBeacon 'measured power' convention)."""
    wifi_p1m_dbm: float = -41.0
    """Wi-Fi probe request received power at 1 m (phones transmit ~15 dBm)."""
    device_offset_sigma_db: float = 2.0
    """Per-phone transmit-power spread (model, case, battery saver)."""
    path_loss_exponent: float = 2.2
    """``n`` inside the store (2 = free space; 2-3 for open retail floors)."""
    shadowing_sigma_db: float = 4.0
    """Standard deviation of the shadowing field on a non-line-of-sight link."""
    los_shadowing_sigma_db: float = 2.0
    """...and on a line-of-sight link (the blend follows the LOS probability)."""
    nlos_excess_loss_db: float = 6.0
    """Extra mean loss of a non-line-of-sight link (shelves, people, fixtures)."""
    shadowing_corr_m: float = 2.5
    """Correlation length of the shadowing field."""
    body_loss_db: float = 5.0
    """Loss when the carrier's back faces the sensor."""
    wall_loss_db: float = 8.0
    """Extra loss through the shop front for phones on the sidewalk."""
    rician_k: float = 4.0
    """Rician K factor of fast fading (line of sight power / scattered power)."""
    ble_sensitivity_dbm: float = -95.0
    wifi_sensitivity_dbm: float = -90.0
    ble_capture_probability: float = 0.7
    """Chance a scanner catches one advert it could hear (scan window, 3 advertising channels)."""
    wifi_capture_probability: float = 0.9
    """Chance the monitor radio catches a frame on its channel it could hear."""

    def __post_init__(self) -> None:
        if not 1.6 <= self.path_loss_exponent <= 6.0:
            raise ValueError(
                f"'path_loss_exponent' must be in [1.6, 6.0] (got {self.path_loss_exponent})"
            )
        for name in ("ble_capture_probability", "wifi_capture_probability"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name!r} must be in (0, 1] (got {value})")
        for name in (
            "shadowing_sigma_db",
            "los_shadowing_sigma_db",
            "nlos_excess_loss_db",
            "body_loss_db",
            "wall_loss_db",
            "rician_k",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name!r} must be >= 0 (got {getattr(self, name)})")
        if self.shadowing_corr_m <= 0:
            raise ValueError(f"'shadowing_corr_m' must be > 0 (got {self.shadowing_corr_m})")


def los_probability(distance_m: FloatArray) -> FloatArray:
    """Line-of-sight probability over distance, 3GPP TR 38.901 indoor (mixed office) form."""
    d = np.asarray(distance_m, dtype=np.float64)
    near = np.exp(-(d - 1.2) / 4.7)
    far = 0.32 * np.exp(-(d - 6.5) / 32.6)
    p = np.where(d <= 1.2, 1.0, np.where(d < 6.5, near, far))
    return np.asarray(p, dtype=np.float64)


class Channel:
    """The channel between phones and every sensor of one floor plan, for one seed."""

    def __init__(self, plan: FloorPlan, model: RadioModel, rng: np.random.Generator) -> None:
        self.plan = plan
        self.model = model
        n = len(plan.sensors)
        # S(p) = sigma * sqrt(2/K) * sum_k cos(w_k . p + b_k), w_k ~ N(0, 1/l^2): a GP sample
        self._w = rng.normal(0.0, 1.0 / model.shadowing_corr_m, size=(n, _FEATURES, 2))
        self._b = rng.uniform(0.0, 2 * np.pi, size=(n, _FEATURES))
        self._sensor_xy = np.array([[s.x_m, s.y_m] for s in plan.sensors])

    def shadowing_db(self, sensor_idx: int, xs_m: FloatArray, ys_m: FloatArray) -> FloatArray:
        """The unit-variance shadowing field of one sensor at the given points (mean 0)."""
        w = self._w[sensor_idx]
        phase = np.outer(xs_m, w[:, 0]) + np.outer(ys_m, w[:, 1]) + self._b[sensor_idx]
        return np.asarray(np.sqrt(2.0 / _FEATURES) * np.cos(phase).sum(axis=1), dtype=np.float64)

    def mean_rssi_dbm(
        self,
        sensor_idx: int,
        xs_m: FloatArray,
        ys_m: FloatArray,
        facing_rad: FloatArray,
        p1m_dbm: float,
    ) -> FloatArray:
        """RSSI without fast fading: path loss, shadowing, body and wall loss (dBm)."""
        m = self.model
        sensor = self.plan.sensors[sensor_idx]
        d = np.maximum(distance_3d_m(xs_m, ys_m, sensor), 0.5)
        p_los = los_probability(d)
        sigma = m.los_shadowing_sigma_db * p_los + m.shadowing_sigma_db * (1.0 - p_los)
        rssi = p1m_dbm - 10.0 * m.path_loss_exponent * np.log10(d)
        rssi = rssi - m.nlos_excess_loss_db * (1.0 - p_los)
        rssi = rssi + sigma * self.shadowing_db(sensor_idx, xs_m, ys_m)
        to_sensor = np.arctan2(sensor.y_m - ys_m, sensor.x_m - xs_m)
        rssi = rssi - m.body_loss_db * (1.0 - np.cos(to_sensor - facing_rad)) / 2.0
        outside = ~self.plan.inside_store(xs_m, ys_m)
        return np.asarray(np.where(outside, rssi - m.wall_loss_db, rssi), dtype=np.float64)

    def fading_db(self, rng: np.random.Generator, size: int) -> FloatArray:
        """Rician fast fading in dB, normalised to unit mean power."""
        k = self.model.rician_k
        los = np.sqrt(k / (k + 1.0))
        scatter = np.sqrt(1.0 / (2.0 * (k + 1.0)))
        re = los + scatter * rng.standard_normal(size)
        im = scatter * rng.standard_normal(size)
        return np.asarray(10.0 * np.log10(np.maximum(re * re + im * im, 1e-6)), dtype=np.float64)
