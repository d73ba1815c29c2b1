"""Zone classifiers: from a device's smoothed RSSI per sensor to per-zone probabilities.

Every classifier follows :class:`ZoneClassifier`: ``classify(rssi_dbm, previous)``
takes the device's current smoothed RSSI per sensor (``{sensor_id: dBm}``; a
missing sensor or NaN means "not heard") and the zone it was put in last time
(``None`` at first), and returns a :class:`ZoneEstimate`: probabilities per zone
and the decided ``zone``, which the caller passes back as ``previous`` next time.
That is all the hysteresis state there is, so the classifiers stay immutable.

Probabilities are in [0, 1] and add up to at most 1; the rest is the probability
of being in none of the zones. They already include the hysteresis (the previous
zone is favoured), so a dwell machine that thresholds them sees the same decision.

- :class:`ProximityClassifier` - one sensor, one zone, enter/exit thresholds.
- :class:`StrongestSensorClassifier` - the zone of the strongest sensor, with a margin.
- :class:`TrilaterationClassifier` - weighted least-squares position, then polygons.
- :class:`FingerprintClassifier` - kNN on recorded fingerprints (``fit``/``predict``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt

from positioning.pathloss import Calibration, PathLossModel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Zone:
    """A named floor-plan polygon; vertices ``(x_m, y_m)`` in order, not repeated at the end."""

    name: str
    polygon: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("'name' must be a non-empty zone name (got '')")
        if len(self.polygon) < 3:
            raise ValueError(
                f"'polygon' of zone {self.name!r} must have >= 3 vertices (got {len(self.polygon)})"
            )
        object.__setattr__(self, "polygon", tuple((float(x), float(y)) for x, y in self.polygon))

    def contains(self, x_m: float, y_m: float) -> bool:
        """Whether the point lies inside (boundary points may fall either way)."""
        return bool(self.contains_points(np.array([[x_m, y_m]]))[0])

    def contains_points(self, xy_m: npt.ArrayLike) -> BoolArray:
        """Even-odd ray casting for points of shape ``(n, 2)``."""
        pts = np.asarray(xy_m, dtype=np.float64).reshape(-1, 2)
        x, y = pts[:, 0], pts[:, 1]
        inside = np.zeros(pts.shape[0], dtype=np.bool_)
        vertices = self.polygon
        x2, y2 = vertices[-1]
        for x1, y1 in vertices:
            crosses = (y1 > y) != (y2 > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            inside ^= crosses & (x < x_cross)
            x2, y2 = x1, y1
        return inside


@dataclass(frozen=True, slots=True)
class ZoneEstimate:
    """A classifier's answer for one device at one time."""

    probabilities: Mapping[str, float]
    """Probability per zone; the sum is <= 1, the rest is "in no zone"."""
    zone: str | None
    """The decided zone after hysteresis; pass it back as ``previous``."""

    @property
    def outside_probability(self) -> float:
        return max(0.0, 1.0 - sum(self.probabilities.values()))


@runtime_checkable
class ZoneClassifier(Protocol):
    """Maps a device's smoothed RSSI per sensor to per-zone probabilities."""

    @property
    def zones(self) -> tuple[str, ...]:
        """The zone names this classifier can return."""
        ...

    def classify(self, rssi_dbm: Mapping[str, float], previous: str | None = None) -> ZoneEstimate:
        """Probabilities and the decided zone, given the previous decision."""
        ...


def _heard(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _logistic(x: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)  # overflow-free sigmoid


# -- (a) proximity -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProximityClassifier:
    """One sensor guards one zone: enter at ``enter_dbm``, leave below ``exit_dbm``.

    The probability is a logistic curve of width ``scale_db`` centred on the threshold
    that applies (``exit_dbm`` while inside, ``enter_dbm`` while outside).
    """

    sensor_id: str
    zone: str
    enter_dbm: float = -65.0
    exit_dbm: float = -72.0
    scale_db: float = 2.0

    def __post_init__(self) -> None:
        if not self.exit_dbm < self.enter_dbm:
            raise ValueError(
                f"'exit_dbm' must be below 'enter_dbm' ({self.enter_dbm}) (got {self.exit_dbm})"
            )
        if not self.scale_db > 0:
            raise ValueError(f"'scale_db' must be > 0 (got {self.scale_db})")

    @property
    def zones(self) -> tuple[str, ...]:
        return (self.zone,)

    def classify(self, rssi_dbm: Mapping[str, float], previous: str | None = None) -> ZoneEstimate:
        value = rssi_dbm.get(self.sensor_id)
        rssi = np.array([value if _heard(value) else np.nan])
        p, inside = self.classify_many(rssi, np.array([previous == self.zone]))
        return ZoneEstimate({self.zone: float(p[0])}, self.zone if inside[0] else None)

    def classify_many(
        self, rssi_dbm: npt.ArrayLike, inside: npt.ArrayLike
    ) -> tuple[FloatArray, BoolArray]:
        """Vectorised: RSSI of shape ``(n,)`` (NaN = not heard) and the previous in/out flags.

        Returns the zone probability and the new in/out flags, both ``(n,)``.
        """
        rssi = np.asarray(rssi_dbm, dtype=np.float64)
        was_in = np.asarray(inside, dtype=np.bool_)
        threshold = np.where(was_in, self.exit_dbm, self.enter_dbm)
        heard = np.isfinite(rssi)
        p = np.where(
            heard, _logistic((np.where(heard, rssi, 0.0) - threshold) / self.scale_db), 0.0
        )
        now_in = heard & (rssi >= threshold)
        return p, now_in


# -- (b) strongest sensor ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StrongestSensorClassifier:
    """The zone whose sensor hears the device loudest; another zone must win by ``margin_db``.

    Several sensors may serve one zone (the zone takes its loudest sensor). Sensors
    below ``floor_dbm`` do not count. Probabilities are a softmax of the zones' RSSI
    with temperature ``temperature_db``, the previous zone getting ``margin_db`` extra.
    """

    sensor_zones: Mapping[str, str]
    margin_db: float = 3.0
    floor_dbm: float = -95.0
    temperature_db: float = 3.0
    sensors: tuple[str, ...] = field(init=False)
    """Sensor ids in the column order :meth:`classify_many` expects (sorted)."""
    _zones: tuple[str, ...] = field(init=False)
    _column_zone: IntArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.sensor_zones:
            raise ValueError("'sensor_zones' must map at least one sensor to a zone (got {})")
        if self.margin_db < 0:
            raise ValueError(f"'margin_db' must be >= 0 (got {self.margin_db})")
        if not self.temperature_db > 0:
            raise ValueError(f"'temperature_db' must be > 0 (got {self.temperature_db})")
        mapping = dict(self.sensor_zones)
        object.__setattr__(self, "sensor_zones", MappingProxyType(mapping))
        sensors = tuple(sorted(mapping))
        zones = tuple(sorted(set(mapping.values())))
        object.__setattr__(self, "sensors", sensors)
        object.__setattr__(self, "_zones", zones)
        index = {z: i for i, z in enumerate(zones)}
        object.__setattr__(
            self, "_column_zone", np.array([index[mapping[s]] for s in sensors], dtype=np.intp)
        )

    @classmethod
    def from_fingerprints(
        cls,
        rssi_matrix: npt.ArrayLike,
        zone_labels: Sequence[str] | npt.ArrayLike,
        sensors: Sequence[str],
        **options: float,
    ) -> StrongestSensorClassifier:
        """Learn each sensor's zone: the zone most often recorded where that sensor was loudest.

        Sensors that were never the loudest are left out. ``options`` go to the constructor.
        """
        x = np.asarray(rssi_matrix, dtype=np.float64)
        labels = np.asarray(zone_labels).astype(np.str_)
        if x.ndim != 2 or x.shape != (labels.size, len(sensors)):
            raise ValueError(
                f"'rssi_matrix' must have shape ({labels.size}, {len(sensors)}) (got {x.shape})"
            )
        heard: BoolArray = np.asarray(~np.isnan(x).all(axis=1), dtype=np.bool_)
        loudest = np.nanargmax(np.where(heard[:, None], x, 0.0), axis=1)[heard]
        votes: dict[int, dict[str, int]] = {}
        for column, label in zip(loudest.tolist(), labels[heard].tolist(), strict=True):
            counts = votes.setdefault(column, {})
            counts[label] = counts.get(label, 0) + 1
        mapping = {
            sensors[c]: min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
            for c, counts in votes.items()
        }
        return cls(mapping, **options)

    @property
    def zones(self) -> tuple[str, ...]:
        return self._zones

    def classify(self, rssi_dbm: Mapping[str, float], previous: str | None = None) -> ZoneEstimate:
        row = np.array(
            [[v if _heard(v := rssi_dbm.get(s)) else np.nan for s in self.sensors]],
            dtype=np.float64,
        )
        prev = np.array([self._zones.index(previous) if previous in self._zones else -1])
        proba, zone_idx = self.classify_many(row, prev)
        if zone_idx[0] < 0:
            return ZoneEstimate({}, None)
        probabilities = {z: float(proba[0, i]) for i, z in enumerate(self._zones)}
        return ZoneEstimate(probabilities, self._zones[zone_idx[0]])

    def classify_many(
        self, rssi_dbm: npt.ArrayLike, previous: npt.ArrayLike
    ) -> tuple[FloatArray, IntArray]:
        """Vectorised: RSSI ``(n, len(sensors))`` (NaN = not heard), previous zone index ``(n,)``.

        Zone indices refer to :attr:`zones`; -1 is "no zone". Returns probabilities
        ``(n, len(zones))`` and the decided zone index ``(n,)``.
        """
        rssi = np.asarray(rssi_dbm, dtype=np.float64)
        prev = np.asarray(previous, dtype=np.intp)
        n, n_zones = rssi.shape[0], len(self._zones)
        if rssi.ndim != 2 or rssi.shape[1] != len(self.sensors):
            raise ValueError(
                f"'rssi_dbm' must have shape (n, {len(self.sensors)}) (got {rssi.shape})"
            )
        usable = np.where(rssi >= self.floor_dbm, rssi, -np.inf)  # NaN compares False
        zone_rssi = np.full((n, n_zones), -np.inf)
        for z in range(n_zones):
            zone_rssi[:, z] = usable[:, self._column_zone == z].max(axis=1)
        bonus = np.zeros((n, n_zones))
        has_prev = prev >= 0
        bonus[np.flatnonzero(has_prev), prev[has_prev]] = self.margin_db
        score = zone_rssi + bonus
        any_heard = np.isfinite(zone_rssi).any(axis=1)
        best = np.where(any_heard, score.argmax(axis=1), -1)
        # a previous zone that is no longer heard keeps no bonus: score is -inf there
        top = np.where(any_heard, score.max(axis=1), 0.0)
        with np.errstate(invalid="ignore"):
            weights = np.where(
                np.isfinite(score), np.exp((score - top[:, None]) / self.temperature_db), 0.0
            )
        total = weights.sum(axis=1, keepdims=True)
        proba = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
        return proba, best.astype(np.intp)


# -- (c) trilateration -------------------------------------------------------------------------

# Equal-probability points of a standard 2-D Gaussian, for integrating the position's density
# over the zone polygons deterministically: 16 rings at the radius quantiles of the Rayleigh
# distribution, 16 angles each (staggered ring to ring), every point weighing 1/256.
_RINGS, _SPOKES = 16, 16
_RADII = np.sqrt(-2.0 * np.log(1.0 - (np.arange(_RINGS) + 0.5) / _RINGS))
_ANGLES = (
    2.0 * np.pi * (np.arange(_SPOKES)[None, :] + 0.5 * (np.arange(_RINGS)[:, None] % 2)) / _SPOKES
)
_GRID = np.stack(
    [(_RADII[:, None] * np.cos(_ANGLES)).ravel(), (_RADII[:, None] * np.sin(_ANGLES)).ravel()],
    axis=1,
)
_GRID_W = np.full(_GRID.shape[0], 1.0 / _GRID.shape[0])


@dataclass(frozen=True, slots=True)
class Position:
    """A weighted least-squares position with its covariance (m²)."""

    x_m: float
    y_m: float
    covariance_m2: tuple[tuple[float, float], tuple[float, float]]
    sensors_used: int


@dataclass(frozen=True, slots=True)
class TrilaterationClassifier:
    """Position by weighted least squares on path-loss distances, then point-in-polygon.

    Each heard sensor gives a distance ``d_i`` from its (offset-corrected) path-loss
    model, with standard deviation ``d_i * ln(10) * sigma_db / (10 n)`` (log-normal,
    first order). The position minimises ``sum w_i (|p - s_i| - d_i)²``, ``w_i = 1/sd_i²``,
    plus a weak Gaussian prior (``prior_sigma_m``) at the weighted centroid of the
    sensors so one or two sensors still give an answer, with a wide covariance.
    Zone probabilities integrate the position's Gaussian over each polygon.
    """

    sensor_positions_m: Mapping[str, tuple[float, float]]
    calibration: Calibration | PathLossModel
    zone_list: tuple[Zone, ...]
    enter_probability: float = 0.5
    exit_probability: float = 0.3
    prior_sigma_m: float = 10.0
    device_class: str | None = None

    def __post_init__(self) -> None:
        if not self.sensor_positions_m:
            raise ValueError("'sensor_positions_m' must place at least one sensor (got {})")
        if not 0.0 <= self.exit_probability <= self.enter_probability <= 1.0:
            raise ValueError(
                "'exit_probability' must be in [0, enter_probability] "
                f"({self.enter_probability}) (got {self.exit_probability})"
            )
        if not self.prior_sigma_m > 0:
            raise ValueError(f"'prior_sigma_m' must be > 0 (got {self.prior_sigma_m})")
        names = [z.name for z in self.zone_list]
        if len(set(names)) != len(names):
            raise ValueError(f"'zone_list' names must be unique (got {names})")
        object.__setattr__(self, "zone_list", tuple(self.zone_list))
        object.__setattr__(
            self,
            "sensor_positions_m",
            MappingProxyType(
                {k: (float(x), float(y)) for k, (x, y) in self.sensor_positions_m.items()}
            ),
        )

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(z.name for z in self.zone_list)

    def _model(self, sensor_id: str) -> PathLossModel:
        if isinstance(self.calibration, PathLossModel):
            return self.calibration
        return self.calibration.model_for(sensor_id, self.device_class)

    def locate(self, rssi_dbm: Mapping[str, float], iterations: int = 20) -> Position | None:
        """The WLS position from the sensors that heard the device; ``None`` if none did."""
        heard = [(s, v) for s, v in rssi_dbm.items() if s in self.sensor_positions_m and _heard(v)]
        if not heard:
            return None
        pos = np.array([self.sensor_positions_m[s] for s, _ in heard])
        dist = np.empty(len(heard))
        sd = np.empty(len(heard))
        for i, (s, v) in enumerate(heard):
            model = self._model(s)
            dist[i] = float(model.distances_m(v))
            # d(log d) = ln(10) * sigma/(10n): first-order std of a log-normal distance
            sd[i] = max(dist[i] * math.log(10.0) * model.log10_distance_sigma, 0.1)
        w = 1.0 / sd**2
        prior = (w[:, None] * pos).sum(axis=0) / w.sum()  # weighted centroid
        prior_info = np.eye(2) / self.prior_sigma_m**2
        p = prior.copy()
        info = prior_info
        for _ in range(iterations):
            delta = p - pos
            rng = np.hypot(delta[:, 0], delta[:, 1])
            rng = np.maximum(rng, 1e-6)
            jac = delta / rng[:, None]  # d|p - s_i| / dp
            resid = rng - dist  # r_i = |p - s_i| - d_i
            info = jac.T @ (w[:, None] * jac) + prior_info  # J'WJ + prior
            grad = jac.T @ (w * resid) + prior_info @ (p - prior)  # J'W r + prior pull
            step = np.linalg.solve(info, grad)  # Gauss-Newton: (J'WJ) dp = -J'W r
            p = p - step
            if float(np.hypot(step[0], step[1])) < 1e-6:
                break
        cov = np.linalg.inv(info)
        return Position(
            x_m=float(p[0]),
            y_m=float(p[1]),
            covariance_m2=(
                (float(cov[0, 0]), float(cov[0, 1])),
                (float(cov[1, 0]), float(cov[1, 1])),
            ),
            sensors_used=len(heard),
        )

    def zone_probabilities(self, position: Position) -> dict[str, float]:
        """Probability mass of the position's Gaussian in each zone (256 equal-weight points)."""
        cov = np.array(position.covariance_m2)
        chol = np.linalg.cholesky(cov + 1e-12 * np.eye(2))
        points = np.array([position.x_m, position.y_m]) + _GRID @ chol.T
        return {z.name: float(_GRID_W[z.contains_points(points)].sum()) for z in self.zone_list}

    def classify(self, rssi_dbm: Mapping[str, float], previous: str | None = None) -> ZoneEstimate:
        position = self.locate(rssi_dbm)
        if position is None:
            return ZoneEstimate({z: 0.0 for z in self.zones}, None)
        probabilities = self.zone_probabilities(position)
        if previous in probabilities and probabilities[previous] >= self.exit_probability:
            return ZoneEstimate(probabilities, previous)
        best = max(self.zones, key=lambda z: (probabilities[z], z)) if self.zones else None
        if best is not None and probabilities[best] >= self.enter_probability:
            return ZoneEstimate(probabilities, best)
        return ZoneEstimate(probabilities, None)


# -- (d) fingerprint kNN -----------------------------------------------------------------------


_DIST_BUDGET = 4_000_000  # floats per distance block: 32 MB, fine on a Pi 3


class FingerprintClassifier:
    """k-nearest-neighbour zones from recorded RSSI fingerprints, NaN-aware.

    ``rssi_matrix`` rows are samples, columns are sensors/beacons/APs, values in dBm,
    NaN where a reading is missing. Each reading is mapped to a non-negative feature
    ``exp((rssi - missing_dbm) / scale_db) - 1`` (0 for missing or below ``missing_dbm``):
    the exponential representation of Torres-Sospedra et al. (2015), so an AP heard
    loudly at one place and not at the other weighs a lot, and a weak AP that comes
    and goes weighs little. Distances are Manhattan (city block) in that space;
    the ``k`` nearest samples vote with weight ``1 / (distance + eps)``.

    Shaped like scikit-learn: ``fit(X, y)`` -> self, ``predict(X)``, ``predict_proba(X)``
    with columns in ``classes_`` order. It also implements :class:`ZoneClassifier`
    when built with ``sensors`` (the column names).
    """

    def __init__(
        self,
        k: int = 5,
        *,
        missing_dbm: float = -100.0,
        scale_db: float = 24.0,
        sensors: Sequence[str] | None = None,
        switch_margin: float = 0.0,
    ) -> None:
        if k < 1:
            raise ValueError(f"'k' must be >= 1 (got {k})")
        if not -150.0 <= missing_dbm <= -30.0:
            raise ValueError(f"'missing_dbm' must be in [-150, -30] (got {missing_dbm})")
        if not scale_db > 0:
            raise ValueError(f"'scale_db' must be > 0 (got {scale_db})")
        if not 0.0 <= switch_margin < 1.0:
            raise ValueError(f"'switch_margin' must be in [0, 1) (got {switch_margin})")
        self.k = k
        self.missing_dbm = missing_dbm
        self.scale_db = scale_db
        self.sensors = None if sensors is None else tuple(sensors)
        self.switch_margin = switch_margin
        self.classes_: npt.NDArray[np.str_] = np.array([], dtype=np.str_)
        self._features: FloatArray | None = None
        self._labels: IntArray | None = None

    def _represent(self, rssi_matrix: npt.ArrayLike, name: str) -> FloatArray:
        x = np.asarray(rssi_matrix, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"'{name}' must be 2-D (samples, sensors) (got shape {x.shape})")
        if self.sensors is not None and x.shape[1] != len(self.sensors):
            raise ValueError(
                f"'{name}' must have {len(self.sensors)} columns, one per sensor (got {x.shape[1]})"
            )
        above = np.where(np.isnan(x), 0.0, np.maximum(x - self.missing_dbm, 0.0))
        return np.expm1(above / self.scale_db)

    def fit(self, rssi_matrix: npt.ArrayLike, zone_labels: Sequence[str] | npt.ArrayLike) -> Self:
        """Remember the fingerprints; ``zone_labels`` has one label per row."""
        features = self._represent(rssi_matrix, "rssi_matrix")
        labels = np.asarray(zone_labels).astype(np.str_)
        if labels.shape != (features.shape[0],):
            raise ValueError(
                f"'zone_labels' must hold one label per row ({features.shape[0]}) "
                f"(got shape {labels.shape})"
            )
        if features.shape[0] == 0:
            raise ValueError("'rssi_matrix' must hold at least one fingerprint (got 0 rows)")
        self.classes_, inverse = np.unique(labels, return_inverse=True)
        self._features = features
        self._labels = inverse.astype(np.intp)
        return self

    def predict_proba(self, rssi_matrix: npt.ArrayLike) -> FloatArray:
        """Distance-weighted vote shares of the ``k`` nearest fingerprints, ``(n, n_classes)``."""
        if self._features is None or self._labels is None:
            raise ValueError("FingerprintClassifier must be fitted before predicting (call fit)")
        query = self._represent(rssi_matrix, "rssi_matrix")
        if query.shape[1] != self._features.shape[1]:
            raise ValueError(
                f"'rssi_matrix' must have {self._features.shape[1]} columns like the training "
                f"data (got {query.shape[1]})"
            )
        # columns no fingerprint and no query ever heard add 0 to every distance: drop them
        used = self._features.any(axis=0) | query.any(axis=0)
        train, query = self._features[:, used], query[:, used]
        n, n_train = query.shape[0], train.shape[0]
        k = min(self.k, n_train)
        proba = np.zeros((n, self.classes_.size))
        # bounded memory: about _DIST_BUDGET floats for the (rows, n_train, columns) differences
        rows_per_block = max(1, _DIST_BUDGET // max(1, n_train * train.shape[1]))
        for start in range(0, n, rows_per_block):
            q = query[start : start + rows_per_block]
            dist = np.abs(q[:, None, :] - train[None, :, :]).sum(axis=2)  # Manhattan
            if k < n_train:
                nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
            else:
                nearest = np.broadcast_to(np.arange(n_train), dist.shape)
            weight = 1.0 / (np.take_along_axis(dist, nearest, axis=1) + 1e-9)
            rows = np.repeat(np.arange(q.shape[0]), k) + start
            np.add.at(proba, (rows, self._labels[nearest].ravel()), weight.ravel())
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, rssi_matrix: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """The most voted zone per row (ties: the first in ``classes_``)."""
        labels: npt.NDArray[np.str_] = self.classes_[self.predict_proba(rssi_matrix).argmax(axis=1)]
        return labels

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.classes_)

    def classify(self, rssi_dbm: Mapping[str, float], previous: str | None = None) -> ZoneEstimate:
        """One device: ``rssi_dbm`` by sensor name (needs ``sensors`` at construction)."""
        if self.sensors is None:
            raise ValueError("'sensors' must be given to FingerprintClassifier to classify by name")
        row = np.array([[v if _heard(v := rssi_dbm.get(s)) else np.nan for s in self.sensors]])
        if np.isnan(row).all():
            return ZoneEstimate({z: 0.0 for z in self.zones}, None)
        proba = self.predict_proba(row)[0]
        probabilities = {str(c): float(p) for c, p in zip(self.classes_, proba, strict=True)}
        best = str(self.classes_[int(proba.argmax())])
        if (
            previous in probabilities
            and probabilities[previous] + self.switch_margin >= proba.max()
        ):
            best = previous
        return ZoneEstimate(probabilities, best)
