"""Log-distance path loss: RSSI <-> distance, its robust fit, and calibration offsets.

The model::

    RSSI(d) = P1m - 10 * n * log10(d / 1 m) + X,   X ~ Normal(0, sigma_db²)

so ``d = 10 ** ((P1m - RSSI) / (10 n))``. Because the noise is Gaussian in dB, the
distance is log-normal: an interval of RSSI ± z·sigma maps to a multiplicative
interval around ``d``.

The fit regresses RSSI on ``log10(d)`` with the Huber loss (iteratively reweighted
least squares, ``k = 1.345`` robust sigmas, scale from the median absolute
deviation). Huber rather than Theil-Sen: calibration walks give many readings at
a few distances, and Theil-Sen's pairwise slopes are undefined between readings
at the same distance (most pairs), while Huber keeps every reading and only
down-weights the outliers (a body in the path, a reflection).

Bounds (checked on :class:`PathLossModel`): ``n`` in [1.0, 6.0] - indoor
corridors and line-of-sight rooms guide the signal and give n below free space's
2.0 (1.1 measured on the Spachos BLE office data), dense shelving and bodies give
4-6; ``P1m`` in [-110, 10] dBm; ``sigma_db`` in (0, 30].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

N_MIN, N_MAX = 1.0, 6.0
P1M_MIN_DBM, P1M_MAX_DBM = -110.0, 10.0
SIGMA_MAX_DB = 30.0
HUBER_K = 1.345  # 95 % efficiency at the Gaussian, the textbook choice
MAD_TO_SIGMA = 1.4826  # MAD of a Gaussian times this is its standard deviation


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high):  # also refuses NaN
        raise ValueError(f"'{name}' must be in [{low}, {high}] (got {value})")


@dataclass(frozen=True, slots=True)
class DistanceEstimate:
    """A distance with the interval the RSSI noise allows."""

    distance_m: float
    """Median distance in metres (the log-normal's median)."""
    low_m: float
    """Lower end of the interval, metres."""
    high_m: float
    """Upper end of the interval, metres."""
    confidence: float
    """Probability mass of ``[low_m, high_m]`` under the model."""


@dataclass(frozen=True, slots=True)
class PathLossModel:
    """Log-distance path loss with the power at 1 m, the exponent and the shadowing noise."""

    p1m_dbm: float
    """RSSI at 1 m, dBm."""
    n: float
    """Path-loss exponent (2.0 in free space)."""
    sigma_db: float = 4.0
    """Standard deviation of RSSI around the model (shadowing, multipath), dB."""

    def __post_init__(self) -> None:
        _check_range("p1m_dbm", self.p1m_dbm, P1M_MIN_DBM, P1M_MAX_DBM)
        _check_range("n", self.n, N_MIN, N_MAX)
        if not (0.0 < self.sigma_db <= SIGMA_MAX_DB):
            raise ValueError(f"'sigma_db' must be in (0, {SIGMA_MAX_DB}] (got {self.sigma_db})")

    def rssi_at(self, distance_m: float) -> float:
        """Expected RSSI (dBm) at ``distance_m`` metres."""
        if not distance_m > 0:
            raise ValueError(f"'distance_m' must be > 0 (got {distance_m})")
        return self.p1m_dbm - 10.0 * self.n * math.log10(distance_m)

    def distance_m(self, rssi_dbm: float, confidence: float = 0.6827) -> DistanceEstimate:
        """Distance for one RSSI reading with the ``confidence`` interval (default ±1 sigma)."""
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"'confidence' must be in (0, 1) (got {confidence})")
        if not math.isfinite(rssi_dbm):
            raise ValueError(f"'rssi_dbm' must be finite (got {rssi_dbm})")
        z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
        scale = 10.0 * self.n
        return DistanceEstimate(
            distance_m=10.0 ** ((self.p1m_dbm - rssi_dbm) / scale),
            low_m=10.0 ** ((self.p1m_dbm - rssi_dbm - z * self.sigma_db) / scale),
            high_m=10.0 ** ((self.p1m_dbm - rssi_dbm + z * self.sigma_db) / scale),
            confidence=confidence,
        )

    def distances_m(self, rssi_dbm: npt.ArrayLike) -> FloatArray:
        """Median distances for an array of RSSI readings (NaN stays NaN)."""
        rssi = np.asarray(rssi_dbm, dtype=np.float64)
        return np.power(10.0, (self.p1m_dbm - rssi) / (10.0 * self.n))

    @property
    def log10_distance_sigma(self) -> float:
        """Standard deviation of ``log10(d)`` implied by ``sigma_db``: ``sigma / (10 n)``."""
        return self.sigma_db / (10.0 * self.n)

    def shifted(self, offset_db: float) -> PathLossModel:
        """The same model with ``offset_db`` added to the power at 1 m."""
        return PathLossModel(self.p1m_dbm + offset_db, self.n, self.sigma_db)


@dataclass(frozen=True, slots=True)
class PathLossFit:
    """The result of :func:`fit_path_loss`: parameters, residuals and goodness of fit."""

    p1m_dbm: float
    n: float
    sigma_db: float
    """Robust standard deviation of the residuals (MAD x 1.4826), dB."""
    residuals_db: FloatArray
    """Measured minus fitted RSSI per sample, dB, in input order."""
    rmse_db: float
    r2: float
    """Coefficient of determination of the fitted line (1 - SS_res / SS_tot)."""
    weights: FloatArray
    """Final Huber weights per sample (1 = inlier, < 1 = down-weighted)."""

    @property
    def model(self) -> PathLossModel:
        """The fit as a :class:`PathLossModel`; raises if the fitted values are out of bounds."""
        return PathLossModel(self.p1m_dbm, self.n, max(self.sigma_db, 1e-6))


def fit_path_loss(
    distances_m: npt.ArrayLike, rssi_dbm: npt.ArrayLike, *, max_iter: int = 50
) -> PathLossFit:
    """Fit ``RSSI = P1m - 10 n log10(d)`` with the Huber loss by IRLS.

    ``distances_m`` and ``rssi_dbm`` are 1-D of the same length, at least two distinct
    distances. Non-finite pairs are refused (clean the calibration data first).
    """
    d = np.asarray(distances_m, dtype=np.float64)
    y = np.asarray(rssi_dbm, dtype=np.float64)
    if d.ndim != 1 or d.shape != y.shape:
        raise ValueError(
            f"'distances_m' and 'rssi_dbm' must be 1-D of equal length (got {d.shape}, {y.shape})"
        )
    if not (np.isfinite(d).all() and np.isfinite(y).all()):
        raise ValueError("'distances_m' and 'rssi_dbm' must be finite (got NaN or infinity)")
    if (d <= 0).any():
        raise ValueError(f"'distances_m' must be > 0 (got {float(d.min())})")
    if np.unique(d).size < 2:
        raise ValueError(f"'distances_m' must hold at least 2 distinct values (got {np.unique(d)})")
    x = np.log10(d)
    design = np.column_stack([np.ones_like(x), x])
    weights = np.ones_like(y)
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    scale = 0.0
    for _ in range(max_iter):
        resid = y - design @ coef
        scale = MAD_TO_SIGMA * float(np.median(np.abs(resid - np.median(resid))))
        if scale <= 1e-12:
            break
        u = np.abs(resid) / (HUBER_K * scale)
        weights = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1e-300))
        sw = np.sqrt(weights)
        new = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)[0]
        converged = bool(np.allclose(new, coef, rtol=0, atol=1e-10))
        coef = new
        if converged:
            break
    resid = y - design @ coef
    ss_res = float(resid @ resid)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return PathLossFit(
        p1m_dbm=float(coef[0]),
        n=float(-coef[1] / 10.0),
        sigma_db=MAD_TO_SIGMA * float(np.median(np.abs(resid - np.median(resid)))),
        residuals_db=resid,
        rmse_db=math.sqrt(ss_res / y.size),
        r2=1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0,
        weights=weights,
    )


@dataclass(frozen=True, slots=True)
class Calibration:
    """A site's path-loss model plus additive offsets per sensor and per device class.

    An offset is how many dB a sensor (antenna, enclosure) or a class of device (an
    iPhone's radio vs a loyalty tag) reads above the site model: the effective power
    at 1 m is ``P1m + sensor_offset + class_offset``. Unknown names get 0 dB.
    """

    model: PathLossModel
    sensor_offsets_db: Mapping[str, float] = field(default_factory=dict)
    device_class_offsets_db: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, offsets in (
            ("sensor_offsets_db", self.sensor_offsets_db),
            ("device_class_offsets_db", self.device_class_offsets_db),
        ):
            for key, value in offsets.items():
                if not (math.isfinite(value) and abs(value) <= 40.0):
                    raise ValueError(f"'{name}[{key!r}]' must be in [-40, 40] dB (got {value})")
            object.__setattr__(self, name, MappingProxyType(dict(offsets)))

    def offset_db(self, sensor_id: str, device_class: str | None = None) -> float:
        """Total offset for a reading of a ``device_class`` device by ``sensor_id``."""
        cls = 0.0 if device_class is None else self.device_class_offsets_db.get(device_class, 0.0)
        return self.sensor_offsets_db.get(sensor_id, 0.0) + cls

    def model_for(self, sensor_id: str, device_class: str | None = None) -> PathLossModel:
        """The path-loss model that applies to one sensor and device class."""
        return self.model.shifted(self.offset_db(sensor_id, device_class))

    def corrected_rssi(
        self, rssi_dbm: float, sensor_id: str, device_class: str | None = None
    ) -> float:
        """``rssi_dbm`` mapped onto the site model (offsets removed)."""
        return rssi_dbm - self.offset_db(sensor_id, device_class)
