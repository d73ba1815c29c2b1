"""Kalman filters for RSSI, one per (device, sensor) pair.

State choice: a 1-D random walk on the RSSI level (dBm). A shopper's RSSI has no
persistent trend worth modelling: it changes when the person turns, walks or a
body blocks the path, and those changes are as likely up as down. A level+trend
model would extrapolate a trend through the long gaps between Wi-Fi probe bursts
(30-120 s) and run away; the random walk instead lets its variance grow while a
device is unseen (the staleness model), which is exactly what the zone and dwell
steps need to know. A scalar state also keeps a bank of thousands of filters as
plain vector arithmetic (no matrix algebra) and a few dozen bytes per filter.

The model, with ``q`` the process noise (dBm²/s) and ``r`` the measurement noise
(dBm²)::

    predict:  x = x                      (random walk: the level does not move)
              P = min(P + q*dt, P_max)   (variance grows while unseen, capped)
    gate:     y = z - x                  (innovation)
              S = P + r                  (innovation variance)
              reject z when y² > g² * S  (more than g sigmas away)
    update:   K = P / S
              x = x + K*y
              P = (1 - K) * P            (= P*r/S, the scalar Joseph form too)

The first measurement of a filter initialises it (``x = z``, ``P = P0``). After
``reset_after`` consecutive rejected measurements the filter re-initialises at
the latest one: a device that really moved (a phone taken out of a bag) must not
be gated out forever.

:class:`RssiKalman` is the readable scalar reference; :class:`RssiKalmanBank`
runs many filters over preallocated numpy arrays addressed by integer slots.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_LOGGER = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class KalmanParams:
    """Noise model of one signal kind (BLE adverts, Wi-Fi probe requests)."""

    process_noise_dbm2_per_s: float
    """``q``: how fast the true RSSI level may wander, variance per second (dBm²/s)."""
    measurement_noise_dbm2: float
    """``r``: variance of one reading around the true level (dBm²)."""
    gate_sigmas: float = 3.0
    """``g``: a reading further than this many innovation sigmas is an outlier."""
    initial_variance_dbm2: float | None = None
    """``P0`` after the first reading; ``None`` means the measurement noise ``r``."""
    max_variance_dbm2: float = 400.0
    """``P_max``: the staleness cap, the variance of a device unseen for long (20 dB std)."""
    reset_after: int = 3
    """Re-initialise at the latest reading after this many consecutive rejections."""

    def __post_init__(self) -> None:
        _positive("process_noise_dbm2_per_s", self.process_noise_dbm2_per_s, allow_zero=True)
        _positive("measurement_noise_dbm2", self.measurement_noise_dbm2)
        _positive("gate_sigmas", self.gate_sigmas)
        _positive("max_variance_dbm2", self.max_variance_dbm2)
        if self.initial_variance_dbm2 is not None:
            _positive("initial_variance_dbm2", self.initial_variance_dbm2)
            if self.initial_variance_dbm2 > self.max_variance_dbm2:
                raise ValueError(
                    f"'initial_variance_dbm2' must be <= max_variance_dbm2 "
                    f"({self.max_variance_dbm2}) (got {self.initial_variance_dbm2})"
                )
        if self.reset_after < 1:
            raise ValueError(f"'reset_after' must be >= 1 (got {self.reset_after})")

    @property
    def p0_dbm2(self) -> float:
        """The variance right after initialisation."""
        if self.initial_variance_dbm2 is None:
            return self.measurement_noise_dbm2
        return self.initial_variance_dbm2


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and math.isfinite(value)):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"'{name}' must be finite and {bound} (got {value})")


BLE_PARAMS = KalmanParams(
    # A shopper walking past a sensor moves the level by ~4 dB per sqrt(second) (at 2 m and
    # 1 m/s the distance changes by half each second: 3.5 dB at n = 2). Measured on the
    # simulated store (docs/evaluation.md): 16 cuts the zone-change latency by a third
    # against 4, with fewer false switches, for both the strongest-sensor and the survey
    # classifier; 32-64 add switches, 0.5-1 add latency.
    process_noise_dbm2_per_s=16.0,
    # Stationary BLE adverts scatter with a std of 7.7 dB (median over the Spachos data set's
    # files and nodes, 10th-90th percentile 6.9-9.5 dB): channel hopping and multipath.
    measurement_noise_dbm2=49.0,
    gate_sigmas=3.0,
)
WIFI_PARAMS = KalmanParams(
    # Probe bursts come every 30-120 s; 1 dBm²/s lets the level move ~8 dB over a minute.
    process_noise_dbm2_per_s=1.0,
    # A fixed AP's beacons scatter by only 1.4 dB (Spachos), but a phone's probe requests
    # change channel and transmit power between bursts: we assume a 5 dB std.
    measurement_noise_dbm2=25.0,
    gate_sigmas=3.5,
)
DEFAULT_PARAMS: Mapping[str, KalmanParams] = {"ble": BLE_PARAMS, "wifi": WIFI_PARAMS}
"""Per signal kind, keyed by ``SignalKind`` value (``"ble"``, ``"wifi"``)."""


class RssiKalman:
    """One scalar RSSI filter: the readable reference for :class:`RssiKalmanBank`."""

    __slots__ = ("initialised", "mean_dbm", "params", "rejected", "streak", "t_s", "var_dbm2")

    def __init__(self, params: KalmanParams) -> None:
        self.params = params
        self.mean_dbm = math.nan
        self.var_dbm2 = math.inf
        self.t_s = -math.inf
        self.initialised = False
        self.streak = 0
        """Consecutive rejected readings."""
        self.rejected = 0
        """Readings rejected by the gate so far."""

    def predict(self, t_s: float) -> tuple[float, float]:
        """Mean (dBm) and variance (dBm²) at ``t_s`` without changing the filter."""
        if not self.initialised:
            return math.nan, math.inf
        dt_s = max(t_s - self.t_s, 0.0)
        # P = min(P + q*dt, P_max)
        return self.mean_dbm, min(
            self.var_dbm2 + self.params.process_noise_dbm2_per_s * dt_s,
            self.params.max_variance_dbm2,
        )

    def update(self, t_s: float, rssi_dbm: float) -> bool:
        """Fold in one reading; return ``False`` when the gate rejected it (or it is not finite)."""
        p = self.params
        if not math.isfinite(rssi_dbm):
            return False
        if not self.initialised:
            self._reset(t_s, rssi_dbm)
            return True
        _, p_pred = self.predict(t_s)
        self.var_dbm2 = p_pred
        self.t_s = max(self.t_s, t_s)
        y = rssi_dbm - self.mean_dbm  # y = z - x
        s = p_pred + p.measurement_noise_dbm2  # S = P + R
        if y * y > p.gate_sigmas * p.gate_sigmas * s:  # |y| > g * sqrt(S): outlier
            self.streak += 1
            if self.streak >= p.reset_after:
                self._reset(t_s, rssi_dbm)
                return True
            self.rejected += 1
            return False
        k = p_pred / s  # K = P / (P + R)
        self.mean_dbm += k * y  # x = x + K*y
        self.var_dbm2 = (1.0 - k) * p_pred  # P = (1 - K) * P
        self.streak = 0
        return True

    def _reset(self, t_s: float, rssi_dbm: float) -> None:
        self.mean_dbm = rssi_dbm  # x = z
        self.var_dbm2 = self.params.p0_dbm2  # P = P0
        self.t_s = max(self.t_s, t_s)
        self.initialised = True
        self.streak = 0


class RssiKalmanBank:
    """Many :class:`RssiKalman` filters as a struct of numpy arrays, addressed by integer slots.

    Per slot it keeps the mean (dBm), variance (dBm²), time of the last step (s), the
    signal kind's index, the rejection streak, a rejected counter and two flags:
    ``8+8+8+1+1+4+1+1 = 32`` bytes. Capacity doubles when full; released slots are
    reused first. Arrays passed in are 1-D of shape ``(n,)``; ``t_s`` may be a scalar.
    """

    def __init__(
        self, params: Mapping[str, KalmanParams] | None = None, capacity: int = 64
    ) -> None:
        params = dict(DEFAULT_PARAMS if params is None else params)
        if not params:
            raise ValueError("'params' must name at least one signal kind (got none)")
        if len(params) > 255:
            raise ValueError(f"'params' must name at most 255 signal kinds (got {len(params)})")
        if capacity < 1:
            raise ValueError(f"'capacity' must be >= 1 (got {capacity})")
        self._kind_index = {name: i for i, name in enumerate(params)}
        self.kinds: tuple[str, ...] = tuple(params)
        table = list(params.values())
        self._q = np.array([p.process_noise_dbm2_per_s for p in table], dtype=np.float64)
        self._r = np.array([p.measurement_noise_dbm2 for p in table], dtype=np.float64)
        self._g2 = np.array([p.gate_sigmas**2 for p in table], dtype=np.float64)
        self._p0 = np.array([p.p0_dbm2 for p in table], dtype=np.float64)
        self._pmax = np.array([p.max_variance_dbm2 for p in table], dtype=np.float64)
        self._reset_after = np.array([min(p.reset_after, 255) for p in table], dtype=np.uint8)
        self._capacity = 0
        self._high = 0  # slots below this have been handed out at least once
        self._free: list[int] = []
        self._x = np.empty(0, dtype=np.float64)
        self._p = np.empty(0, dtype=np.float64)
        self._t = np.empty(0, dtype=np.float64)
        self._kind = np.empty(0, dtype=np.uint8)
        self._streak = np.empty(0, dtype=np.uint8)
        self._rejected = np.empty(0, dtype=np.uint32)
        self._init = np.empty(0, dtype=np.bool_)
        self._used = np.empty(0, dtype=np.bool_)
        self._grow(capacity)
        self.rejected_total = 0
        """Readings rejected by the gate, all slots, since construction."""
        self.reset_total = 0
        """Re-initialisations after ``reset_after`` consecutive rejections."""
        self.invalid_total = 0
        """Readings dropped because they were NaN or infinite."""

    # -- slots -----------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def size(self) -> int:
        """Slots currently allocated."""
        return self._high - len(self._free)

    @property
    def nbytes(self) -> int:
        """Bytes held by the per-slot arrays."""
        arrays = (self._x, self._p, self._t, self._kind, self._streak, self._rejected)
        return sum(a.nbytes for a in arrays) + self._init.nbytes + self._used.nbytes

    def _grow(self, capacity: int) -> None:
        old = self._capacity

        def extend(a: npt.NDArray[np.generic], fill: object) -> npt.NDArray[np.generic]:
            out = np.empty(capacity, dtype=a.dtype)
            out[:old] = a[:old]
            out[old:] = fill
            return out

        self._x = extend(self._x, np.nan)  # type: ignore[assignment]
        self._p = extend(self._p, np.inf)  # type: ignore[assignment]
        self._t = extend(self._t, -np.inf)  # type: ignore[assignment]
        self._kind = extend(self._kind, 0)  # type: ignore[assignment]
        self._streak = extend(self._streak, 0)  # type: ignore[assignment]
        self._rejected = extend(self._rejected, 0)  # type: ignore[assignment]
        self._init = extend(self._init, False)  # type: ignore[assignment]
        self._used = extend(self._used, False)  # type: ignore[assignment]
        self._capacity = capacity

    def _kind_of(self, kind: str) -> int:
        try:
            return self._kind_index[kind]
        except KeyError:
            raise ValueError(f"'kind' must be one of {list(self.kinds)} (got {kind!r})") from None

    def allocate(self, kind: str) -> int:
        """A fresh, uninitialised slot for a filter of signal ``kind`` (``"ble"``, ``"wifi"``)."""
        k = self._kind_of(kind)
        if self._free:
            slot = self._free.pop()
        else:
            if self._high == self._capacity:
                self._grow(2 * self._capacity)  # doubling: amortised O(1) per slot
            slot = self._high
            self._high += 1
        self._kind[slot] = k
        self._used[slot] = True
        return slot

    def allocate_many(self, kind: str, count: int) -> IntArray:
        """``count`` fresh slots of one signal kind, as an array."""
        if count < 0:
            raise ValueError(f"'count' must be >= 0 (got {count})")
        k = self._kind_of(kind)
        reused = [self._free.pop() for _ in range(min(count, len(self._free)))]
        fresh = count - len(reused)
        need = self._high + fresh
        if need > self._capacity:
            capacity = self._capacity
            while capacity < need:
                capacity *= 2
            self._grow(capacity)
        slots = np.concatenate(
            [np.asarray(reused, dtype=np.intp), np.arange(self._high, need, dtype=np.intp)]
        )
        self._high = need
        self._kind[slots] = k
        self._used[slots] = True
        return slots

    def release(self, slot: int) -> None:
        """Forget a slot's filter; the slot may be handed out again."""
        if not (0 <= slot < self._high and self._used[slot]):
            raise ValueError(f"'slot' must be an allocated slot (got {slot})")
        self._x[slot] = np.nan
        self._p[slot] = np.inf
        self._t[slot] = -np.inf
        self._streak[slot] = 0
        self._rejected[slot] = 0
        self._init[slot] = False
        self._used[slot] = False
        self._free.append(slot)

    def rejected(self, slots: npt.ArrayLike) -> npt.NDArray[np.uint32]:
        """Readings rejected by the gate, per slot."""
        return self._rejected[self._check(slots)]

    def _check(self, slots: npt.ArrayLike) -> IntArray:
        s = np.asarray(slots, dtype=np.intp)
        if s.ndim != 1:
            raise ValueError(f"'slots' must be 1-D (got shape {s.shape})")
        if s.size and (s.min() < 0 or s.max() >= self._high or not self._used[s].all()):
            raise ValueError("'slots' must all be allocated slots (got a free or unknown slot)")
        return s

    # -- filtering -------------------------------------------------------------------------

    def predict(self, slots: npt.ArrayLike, t_s: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Mean (dBm) and variance (dBm²) of each slot at ``t_s``, with staleness; no change.

        A slot that has had no reading yet has mean NaN and variance infinity.
        """
        s = self._check(slots)
        t = np.broadcast_to(np.asarray(t_s, dtype=np.float64), s.shape)
        k = self._kind[s]
        dt = np.maximum(t - self._t[s], 0.0)
        # P = min(P + q*dt, P_max)
        var = np.minimum(self._p[s] + self._q[k] * dt, self._pmax[k])
        var = np.where(self._init[s], var, np.inf)
        return self._x[s].copy(), var

    def update(
        self, slots: npt.ArrayLike, t_s: npt.ArrayLike, rssi_dbm: npt.ArrayLike
    ) -> BoolArray:
        """Fold a batch of readings in, in batch order; return which ones were accepted.

        A slot may appear several times in one batch: its readings are applied in the
        order they appear (the batch is split into rounds of distinct slots). A reading
        older than the slot's last step is applied with ``dt = 0``.
        """
        s = self._check(slots)
        t = np.ascontiguousarray(np.broadcast_to(np.asarray(t_s, dtype=np.float64), s.shape))
        z = np.asarray(rssi_dbm, dtype=np.float64)
        if z.shape != s.shape:
            raise ValueError(f"'rssi_dbm' must have the shape of 'slots' {s.shape} (got {z.shape})")
        accepted = np.zeros(s.shape, dtype=np.bool_)
        finite = np.isfinite(z)
        if not finite.all():
            self.invalid_total += int((~finite).sum())
            keep = np.flatnonzero(finite)
            s, t, z = s[keep], t[keep], z[keep]
        else:
            keep = None
        rank = _occurrence_rank(s)
        if rank is None:
            ok = self._update_distinct(s, t, z)
        else:
            ok = np.empty(s.shape, dtype=np.bool_)
            for r in range(int(rank.max()) + 1):
                idx = np.flatnonzero(rank == r)
                ok[idx] = self._update_distinct(s[idx], t[idx], z[idx])
        if keep is None:
            accepted = ok
        else:
            accepted[keep] = ok
        return accepted

    def _update_distinct(self, s: IntArray, t: FloatArray, z: FloatArray) -> BoolArray:
        """One step for slots that are all different."""
        k = self._kind[s]
        x = self._x[s]
        init = self._init[s]
        r = self._r[k]
        # predict: x = x;  P = min(P + q*dt, P_max)
        dt = np.maximum(t - self._t[s], 0.0)
        p_pred = np.minimum(self._p[s] + self._q[k] * dt, self._pmax[k])
        y = z - x  # y = z - x
        s_var = p_pred + r  # S = P + R
        inside = y * y <= self._g2[k] * s_var  # |y| <= g * sqrt(S)
        streak = self._streak[s].astype(np.int32) + 1
        outlier = init & ~inside
        reset = ~init | (outlier & (streak >= self._reset_after[k]))
        take = init & inside
        gain = p_pred / s_var  # K = P / (P + R)
        x_new = np.where(take, x + gain * y, x)  # x = x + K*y
        p_new = np.where(take, (1.0 - gain) * p_pred, p_pred)  # P = (1 - K) * P
        x_new = np.where(reset, z, x_new)  # x = z
        p_new = np.where(reset, self._p0[k], p_new)  # P = P0
        rejected = outlier & ~reset
        self._x[s] = x_new
        self._p[s] = p_new
        self._t[s] = np.maximum(self._t[s], t)
        self._init[s] = True
        self._streak[s] = np.where(rejected, np.minimum(streak, 255), 0)
        if rejected.any():
            self._rejected[s[rejected]] += 1
            self.rejected_total += int(rejected.sum())
        n_reset = int((reset & init).sum())
        if n_reset:
            self.reset_total += n_reset
            _LOGGER.debug("re-initialised %d filters after consecutive outliers", n_reset)
        return ~rejected


def _occurrence_rank(slots: IntArray) -> IntArray | None:
    """For each element, how many earlier elements hold the same slot; ``None`` if all differ."""
    if slots.size < 2:
        return None
    order = np.argsort(slots, kind="stable")
    ordered = slots[order]
    starts = np.empty(slots.size, dtype=np.bool_)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    if starts.all():
        return None
    positions = np.arange(slots.size, dtype=np.intp)
    group_start = np.maximum.accumulate(np.where(starts, positions, 0))
    rank = np.empty(slots.size, dtype=np.intp)
    rank[order] = positions - group_start
    return rank
