"""A grid Bayes filter over surveyed spots: track where a device stands, then its zone.

A site survey whose fingerprints carry the spot they were recorded on (``x_m``, ``y_m``:
the technician stands on marked reference points) gives a map from position to expected
RSSI. :class:`GridFilter` keeps, per device, a probability over those spots and moves it
forward at every classification:

* **predict** (``dt`` seconds since the last step): the device stays put, or with
  probability ``1 - exp(-move_rate_per_s * dt)`` moves to a spot drawn from a Gaussian
  around where it was, of standard deviation ``speed_mps * dt`` (walking pace); a small
  ``uniform_share`` of the mass is spread over every spot so a wrong belief can recover;
* **update**: multiply by the likelihood of the device's smoothed RSSI vector at each
  spot: Gaussian in dB, ``sigma_db`` per sensor, with the phone's unknown transmit offset
  (the same dB on every sensor, standard deviation ``offset_db``) integrated out;
  readings and fingerprint values below ``floor_dbm`` or missing count as ``floor_dbm``;
  a spot surveyed with several facings takes the mean likelihood over them (the carrier's
  body is between the phone and some sensors). The log-likelihood is weighted by
  ``likelihood_weight``: the smoothed readings of successive seconds are correlated.

Zone probabilities are the posterior mass of each zone's spots; :meth:`GridFilter.decide`
keeps the held zone unless another zone's mass beats it by ``switch_margin``. Because the
belief integrates over time and knows which spots are next to which, that margin is half
the kNN's (:class:`~positioning.zones.FingerprintClassifier`).

The filter object is immutable after :meth:`~GridFilter.fit`; the per-device state is a
``(spots,)`` float32 array the caller keeps (the tracker keeps it with the device and
drops it when the device is evicted). Everything is vectorised over devices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_DT_STEP_S = 0.25
"""Transition matrices are cached per ``dt`` rounded to this."""
_DT_MAX_S = 60.0
"""...and ``dt`` is capped here (a belief that old is reset anyway)."""
_CACHED_TRANSITIONS = 8
"""At most this many ``(spots, spots)`` matrices are kept (600 spots: 2.9 MB each); steps
are about a second apart, so the few ``dt`` around it are nearly always cached."""
_LIKELIHOOD_BUDGET = 4_000_000
"""Floats per block of the (devices, fingerprints, sensors) residuals: 32 MB."""


@dataclass(frozen=True, slots=True)
class GridFilterTuning:
    """Settings of :class:`GridFilter`, tuned on the simulated store (docs/evaluation.md)."""

    sigma_db: float = 4.0
    """Spread of one sensor's smoothed RSSI around the spot's fingerprint (dB)."""
    offset_db: float = 4.0
    """Spread of a phone's transmit offset, common to every sensor, integrated out (dB)."""
    likelihood_weight: float = 2.0
    """Exponent on the likelihood of one step (smoothed readings are correlated in time)."""
    floor_dbm: float = -95.0
    """Readings and fingerprints below this, or missing, count as this (a BLE scanner's
    sensitivity)."""
    move_rate_per_s: float = 1.0
    """Rate of "the device moved": it moves within ``dt`` with ``1 - exp(-rate dt)``."""
    speed_mps: float = 1.2
    """Walking pace: a move over ``dt`` is Gaussian of standard deviation ``speed * dt``."""
    uniform_share: float = 0.01
    """Share of the mass spread over every spot at each step (a wrong belief recovers)."""
    reset_after_s: float = 30.0
    """A device unclassified for longer starts again from the uniform belief."""
    switch_margin: float = 0.3
    """Another zone's mass must beat the held zone's by this much (hysteresis)."""
    min_probability: float = 0.3
    """The dwell machine's support threshold for the zone masses."""
    backdate_mass: float = 0.2
    """A zone change is stamped where the new zone's mass last rose to this and stayed
    (see :class:`~positioning.tracker.PresenceTracker`): the margin and the belief's
    inertia are decision delays, not evidence about when the shopper crossed."""
    backdate_max_s: float = 30.0
    """...at most this long before the classification that named the zone."""
    rssi_process_noise_dbm2_per_s: float = 48.0
    """Kalman process noise of the signal's RSSI filters on this path (the tracker's default
    is 16): this filter is itself a temporal filter, double smoothing adds lag."""
    confirm_switch_s: float = 15.0
    """The dwell machine's confirmation to switch from a held zone (entering from none
    keeps the tracker's); back-dated changes make it cost no zone time."""
    confirm_switch_min_samples: int = 10
    """...and the classifications it needs."""

    def __post_init__(self) -> None:
        for name in (
            "sigma_db",
            "likelihood_weight",
            "speed_mps",
            "reset_after_s",
            "rssi_process_noise_dbm2_per_s",
        ):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name!r} must be a number > 0 (got {getattr(self, name)!r})")
        for name in ("offset_db", "move_rate_per_s", "backdate_max_s", "confirm_switch_s"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name!r} must be a number >= 0 (got {getattr(self, name)!r})")
        for name in ("uniform_share", "switch_margin", "min_probability", "backdate_mass"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name!r} must be in [0, 1) (got {getattr(self, name)!r})")
        if not 1 <= self.confirm_switch_min_samples <= 1000:
            raise ValueError(
                "'confirm_switch_min_samples' must be in [1, 1000] "
                f"(got {self.confirm_switch_min_samples!r})"
            )
        if not -150.0 <= self.floor_dbm <= -30.0:
            raise ValueError(f"'floor_dbm' must be in [-150, -30] (got {self.floor_dbm!r})")


class GridFilter:
    """Bayes filter over the spots of a site survey (see the module docstring).

    ``fit(rssi_matrix, zone_labels, xy_m)``: fingerprints (rows, one column per sensor of
    ``sensors``, NaN where not heard), their zones and the ``(x_m, y_m)`` spot each was
    recorded on. Rows on the same spot (several facings, several windows) are one spot.
    """

    def __init__(self, sensors: Sequence[str], tuning: GridFilterTuning | None = None) -> None:
        if not sensors:
            raise ValueError("'sensors' must name at least one sensor (got none)")
        self.sensors = tuple(sensors)
        self.tuning = tuning if tuning is not None else GridFilterTuning()
        self.classes_: npt.NDArray[np.str_] = np.array([], dtype=np.str_)
        self.spots_m: FloatArray = np.zeros((0, 2))
        self._rows: FloatArray = np.zeros((0, len(self.sensors)))
        self._starts: IntArray = np.zeros(0, dtype=np.intp)
        self._counts: IntArray = np.zeros(0, dtype=np.intp)
        self._spot_zone: IntArray = np.zeros(0, dtype=np.intp)
        self._d2: FloatArray = np.zeros((0, 0))
        self._transitions: dict[float, FloatArray] = {}

    # -- fitting ---------------------------------------------------------------------------

    def fit(
        self,
        rssi_matrix: npt.ArrayLike,
        zone_labels: Sequence[str] | npt.ArrayLike,
        xy_m: npt.ArrayLike,
    ) -> Self:
        """Learn the spots; a spot surveyed in two zones belongs to its most recorded one."""
        x = np.asarray(rssi_matrix, dtype=np.float64)
        labels = np.asarray(zone_labels).astype(np.str_)
        xy = np.asarray(xy_m, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.sensors) or x.shape[0] == 0:
            raise ValueError(
                f"'rssi_matrix' must have shape (n >= 1, {len(self.sensors)}) (got {x.shape})"
            )
        if labels.shape != (x.shape[0],) or xy.shape != (x.shape[0], 2):
            raise ValueError(
                f"'zone_labels' and 'xy_m' must have one entry per row ({x.shape[0]}) "
                f"(got shapes {labels.shape} and {xy.shape})"
            )
        if not np.isfinite(xy).all():
            raise ValueError("'xy_m' must hold finite coordinates")
        self.classes_, zone_of_row = np.unique(labels, return_inverse=True)
        spots, spot_of_row = np.unique(np.round(xy, 3), axis=0, return_inverse=True)
        spot_of_row = spot_of_row.ravel()
        order = np.argsort(spot_of_row, kind="stable")
        sorted_spot = spot_of_row[order]
        self._rows = self._clamp(x[order])
        self._starts = np.flatnonzero(np.r_[True, np.diff(sorted_spot) != 0]).astype(np.intp)
        self._counts = np.diff(np.r_[self._starts, sorted_spot.size]).astype(np.intp)
        votes = np.zeros((spots.shape[0], self.classes_.size), dtype=np.intp)
        np.add.at(votes, (spot_of_row, zone_of_row.ravel()), 1)
        self._spot_zone = votes.argmax(axis=1).astype(np.intp)
        self.spots_m = spots
        delta = spots[:, None, :] - spots[None, :, :]
        self._d2 = (delta * delta).sum(axis=2)
        self._transitions = {}
        return self

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.classes_)

    @property
    def n_spots(self) -> int:
        return int(self.spots_m.shape[0])

    # -- filtering -------------------------------------------------------------------------

    def initial(self, n: int) -> FloatArray:
        """``n`` uniform beliefs, ``(n, spots)``."""
        self._check_fitted()
        return np.full((n, self.n_spots), 1.0 / self.n_spots)

    def predict(self, belief: npt.ArrayLike, dt_s: npt.ArrayLike) -> FloatArray:
        """Beliefs ``(n, spots)`` moved forward by ``dt_s`` ``(n,)`` seconds each."""
        self._check_fitted()
        b = np.asarray(belief, dtype=np.float64)
        dt = np.clip(np.asarray(dt_s, dtype=np.float64), 0.0, _DT_MAX_S)
        keys = np.round(dt / _DT_STEP_S) * _DT_STEP_S
        out = np.empty_like(b)
        for key in np.unique(keys).tolist():
            rows = keys == key
            out[rows] = b[rows] @ self._transition(float(key))
        return out

    def update(self, belief: npt.ArrayLike, rssi_dbm: npt.ArrayLike) -> FloatArray:
        """Posterior beliefs given smoothed RSSI ``(n, sensors)`` (NaN = not heard)."""
        b = np.asarray(belief, dtype=np.float64)
        log_post = np.log(np.maximum(b, 1e-300)) + self.log_likelihood(rssi_dbm)
        log_post -= log_post.max(axis=1, keepdims=True)
        post = np.exp(log_post)
        post /= post.sum(axis=1, keepdims=True)
        return post

    def log_likelihood(self, rssi_dbm: npt.ArrayLike) -> FloatArray:
        """Weighted log-likelihood of each row at each spot, ``(n, spots)`` (up to a constant)."""
        self._check_fitted()
        q = np.asarray(rssi_dbm, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != len(self.sensors):
            raise ValueError(f"'rssi_dbm' must have shape (n, {len(self.sensors)}) (got {q.shape})")
        q = self._clamp(q)
        t = self.tuning
        n_sensors = len(self.sensors)
        s2, o2 = t.sigma_db**2, t.offset_db**2
        common = o2 / (s2 + n_sensors * o2)  # Sherman-Morrison: (s2 I + o2 11')^-1
        out = np.empty((q.shape[0], self.n_spots))
        block = max(1, _LIKELIHOOD_BUDGET // max(1, self._rows.size))
        for start in range(0, q.shape[0], block):
            r = q[start : start + block, None, :] - self._rows[None, :, :]
            mahalanobis = ((r * r).sum(axis=2) - common * r.sum(axis=2) ** 2) / s2
            out[start : start + block] = self._spot_mean(-0.5 * t.likelihood_weight * mahalanobis)
        return out

    def zone_probabilities(self, belief: npt.ArrayLike) -> FloatArray:
        """Mass of each zone of :attr:`zones`, ``(n, zones)``."""
        b = np.asarray(belief, dtype=np.float64)
        proba = np.zeros((b.shape[0], self.classes_.size))
        np.add.at(proba.T, self._spot_zone, b.T)
        return proba

    def decide(self, proba: npt.ArrayLike, previous: npt.ArrayLike) -> IntArray:
        """The most probable zone column per row, unless the ``previous`` column (-1: none)
        is within ``switch_margin`` of it."""
        p = np.asarray(proba, dtype=np.float64)
        prev = np.asarray(previous, dtype=np.intp)
        best = p.argmax(axis=1).astype(np.intp)
        held = np.where(prev >= 0, p[np.arange(p.shape[0]), np.maximum(prev, 0)], -np.inf)
        keep = held + self.tuning.switch_margin >= p.max(axis=1)
        return np.where(keep, prev, best).astype(np.intp)

    # -- internals -------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if self.n_spots == 0:
            raise ValueError("GridFilter must be fitted before filtering (call fit)")

    def _clamp(self, rssi: FloatArray) -> FloatArray:
        floor = self.tuning.floor_dbm
        return np.where(np.isnan(rssi), floor, np.maximum(rssi, floor))

    def _spot_mean(self, log_lik: FloatArray) -> FloatArray:
        """Log of the mean likelihood over each spot's fingerprints (log-sum-exp by spot)."""
        top = np.maximum.reduceat(log_lik, self._starts, axis=1)
        scaled = np.exp(log_lik - np.repeat(top, self._counts, axis=1))
        return np.asarray(
            top + np.log(np.add.reduceat(scaled, self._starts, axis=1) / self._counts),
            dtype=np.float64,
        )

    def _transition(self, dt_s: float) -> FloatArray:
        """Row-stochastic ``(spots, spots)`` matrix: ``belief @ T`` moves a belief by ``dt_s``."""
        cached = self._transitions.pop(dt_s, None)
        if cached is not None:
            self._transitions[dt_s] = cached  # most recently used last
            return cached
        t = self.tuning
        sigma = max(t.speed_mps * max(dt_s, _DT_STEP_S), 0.3)
        kernel = np.exp(-self._d2 / (2.0 * sigma * sigma))
        kernel /= kernel.sum(axis=1, keepdims=True)
        moved = 1.0 - math.exp(-t.move_rate_per_s * dt_s)
        matrix = (1.0 - moved) * np.eye(self.n_spots) + moved * kernel
        matrix = (1.0 - t.uniform_share) * matrix + t.uniform_share / self.n_spots
        if len(self._transitions) >= _CACHED_TRANSITIONS:
            del self._transitions[next(iter(self._transitions))]  # least recently used
        self._transitions[dt_s] = matrix
        return matrix


__all__ = ["GridFilter", "GridFilterTuning"]
