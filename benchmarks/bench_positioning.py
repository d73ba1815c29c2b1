"""Throughput and memory of the positioning chain: Kalman filter -> zone -> dwell/visits.

Run: ``python benchmarks/bench_positioning.py [--devices 5000] [--seconds 4] [--repeats 5]``.

A seeded store: ``--devices`` phones/tags, 4 sensors (one zone each), 60 % BLE
(adverts at 1-10 Hz per device, each heard by each sensor with probability 0.6) and
40 % Wi-Fi (probe bursts of 1-4 frames every 30-120 s); devices change zone every
~30 s; 4 dB noise and 3 % far outliers. The stream of ``--seconds`` simulated seconds
is built first, then replayed through two pipelines doing the same work per
simulated second (one tick):

- ``bank``: ``RssiKalmanBank.update`` on the tick's readings in one call, then the
  mean RSSI of every device heard in the tick (one row of 4 slots) through
  ``StrongestSensorClassifier.classify_many``, then ``DeviceTable.push``/``advance``
  (the dwell and visit machines).
- ``filterpy``: one ``filterpy.kalman.KalmanFilter`` per (device, sensor), configured
  as our model (same gate and staleness cap), updated in a Python loop per reading,
  then ``StrongestSensorClassifier.classify`` per device on a dict and the same
  ``DeviceTable``.

Both keep a ``device_key -> filters`` dict, as the agent would. Printed: readings/s
(median of the interleaved repeats) for the filter step alone and for the whole chain, the ratio
bank/filterpy measured in this run, and the bytes per tracked device of the bank
chain's state (tracemalloc, peak over the replay, input stream excluded).
Devices are all heard within the first 2 simulated seconds, so all are tracked.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from filterpy.kalman import KalmanFilter

from positioning import DEFAULT_PARAMS, KalmanParams, RssiKalmanBank, StrongestSensorClassifier
from positioning.dwell import ZoneObservation
from positioning.tracking import DeviceTable, TrackingConfig

SENSORS = ("s0", "s1", "s2", "s3")
ZONE_OF_SENSOR = {"s0": "entrance", "s1": "shoes", "s2": "bags", "s3": "till"}
KINDS = ("ble", "wifi")
# Zone observations are pushed in time order at each tick's end: a short reorder window
# lets the dwell machines run within the benchmark's few simulated seconds.
TRACKING = TrackingConfig(max_lateness_s=0.5)


@dataclass
class Tick:
    """The readings of one simulated second, in time order."""

    end_s: float
    keys: list[str]
    device: np.ndarray
    sensor: np.ndarray
    t_s: np.ndarray
    rssi_dbm: np.ndarray


def make_stream(
    n_devices: int, seconds: int, seed: int = 0
) -> tuple[list[str], np.ndarray, list[Tick]]:
    """Device keys, their kind index (0 BLE, 1 Wi-Fi) and the readings per tick."""
    rng = np.random.default_rng(seed)
    keys = [f"dk1_{i:016x}" for i in range(n_devices)]
    kind = (rng.random(n_devices) < 0.4).astype(np.int64)
    rate_hz = rng.uniform(1.0, 10.0, n_devices)
    next_burst = rng.uniform(0.0, 2.0, n_devices)  # every device is heard in the first 2 s
    zone = rng.integers(0, len(SENSORS), n_devices)
    ticks: list[Tick] = []
    for second in range(seconds):
        t0 = 1_700_000_000.0 + second
        zone = np.where(rng.random(n_devices) < 1 / 30, rng.integers(0, 4, n_devices), zone)
        # BLE adverts: Poisson count per device in this second, uniform times
        counts = np.where(kind == 0, rng.poisson(rate_hz), 0)
        dev = np.repeat(np.arange(n_devices), counts)
        t = t0 + rng.random(dev.size)
        # Wi-Fi bursts that fall into this second
        due = (kind == 1) & (next_burst < second + 1)
        burst_dev = np.flatnonzero(due)
        frames = rng.integers(1, 5, burst_dev.size)
        wdev = np.repeat(burst_dev, frames)
        wt = t0 + np.clip(next_burst[wdev] - second, 0, 0.95) + rng.uniform(0, 0.05, wdev.size)
        next_burst[burst_dev] += rng.uniform(30.0, 120.0, burst_dev.size)
        dev = np.concatenate([dev, wdev])
        t = np.concatenate([t, wt])
        # each sensor hears each frame with probability 0.6
        heard = rng.random((dev.size, len(SENSORS))) < 0.6
        row, sensor = np.nonzero(heard)
        dev, t = dev[row], t[row]
        level = np.where(sensor == zone[dev], -60.0, -78.0)
        rssi = np.round(level + rng.normal(0, 4.0, dev.size))
        outlier = rng.random(dev.size) < 0.03
        rssi[outlier] -= rng.uniform(20, 35, int(outlier.sum()))
        order = np.argsort(t, kind="stable")
        dev, sensor, t, rssi = dev[order], sensor[order], t[order], rssi[order]
        ticks.append(Tick(t0 + 1.0, [keys[i] for i in dev], dev, sensor, t, rssi))
    return keys, kind, ticks


class BankChain:
    """The vectorised path: bank -> classify_many -> DeviceTable."""

    def __init__(self, kind_of: dict[str, int]) -> None:
        self.bank = RssiKalmanBank(capacity=1024)
        self.classifier = StrongestSensorClassifier(ZONE_OF_SENSOR, margin_db=3.0)
        # column order of classify_many is the sorted sensor ids; ours are already sorted
        assert self.classifier.sensors == SENSORS
        self.rows: dict[str, int] = {}
        self.keys: list[str] = []
        self.slots = np.empty((0, len(SENSORS)), dtype=np.intp)
        self.previous = np.empty(0, dtype=np.intp)
        self.kind_of = kind_of
        self.table = DeviceTable(config=TRACKING)
        self.events = 0

    def row_of(self, key: str) -> int:
        row = self.rows.get(key)
        if row is None:
            row = len(self.rows)
            self.rows[key] = row
            self.keys.append(key)
            if row >= self.slots.shape[0]:
                grow = max(1024, self.slots.shape[0])
                self.slots = np.vstack([self.slots, np.zeros((grow, len(SENSORS)), np.intp)])
                self.previous = np.concatenate([self.previous, np.full(grow, -1, np.intp)])
            kind = KINDS[self.kind_of[key]]
            self.slots[row] = self.bank.allocate_many(kind, len(SENSORS))
        return row

    def filter(self, tick: Tick) -> np.ndarray:
        get = self.rows.get
        rows = np.array([get(k, -1) for k in tick.keys], dtype=np.intp)
        for i in np.flatnonzero(rows < 0).tolist():  # first sight of a device: allocate
            rows[i] = self.row_of(tick.keys[i])
        self.bank.update(self.slots[rows, tick.sensor], tick.t_s, tick.rssi_dbm)
        return rows

    def run_tick(self, tick: Tick) -> None:
        rows = np.unique(self.filter(tick))
        slots = self.slots[rows]
        mean, _ = self.bank.predict(slots.ravel(), tick.end_s)
        rssi = mean.reshape(slots.shape)
        proba, zone_idx = self.classifier.classify_many(rssi, self.previous[rows])
        self.previous[rows] = zone_idx
        zones = self.classifier.zones
        keys = self.keys
        best_rssi = np.nanmax(np.where(np.isnan(rssi), -np.inf, rssi), axis=1)
        for row, z, p, r in zip(
            rows.tolist(),
            zone_idx.tolist(),
            proba.max(axis=1).tolist(),
            best_rssi.tolist(),
            strict=True,
        ):
            obs = ZoneObservation(zones[z] if z >= 0 else None, p, r)
            self.table.push(keys[row], obs, tick.end_s)
        self.events += len(self.table.advance(tick.end_s))


class FilterpyRssi:
    """filterpy KalmanFilter configured as our 1-D random walk, same gate, reset and cap."""

    __slots__ = ("kf", "params", "started", "streak", "t_s")

    def __init__(self, params: KalmanParams) -> None:
        self.params = params
        self.kf = KalmanFilter(dim_x=1, dim_z=1)
        self.kf.F = np.array([[1.0]])
        self.kf.H = np.array([[1.0]])
        self.kf.R = np.array([[params.measurement_noise_dbm2]])
        self.t_s = -math.inf
        self.started = False
        self.streak = 0

    def update(self, t_s: float, z: float) -> None:
        p = self.params
        if self.started:
            var = float(self.kf.P[0, 0])
            dt = max(t_s - self.t_s, 0.0)
            q = min(var + p.process_noise_dbm2_per_s * dt, p.max_variance_dbm2) - var
            self.kf.predict(Q=np.array([[q]]))
            self.t_s = max(self.t_s, t_s)
            y = z - float(self.kf.x[0, 0])
            if y * y <= p.gate_sigmas**2 * (float(self.kf.P[0, 0]) + p.measurement_noise_dbm2):
                self.kf.update(np.array([[z]]))
                self.streak = 0
                return
            self.streak += 1
            if self.streak < p.reset_after:
                return
        self.t_s = max(self.t_s, t_s)
        self.kf.x = np.array([[z]])
        self.kf.P = np.array([[p.p0_dbm2]])
        self.started = True
        self.streak = 0

    def mean_at(self, t_s: float) -> float:
        return float(self.kf.x[0, 0]) if self.started else math.nan


class FilterpyChain:
    """The per-device loop: filterpy per (device, sensor) -> classify per device -> DeviceTable."""

    def __init__(self, kind_of: dict[str, int]) -> None:
        self.filters: dict[str, list[FilterpyRssi]] = {}
        self.classifier = StrongestSensorClassifier(ZONE_OF_SENSOR, margin_db=3.0)
        self.previous: dict[str, str | None] = {}
        self.kind_of = kind_of
        self.table = DeviceTable(config=TRACKING)
        self.events = 0

    def filter(self, tick: Tick) -> set[str]:
        seen: set[str] = set()
        for key, sensor, t, z in zip(
            tick.keys, tick.sensor.tolist(), tick.t_s.tolist(), tick.rssi_dbm.tolist(), strict=True
        ):
            filters = self.filters.get(key)
            if filters is None:
                params = DEFAULT_PARAMS[KINDS[self.kind_of[key]]]
                filters = [FilterpyRssi(params) for _ in SENSORS]
                self.filters[key] = filters
            filters[sensor].update(t, z)
            seen.add(key)
        return seen

    def run_tick(self, tick: Tick) -> None:
        for key in sorted(self.filter(tick)):
            filters = self.filters[key]
            rssi = {s: f.mean_at(tick.end_s) for s, f in zip(SENSORS, filters, strict=True)}
            est = self.classifier.classify(rssi, self.previous.get(key))
            self.previous[key] = est.zone
            heard = [v for v in rssi.values() if not math.isnan(v)]
            obs = ZoneObservation(
                est.zone,
                est.probabilities.get(est.zone, 0.0) if est.zone else 0.0,
                max(heard) if heard else None,
            )
            self.table.push(key, obs, tick.end_s)
        self.events += len(self.table.advance(tick.end_s))


def timed(make: Callable[[], object], work: Callable[[object], None]) -> float:
    """Seconds of ``work(fresh state)`` (the state is built outside the timing)."""
    state = make()
    gc.collect()
    start = time.perf_counter()
    work(state)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    keys, kind, ticks = make_stream(args.devices, args.seconds)
    kind_of = dict(zip(keys, kind.tolist(), strict=True))
    n_obs = sum(t.t_s.size for t in ticks)
    print(
        f"{args.devices} devices, {len(SENSORS)} sensors, {args.seconds} s simulated, "
        f"{n_obs} readings ({n_obs / args.seconds:.0f}/s), {args.repeats} repeats, medians"
    )

    def run_filter(chain: object) -> None:
        for tick in ticks:
            chain.filter(tick)  # type: ignore[attr-defined]

    def run_chain(chain: object) -> None:
        for tick in ticks:
            chain.run_tick(tick)  # type: ignore[attr-defined]

    results = {}
    for label, work in (("filter only", run_filter), ("filter -> zone -> dwell", run_chain)):
        # interleaved repeats, so a change in machine load hits both paths alike
        bank_runs, fp_runs = [], []
        for _ in range(args.repeats):
            bank_runs.append(timed(lambda: BankChain(kind_of), work))
            fp_runs.append(timed(lambda: FilterpyChain(kind_of), work))
        bank_s, fp_s = statistics.median(bank_runs), statistics.median(fp_runs)
        results[label] = (n_obs / bank_s, n_obs / fp_s)
        print(
            f"{label:<24} bank {n_obs / bank_s:>12,.0f} readings/s   "
            f"filterpy loop {n_obs / fp_s:>10,.0f} readings/s   ratio {fp_s / bank_s:>6.1f}x"
        )

    # memory: state of the whole bank chain after replaying the stream, per tracked device
    gc.collect()
    tracemalloc.start()
    chain = BankChain(kind_of)
    run_chain(chain)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracked = len(chain.rows)
    print(
        f"memory (bank chain, tracemalloc): {current / tracked:,.0f} B/device held, "
        f"{peak / tracked:,.0f} B/device peak, for {tracked} tracked devices "
        f"({len(chain.table)} in the device table, {chain.bank.size} filters, "
        f"bank arrays {chain.bank.nbytes / tracked:,.0f} B/device)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
