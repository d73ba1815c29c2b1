"""The agent's presence tracker: readings in, presence events out.

Pipeline per device (one device key = one identifier; a phone's BLE beacon and its
Wi-Fi MAC are different devices here)::

    Reading ──► RssiKalmanBank (one filter per device x sensor)
            ──► StrongestSensorClassifier (per signal kind, once per ``classify_interval_s``;
                or a custom classifier, e.g. a fingerprint kNN or a GridFilter over a survey)
            ──► DeviceTable (reorder buffer, dwell machine, visit machine, eviction)
            ──► PresenceEvent

Readings are folded into the filters in numpy batches. A device is classified at most
once per time bucket of ``classify_interval_s`` (at the time of its last reading in the
bucket), so the dwell machine sees about one observation a second whatever the
advertising rate. A sensor whose filter was not updated for longer than the signal's
``stale_after_s`` does not take part in the decision (a Wi-Fi filter stays usable for
minutes between probe bursts, a BLE filter for seconds).

Time comes in with the readings and with :meth:`PresenceTracker.tick`; nothing here
reads a clock. Memory is bounded: devices unseen for longer than the visit gap plus a
margin give their filter slots back, and the device table is capped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from positioning.dwell import DwellConfig, ZoneObservation
from positioning.events import PresenceEvent
from positioning.gridfilter import GridFilter, GridFilterTuning
from positioning.kalman import DEFAULT_PARAMS, KalmanParams, RssiKalmanBank
from positioning.tracking import DeviceTable, TableCounters, TrackingConfig
from positioning.visits import VisitConfig
from positioning.zones import FingerprintClassifier, StrongestSensorClassifier, ZoneClassifier

_LOGGER = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

BLE_REFERENCE_P1M_DBM = -59.0
"""BLE readings are normalised to this 1 m power when the frame announces its own
(``rssi + (REF - tx_power_1m)``), so a hot and a quiet beacon compare on one scale."""


class TrackerConfigError(ValueError):
    """A :class:`TrackerConfig` field is out of range."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One RSSI reading of one device by one sensor: the tracker's input (no raw identifier)."""

    ts_s: float
    """Reception time, UTC POSIX seconds."""
    device_key: str
    sensor_id: str
    signal: str
    """``"ble"`` or ``"wifi"`` (a ``SignalKind`` value)."""
    rssi_dbm: float
    tx_power_1m_dbm: float | None = None
    """The power at 1 m the frame announces (iBeacon measured power), if any."""


@dataclass(frozen=True, slots=True)
class SignalTuning:
    """Classifier settings of one signal kind."""

    stale_after_s: float
    """A sensor's filter older than this is left out of the decision."""
    floor_dbm: float
    """Smoothed RSSI below this does not place a device in a zone."""
    margin_db: float = 3.0
    """Another zone's sensor must be this much louder to take over (hysteresis)."""
    temperature_db: float = 3.0
    """Softmax temperature turning RSSI differences into zone probabilities."""


DEFAULT_TUNING: Mapping[str, SignalTuning] = {
    # BLE adverts come at 1-10 Hz: a filter silent for 8 s belongs to a phone that left.
    # margin 3.5 dB: tuned on the simulated store (docs/evaluation.md), fewer flips at stops
    "ble": SignalTuning(stale_after_s=8.0, floor_dbm=-88.0, margin_db=3.5, temperature_db=2.0),
    # Probe bursts come every 30-120 s: keep a filter usable across two missed bursts.
    "wifi": SignalTuning(stale_after_s=240.0, floor_dbm=-80.0, margin_db=2.0, temperature_db=2.0),
}


def _default_dwell() -> dict[str, DwellConfig]:
    return {
        # ~1 classification a second: ten seconds and seven agreeing classifications confirm
        # a zone. The enter is back-dated to the first, so dwell and zone times do not pay
        # for it; only a live view waits. Tuned on the simulator (docs/evaluation.md): 4 s
        # let short flickers near zone edges through, 12 s started to lose short stays.
        "ble": DwellConfig(confirm_enter_s=10.0, confirm_min_samples=7, grace_exit_s=15.0),
        # one burst every 30-120 s: a burst places the device, silence closes it after 4 min
        "wifi": DwellConfig(confirm_enter_s=0.0, confirm_min_samples=1, grace_exit_s=240.0),
    }


def _default_tracking() -> TrackingConfig:
    # The evaluator and the agent feed readings in time order: one second of reordering is
    # enough and keeps events close to the readings that caused them.
    return TrackingConfig(max_lateness_s=1.0)


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Every threshold of the pipeline; the defaults meet the accuracy bar on the simulator."""

    classify_interval_s: float = 1.0
    kalman: Mapping[str, KalmanParams] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    tuning: Mapping[str, SignalTuning] = field(default_factory=lambda: dict(DEFAULT_TUNING))
    dwell: Mapping[str, DwellConfig] = field(default_factory=_default_dwell)
    """Zone machine thresholds per signal kind (each kind has its own device table)."""
    visits: VisitConfig = field(default_factory=VisitConfig)
    tracking: TrackingConfig = field(default_factory=_default_tracking)
    filter_eviction_margin_s: float = 60.0
    """Filters of a device unseen for the visit gap plus this are released."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.classify_interval_s) and 0 < self.classify_interval_s <= 60):
            raise TrackerConfigError(
                f"'classify_interval_s' must be in (0, 60] (got {self.classify_interval_s!r})"
            )
        for name, table in (("kalman", self.kalman), ("dwell", self.dwell)):
            missing = set(self.tuning) - set(table)
            if missing:
                raise TrackerConfigError(
                    f"{name!r} must have an entry for every tuned signal "
                    f"(missing {sorted(missing)})"
                )
        if self.filter_eviction_margin_s < 0:
            raise TrackerConfigError(
                f"'filter_eviction_margin_s' must be >= 0 (got {self.filter_eviction_margin_s})"
            )


@dataclass(frozen=True, slots=True)
class TrackerCounters:
    """What the tracker took and dropped, by reason, plus the device table's counters."""

    readings: int
    dropped_unknown_sensor: int
    dropped_unknown_signal: int
    dropped_bad_value: int
    devices: int
    filter_slots: int
    table: TableCounters


@dataclass(slots=True)
class _Device:
    signal: str
    slots: dict[str, int]
    """Sensor id → filter slot."""
    slot_ts: dict[str, float]
    """Sensor id → time of the filter's last reading."""
    last_seen_s: float
    sticky: int = -1
    """The zone the hysteresis favours: the last decision that held for N classifications."""
    rival: int = -1
    rival_count: int = 0
    rival_since_s: float = 0.0
    sticky_seen_s: float = -math.inf
    """Last supporting classification of ``sticky``: after the exit grace it favours nothing."""
    belief: npt.NDArray[np.float32] | None = None
    """A :class:`GridFilter`'s probability per surveyed spot (that classifier only)."""
    belief_ts_s: float = -math.inf
    """When ``belief`` was last updated."""
    rising_since: npt.NDArray[np.float64] | None = None
    """Per tracker zone, when its current unbroken run of classifications with at least the
    grid filter's ``backdate_mass`` began (NaN: not in such a run); that classifier only."""
    classified_s: float = -math.inf
    """Time of the device's last classification."""


@dataclass(frozen=True, slots=True)
class _GridLink:
    """How a :class:`GridFilter`'s sensors and zones map to the tracker's columns."""

    grid: GridFilter
    columns: npt.NDArray[np.intp]
    """Tracker column of each of the filter's sensors (-1: a sensor the tracker lacks)."""
    zones: npt.NDArray[np.intp]
    """Tracker zone index of each of the filter's zones."""


class PresenceTracker:
    """Readings → zone and visit events for many devices (see the module docstring)."""

    def __init__(
        self,
        sensor_zones: Mapping[str, str],
        config: TrackerConfig | None = None,
        classifiers: Mapping[str, ZoneClassifier | GridFilter] | None = None,
    ):
        """``classifiers`` replaces the strongest-sensor classifier of a signal kind (e.g. a
        :class:`~positioning.zones.TrilaterationClassifier`, a fitted fingerprint one, or a
        fitted :class:`~positioning.gridfilter.GridFilter`, which keeps a belief per device);
        it must know the same zones."""
        if not sensor_zones:
            raise TrackerConfigError("'sensor_zones' must map at least one sensor (got {})")
        self.config = config if config is not None else TrackerConfig()
        cfg = self.config
        self._sensor_zones = dict(sensor_zones)
        self._classifiers = {
            signal: StrongestSensorClassifier(
                self._sensor_zones,
                margin_db=t.margin_db,
                floor_dbm=t.floor_dbm,
                temperature_db=t.temperature_db,
            )
            for signal, t in cfg.tuning.items()
        }
        any_clf = next(iter(self._classifiers.values()))
        self._columns = {s: i for i, s in enumerate(any_clf.sensors)}
        self._zones = any_clf.zones
        self._custom: dict[str, ZoneClassifier] = {}
        self._grids: dict[str, _GridLink] = {}
        for signal, clf in (classifiers or {}).items():
            if isinstance(clf, GridFilter):
                self._grids[signal] = self._link(clf)
            else:
                self._custom[signal] = clf
        self._bank = RssiKalmanBank({k: cfg.kalman[k] for k in cfg.tuning}, capacity=256)
        self._tables = {
            signal: DeviceTable(cfg.dwell[signal], cfg.visits, cfg.tracking)
            for signal in cfg.tuning
        }
        self._devices: dict[str, _Device] = {}
        self._now_s = -math.inf
        self._last_sweep_s = -math.inf
        self._readings = 0
        self._unknown_sensor = 0
        self._unknown_signal = 0
        self._bad_value = 0

    def _link(self, grid: GridFilter) -> _GridLink:
        unknown = set(grid.zones) - set(self._zones)
        if unknown:
            raise TrackerConfigError(f"grid filter zones {sorted(unknown)} are not tracker zones")
        return _GridLink(
            grid,
            np.array([self._columns.get(s, -1) for s in grid.sensors], dtype=np.intp),
            np.array([self._zones.index(z) for z in grid.zones], dtype=np.intp),
        )

    # -- queries ---------------------------------------------------------------------------

    @property
    def zones(self) -> tuple[str, ...]:
        return self._zones

    def zone_of(self, device_key: str) -> str | None:
        """The confirmed zone of a device (``None``: none, or unknown device)."""
        dev = self._devices.get(device_key)
        return None if dev is None else self._tables[dev.signal].zone_of(device_key)

    def occupancy(self) -> dict[str, int]:
        """Devices per confirmed zone (all signal kinds)."""
        total: dict[str, int] = {}
        for table in self._tables.values():
            for zone, n in table.occupancy().items():
                total[zone] = total.get(zone, 0) + n
        return dict(sorted(total.items()))

    def smoothed_rssi(self, device_key: str, now_s: float) -> dict[str, float]:
        """The device's filtered RSSI per sensor at ``now_s`` (dBm), fresh filters only."""
        dev = self._devices.get(device_key)
        if dev is None:
            return {}
        stale = self.config.tuning[dev.signal].stale_after_s
        sensors = [s for s, t in dev.slot_ts.items() if now_s - t <= stale]
        if not sensors:
            return {}
        mean, _ = self._bank.predict([dev.slots[s] for s in sensors], now_s)
        return {s: float(m) for s, m in zip(sensors, mean, strict=True)}

    @property
    def counters(self) -> TrackerCounters:
        return TrackerCounters(
            readings=self._readings,
            dropped_unknown_sensor=self._unknown_sensor,
            dropped_unknown_signal=self._unknown_signal,
            dropped_bad_value=self._bad_value,
            devices=len(self._devices),
            filter_slots=self._bank.size,
            table=_sum_counters([t.counters for t in self._tables.values()]),
        )

    # -- input -----------------------------------------------------------------------------

    def ingest(
        self, readings: Iterable[Reading], now_s: float | None = None
    ) -> list[PresenceEvent]:
        """Fold a batch of readings in; return the events that became final.

        ``now_s`` is the caller's clock (defaults to the latest reading time). Readings
        from unknown sensors or signals and non-finite values are dropped and counted.
        """
        batch: list[Reading] = []
        for r in readings:
            self._readings += 1
            if r.sensor_id not in self._columns:
                self._unknown_sensor += 1
            elif r.signal not in self._classifiers:
                self._unknown_signal += 1
            elif not (math.isfinite(r.rssi_dbm) and math.isfinite(r.ts_s)):
                self._bad_value += 1
            else:
                batch.append(r)
        events: list[PresenceEvent] = []
        if batch:
            batch.sort(key=lambda r: r.ts_s)
            interval = self.config.classify_interval_s
            start = 0
            bucket = math.floor(batch[0].ts_s / interval)
            for i in range(1, len(batch) + 1):
                b = math.floor(batch[i].ts_s / interval) if i < len(batch) else None
                if b != bucket:
                    self._process_bucket(batch[start:i])
                    start = i
                    if b is not None:
                        bucket = b
            latest = batch[-1].ts_s
            now = latest if now_s is None else max(now_s, latest)
        else:
            now = self._now_s if now_s is None else now_s
        if math.isfinite(now):
            events.extend(self.tick(now))
        return events

    def tick(self, now_s: float) -> list[PresenceEvent]:
        """Let time pass: release buffered observations, close silent zones and visits."""
        self._now_s = max(self._now_s, now_s)
        events = self._merge([t.advance(now_s) for t in self._tables.values()])
        if now_s - self._last_sweep_s >= 10.0:
            self._last_sweep_s = now_s
            self._sweep(now_s)
        return events

    def close(self) -> list[PresenceEvent]:
        """End of stream: close every open zone and visit (reason ``stream_closed``)."""
        events = self._merge([t.close_all() for t in self._tables.values()])
        for dev in self._devices.values():
            for slot in dev.slots.values():
                self._bank.release(slot)
        self._devices.clear()
        return events

    # -- internals -------------------------------------------------------------------------

    def _process_bucket(self, batch: list[Reading]) -> None:
        slots = np.empty(len(batch), dtype=np.intp)
        ts = np.empty(len(batch), dtype=np.float64)
        z = np.empty(len(batch), dtype=np.float64)
        touched: dict[str, float] = {}
        for i, r in enumerate(batch):
            dev = self._devices.get(r.device_key)
            if dev is None:
                dev = _Device(r.signal, {}, {}, r.ts_s)
                self._devices[r.device_key] = dev
            slot = dev.slots.get(r.sensor_id)
            if slot is None:
                slot = self._bank.allocate(dev.signal)
                dev.slots[r.sensor_id] = slot
            dev.slot_ts[r.sensor_id] = r.ts_s
            dev.last_seen_s = r.ts_s
            rssi = r.rssi_dbm
            if r.signal == "ble" and r.tx_power_1m_dbm is not None:
                rssi += BLE_REFERENCE_P1M_DBM - r.tx_power_1m_dbm
            slots[i], ts[i], z[i] = slot, r.ts_s, rssi
            touched[r.device_key] = r.ts_s
        self._bank.update(slots, ts, z)
        by_signal: dict[str, list[str]] = {}
        for key in touched:
            by_signal.setdefault(self._devices[key].signal, []).append(key)
        for signal, keys in by_signal.items():
            self._classify(signal, keys, touched)

    def _classify(self, signal: str, keys: list[str], at: Mapping[str, float]) -> None:
        stale = self.config.tuning[signal].stale_after_s
        n_cols = len(self._columns)
        rows: list[int] = []
        cols: list[int] = []
        slot_list: list[int] = []
        t_list: list[float] = []
        for row, key in enumerate(keys):
            dev = self._devices[key]
            t = at[key]
            for sensor, slot in dev.slots.items():
                if t - dev.slot_ts[sensor] <= stale:
                    rows.append(row)
                    cols.append(self._columns[sensor])
                    slot_list.append(slot)
                    t_list.append(t)
        matrix = np.full((len(keys), n_cols), np.nan)
        if slot_list:
            mean, _ = self._bank.predict(np.array(slot_list), np.array(t_list))
            matrix[np.array(rows), np.array(cols)] = mean
        table = self._tables[signal]
        # hysteresis against the zone that held (as the dwell machine would confirm it), not
        # the last guess; kept here, not read from the table, so batching never changes it
        devs = [self._devices[k] for k in keys]
        grace = self.config.dwell[signal].grace_exit_s
        previous = np.array(
            [
                d.sticky if at[k] - d.sticky_seen_s <= grace else -1
                for k, d in zip(keys, devs, strict=True)
            ],
            dtype=np.intp,
        )
        with np.errstate(invalid="ignore"):
            loudest = np.where(np.isnan(matrix), -np.inf, matrix).max(axis=1)
        custom = self._custom.get(signal)
        link = self._grids.get(signal)
        if link is not None:
            proba, best = self._filter_rows(link, devs, [at[k] for k in keys], matrix, previous)
        elif custom is not None:
            proba, best = self._classify_rows(custom, matrix, previous)
        else:
            proba, best = self._classifiers[signal].classify_many(matrix, previous)
        if link is not None or custom is not None:
            # the signal's floor holds for every classifier: a fingerprint always has a
            # nearest zone, a phone heard only faintly (the sidewalk) is in none
            faint = loudest < self.config.tuning[signal].floor_dbm
            proba[faint] = 0.0
            best[faint] = -1
        since = (
            self._rising(link.grid.tuning, devs, [at[k] for k in keys], proba, best, stale)
            if link is not None
            else [None] * len(keys)
        )
        for row, key in enumerate(keys):
            b = int(best[row])
            p = float(proba[row, b]) if b >= 0 else 0.0
            self._hold(devs[row], b, p, at[key], self.config.dwell[signal])
            rssi = float(loudest[row]) if math.isfinite(loudest[row]) else None
            if b < 0:
                obs = ZoneObservation(None, 0.0, rssi)
            else:
                obs = ZoneObservation(self._zones[b], float(proba[row, b]), rssi, since[row])
            table.push(key, obs, at[key])

    @staticmethod
    def _rising(
        tuning: GridFilterTuning,
        devs: list[_Device],
        times: list[float],
        proba: FloatArray,
        best: npt.NDArray[np.intp],
        stale_s: float,
    ) -> list[float | None]:
        """When the evidence for each row's zone began: the start of the zone's unbroken
        run of classifications with at least ``backdate_mass`` (a silence longer than the
        signal's staleness breaks it), at most ``backdate_max_s`` back. A belief crosses the
        margin some seconds after the shopper crossed; the run starts nearer the crossing."""
        rising = proba >= tuning.backdate_mass
        rising[best < 0] = False
        out: list[float | None] = []
        for row, (dev, t) in enumerate(zip(devs, times, strict=True)):
            before = dev.rising_since
            if before is None or t - dev.classified_s > stale_s:
                before = np.full(proba.shape[1], np.nan)
            now = np.where(rising[row], np.where(np.isnan(before), t, before), np.nan)
            dev.rising_since, dev.classified_s = now, t
            b = int(best[row])
            began = float(now[b]) if b >= 0 else math.nan
            out.append(None if math.isnan(began) else max(began, t - tuning.backdate_max_s))
        return out

    @staticmethod
    def _hold(dev: _Device, best: int, probability: float, t_s: float, cfg: DwellConfig) -> None:
        """Mirror the dwell machine's confirmation and exit to know which zone the hysteresis
        favours: none once the held zone went unsupported for the exit grace (the machine
        has closed it; favouring it still would hold a device in no zone)."""
        if dev.sticky >= 0 and t_s - dev.sticky_seen_s > cfg.grace_exit_s:
            dev.sticky = -1
        if best < 0 or probability < cfg.min_probability:
            return  # supports nothing: a rival keeps its run (as in positioning.dwell)
        if best == dev.sticky:
            dev.rival, dev.rival_count, dev.sticky_seen_s = -1, 0, t_s
            return
        if best == dev.rival:
            dev.rival_count += 1
        else:
            dev.rival, dev.rival_count, dev.rival_since_s = best, 1, t_s
        # the machine's own rule: a switch may demand longer evidence than a first enter
        need_s = cfg.confirm_enter_s if cfg.confirm_switch_s is None else cfg.confirm_switch_s
        need_samples = cfg.confirm_switch_min_samples or cfg.confirm_min_samples
        if dev.sticky < 0 or (
            t_s - dev.rival_since_s >= need_s and dev.rival_count >= need_samples
        ):
            dev.sticky, dev.rival, dev.rival_count, dev.sticky_seen_s = best, -1, 0, t_s

    def _filter_rows(
        self,
        link: _GridLink,
        devs: list[_Device],
        times: list[float],
        matrix: FloatArray,
        previous: npt.NDArray[np.intp],
    ) -> tuple[FloatArray, npt.NDArray[np.intp]]:
        """One grid-filter step for each device: predict since its last step (or start from
        the uniform belief), update with its row, keep the new belief on the device."""
        grid = link.grid
        query = np.full((len(devs), link.columns.size), np.nan)
        known = link.columns >= 0
        query[:, known] = matrix[:, link.columns[known]]
        belief = grid.initial(len(devs))
        dt = np.zeros(len(devs))
        going = np.zeros(len(devs), dtype=np.bool_)
        for i, (dev, t) in enumerate(zip(devs, times, strict=True)):
            if dev.belief is not None and t - dev.belief_ts_s <= grid.tuning.reset_after_s:
                belief[i], dt[i], going[i] = dev.belief, t - dev.belief_ts_s, True
        if going.any():
            belief[going] = grid.predict(belief[going], dt[going])
        belief = grid.update(belief, query)
        for i, (dev, t) in enumerate(zip(devs, times, strict=True)):
            # a copy per device, not a view: a view would keep the whole batch alive
            dev.belief, dev.belief_ts_s = belief[i].astype(np.float32), t
        proba = np.zeros((len(devs), len(self._zones)))
        proba[:, link.zones] = grid.zone_probabilities(belief)
        return proba, grid.decide(proba, previous)

    def _classify_rows(
        self, clf: ZoneClassifier, matrix: FloatArray, previous: npt.NDArray[np.intp]
    ) -> tuple[FloatArray, npt.NDArray[np.intp]]:
        sensors = list(self._columns)
        zone_index = {z: i for i, z in enumerate(self._zones)}
        proba = np.zeros((matrix.shape[0], len(self._zones)))
        best = np.full(matrix.shape[0], -1, dtype=np.intp)
        for row in range(matrix.shape[0]):
            rssi = {s: float(v) for s, v in zip(sensors, matrix[row], strict=True) if v == v}
            prev = self._zones[previous[row]] if previous[row] >= 0 else None
            est = clf.classify(rssi, prev)
            for zone, p in est.probabilities.items():
                if zone in zone_index:
                    proba[row, zone_index[zone]] = p
            if est.zone is not None and est.zone in zone_index:
                best[row] = zone_index[est.zone]
        return proba, best

    @staticmethod
    def _merge(lists: list[list[PresenceEvent]]) -> list[PresenceEvent]:
        if len(lists) == 1:
            return lists[0]
        merged = [e for events in lists for e in events]
        merged.sort(key=lambda e: e.ts_s)  # stable: one device's order is kept
        return merged

    def _sweep(self, now_s: float) -> None:
        horizon = now_s - self.config.visits.visit_gap_s - self.config.filter_eviction_margin_s
        gone = [k for k, d in self._devices.items() if d.last_seen_s < horizon]
        for key in gone:
            for slot in self._devices.pop(key).slots.values():
                self._bank.release(slot)
        if gone:
            _LOGGER.debug("released the filters of %d silent devices", len(gone))


@dataclass(frozen=True, slots=True)
class FingerprintTuning:
    """How a tracker uses a site survey (tuned on the simulated store, docs/evaluation.md)."""

    k: int = 15
    """Neighbours voting: a survey has about 4 fingerprints per square metre."""
    switch_margin: float = 0.6
    """Another zone's vote share must beat the held zone's by this much (hysteresis)."""
    min_probability: float = 0.3
    """The dwell machine's support threshold for kNN vote shares (0.6 suits softmax RSSI
    probabilities; a zone holding 30 % of 15 votes and the most of them supports it)."""


def fingerprint_tracker(
    sensor_zones: Mapping[str, str],
    sensors: Sequence[str],
    rssi_matrix: npt.ArrayLike,
    zone_labels: Sequence[str],
    config: TrackerConfig | None = None,
    tuning: FingerprintTuning | None = None,
    signal: str = "ble",
    *,
    xy_m: npt.ArrayLike | None = None,
    grid: GridFilterTuning | None = None,
) -> PresenceTracker:
    """A tracker whose ``signal`` devices are placed from surveyed fingerprints.

    ``rssi_matrix`` rows are fingerprints, columns ``sensors``, NaN where not heard (what
    ``footfall zones record`` records); zones the survey names must be zones of
    ``sensor_zones``. With ``xy_m`` (the ``(x_m, y_m)`` spot of every fingerprint) devices
    are tracked over the surveyed spots by a :class:`~positioning.gridfilter.GridFilter`
    (``grid`` settings, which also set that signal's Kalman process noise, the dwell
    machine's switch confirmation, and the back-dating of zone changes); without, a kNN
    classifies each second (``tuning``). The floor, dwell and visits are the tracker's own.
    """
    cfg = config if config is not None else TrackerConfig()
    unknown = set(zone_labels) - set(sensor_zones.values())
    if unknown:
        raise TrackerConfigError(f"survey zones {sorted(unknown)} are not zones of the sensors")
    clf: ZoneClassifier | GridFilter
    if xy_m is not None:
        gt = grid or GridFilterTuning()
        clf = GridFilter(sensors, gt).fit(rssi_matrix, list(zone_labels), xy_m)
        dwell_cfg = replace(
            cfg.dwell[signal],
            min_probability=gt.min_probability,
            confirm_switch_s=gt.confirm_switch_s,
            confirm_switch_min_samples=gt.confirm_switch_min_samples,
        )
        kalman = {
            **cfg.kalman,
            signal: replace(
                cfg.kalman[signal], process_noise_dbm2_per_s=gt.rssi_process_noise_dbm2_per_s
            ),
        }
        cfg = replace(cfg, kalman=kalman)
    else:
        fp = tuning or FingerprintTuning()
        knn = FingerprintClassifier(fp.k, sensors=sensors, switch_margin=fp.switch_margin)
        clf = knn.fit(rssi_matrix, list(zone_labels))
        dwell_cfg = replace(cfg.dwell[signal], min_probability=fp.min_probability)
    dwell = {**cfg.dwell, signal: dwell_cfg}
    return PresenceTracker(sensor_zones, replace(cfg, dwell=dwell), classifiers={signal: clf})


def _sum_counters(counters: list[TableCounters]) -> TableCounters:
    return TableCounters(
        accepted=sum(c.accepted for c in counters),
        dropped_late=sum(c.dropped_late for c in counters),
        dropped_bad_time=sum(c.dropped_bad_time for c in counters),
        evicted_stale=sum(c.evicted_stale for c in counters),
        evicted_capacity=sum(c.evicted_capacity for c in counters),
    )


__all__ = [
    "BLE_REFERENCE_P1M_DBM",
    "DEFAULT_TUNING",
    "FingerprintTuning",
    "PresenceTracker",
    "Reading",
    "SignalTuning",
    "TrackerConfig",
    "TrackerConfigError",
    "TrackerCounters",
    "fingerprint_tracker",
]
