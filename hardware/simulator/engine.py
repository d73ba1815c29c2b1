"""The simulated store: builds the population, emits radio records in time order, knows the truth.

:class:`SimulatedStore` is seeded and deterministic: the same plan, config and seed give
the same people, the same records (byte for byte in the written files) and the same truth.
Records come out of :meth:`SimulatedStore.records` merged in time order while only the
people currently around hold generated records, so a whole day streams in bounded memory.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hardware.simulator.floorplan import FloorPlan, default_store
from hardware.simulator.population import (
    LOYALTY_MAJOR,
    LOYALTY_UUID,
    Person,
    PersonKind,
    PopulationConfig,
    make_ble_phone,
    make_wifi_phone,
    passer_by_track,
    shopper_track,
    staff_track,
)
from hardware.simulator.radio import Channel, RadioModel

FloatArray = npt.NDArray[np.float64]

DEFAULT_START_TS_S = 1795424400.0
"""2026-11-23T09:00:00Z, a Monday morning opening."""

WIFI_CHANNELS = (1, 6, 11)
"""A probe burst scans the three non-overlapping 2.4 GHz channels in turn."""
_CHANNEL_DWELL_S = 0.04
"""Time a phone spends on one channel of a burst."""
_FRAME_GAP_S = 0.004
"""Gap between probe requests on one channel."""
_TRUTH_STEP_S = 0.1
"""Resolution of the truth's zone intervals."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything that shapes a simulation besides the floor plan and the seed."""

    duration_s: float = 3600.0
    """Arrivals happen in ``[start, start + duration)``; the run lasts until the last one left."""
    start_ts_s: float = DEFAULT_START_TS_S
    population: PopulationConfig = field(default_factory=PopulationConfig)
    radio: RadioModel = field(default_factory=RadioModel)

    def __post_init__(self) -> None:
        if not self.duration_s > 0:
            raise ValueError(f"'duration_s' must be > 0 (got {self.duration_s})")


@dataclass(frozen=True, slots=True)
class SimBleAdvert:
    """One BLE advertisement heard by one sensor (what a bleak callback would give)."""

    ts_s: float
    sensor_id: str
    address: str
    rssi_dbm: int
    manufacturer_data: dict[int, bytes]
    """Company id → payload; the loyalty app's iBeacon under Apple's 0x004C."""


@dataclass(frozen=True, slots=True)
class SimProbe:
    """One Wi-Fi probe request heard by one sensor's monitor radio."""

    ts_s: float
    sensor_id: str
    mac: str
    rssi_dbm: int
    channel: int
    seq_num: int
    ies: tuple[tuple[int, bytes], ...]
    """Information elements after the wildcard SSID and the supported rates, in order."""


SimRecord = SimBleAdvert | SimProbe


def ibeacon_payload(minor: int, tx_power_1m_dbm: int) -> bytes:
    """The Apple manufacturer data of an iBeacon: 0x02 0x15, UUID, major, minor, power."""
    uuid = bytes.fromhex(LOYALTY_UUID.replace("-", ""))
    return (
        bytes([0x02, 0x15])
        + uuid
        + LOYALTY_MAJOR.to_bytes(2, "big")
        + minor.to_bytes(2, "big")
        + (tx_power_1m_dbm & 0xFF).to_bytes(1, "big")
    )


class SimulatedStore:
    """A seeded store simulation: people, their phones, the radio channel and the truth."""

    def __init__(
        self, plan: FloorPlan | None = None, config: SimConfig | None = None, seed: int = 0
    ) -> None:
        self.plan = plan if plan is not None else default_store()
        self.config = config if config is not None else SimConfig()
        self.seed = seed
        rng = np.random.default_rng([seed, 0])
        self.channel = Channel(self.plan, self.config.radio, rng)
        self.people: tuple[Person, ...] = self._populate(rng)
        self._sensor_ids = [s.sensor_id for s in self.plan.sensors]
        self._sensor_channels = np.array([s.wifi_channel for s in self.plan.sensors])

    @property
    def start_ts_s(self) -> float:
        return self.config.start_ts_s

    @property
    def end_ts_s(self) -> float:
        """When the last person has left (or the period ends, for staff)."""
        return max([p.track.end_s for p in self.people], default=self.start_ts_s)

    def _populate(self, rng: np.random.Generator) -> tuple[Person, ...]:
        cfg = self.config.population
        t0 = self.config.start_ts_s
        t1 = t0 + self.config.duration_s
        plans: list[tuple[float, PersonKind]] = []
        for kind, per_hour in (
            (PersonKind.SHOPPER, cfg.shoppers_per_hour),
            (PersonKind.PASSER_BY, cfg.passers_by_per_hour),
        ):
            if per_hour <= 0:
                continue
            t = t0 + float(rng.exponential(3600.0 / per_hour))
            while t < t1:
                plans.append((t, kind))
                t += float(rng.exponential(3600.0 / per_hour))
        plans.sort(key=lambda p: p[0])
        people: list[Person] = []
        minor = 0
        staff_homes = [z for z in self.plan.zones if z.name == "checkout"] + list(self.plan.zones)
        specs: list[tuple[float, PersonKind, int]] = [
            (t0, PersonKind.STAFF, i) for i in range(cfg.staff)
        ] + [(t, k, 0) for t, k in plans]
        for t, kind, staff_i in specs:
            if kind is PersonKind.SHOPPER:
                track, stops = shopper_track(self.plan, cfg, t, rng)
            elif kind is PersonKind.PASSER_BY:
                track, stops = passer_by_track(self.plan, cfg, t, rng)
            else:
                home = staff_homes[staff_i % len(staff_homes)]
                track, stops = staff_track(self.plan, cfg, t0, t1, rng, home)
            ble = None
            if rng.random() < cfg.ble_app_share:
                minor += 1
                ble = make_ble_phone(cfg, minor, rng)
            wifi = None
            if rng.random() < cfg.wifi_share:
                wifi = make_wifi_phone(track.start_s, track.end_s, rng)
            offset = float(rng.normal(0.0, self.config.radio.device_offset_sigma_db))
            people.append(Person(f"p{len(people):05d}", kind, track, offset, ble, wifi, stops))
        return tuple(people)

    # -- records -------------------------------------------------------------------------

    def _person_records(self, index: int) -> list[SimRecord]:
        """Every record one person's phone produces, in time order (own generator per person)."""
        person = self.people[index]
        rng = np.random.default_rng([self.seed, 1, index])
        radio = self.config.radio
        out: list[tuple[float, int, SimRecord]] = []
        track = person.track
        if person.ble is not None:
            ble = person.ble
            period = 1.0 / ble.adv_rate_hz
            ts = np.arange(track.start_s + float(rng.uniform(0, period)), track.end_s, period)
            ts = ts + rng.uniform(0.0, 0.01, size=ts.size)  # BLE advDelay 0-10 ms
            payload = {0x004C: ibeacon_payload(ble.minor, ble.tx_power_1m_dbm)}
            xs, ys = track.position(ts)
            facing = track.facing(ts)
            for s_idx, sensor_id in enumerate(self._sensor_ids):
                rssi = self.channel.mean_rssi_dbm(
                    s_idx, xs, ys, facing, radio.ble_p1m_dbm + person.p_offset_db
                ) + self.channel.fading_db(rng, ts.size)
                heard = (rssi >= radio.ble_sensitivity_dbm) & (
                    rng.random(ts.size) < radio.ble_capture_probability
                )
                for t, r in zip(ts[heard], np.round(rssi[heard]), strict=True):
                    out.append(
                        (
                            float(t),
                            s_idx,
                            SimBleAdvert(float(t), sensor_id, ble.address, int(r), payload),
                        )
                    )
        if person.wifi is not None:
            out.extend(self._probe_records(person, rng))
        out.sort(key=lambda r: (r[0], r[1]))
        return [r[2] for r in out]

    def _probe_records(
        self, person: Person, rng: np.random.Generator
    ) -> list[tuple[float, int, SimRecord]]:
        assert person.wifi is not None  # noqa: S101  (checked by the caller)
        wifi = person.wifi
        model = wifi.model
        radio = self.config.radio
        track = person.track
        change_ts = np.array([c[0] for c in wifi.mac_schedule])
        frame_ts: list[float] = []
        frame_ch: list[int] = []
        frame_mac: list[str] = []
        frame_seq: list[int] = []
        seq = wifi.first_seq
        mac_idx = 0
        t = track.start_s + float(rng.uniform(0.0, model.probe_interval_s[1]))
        while t < track.end_s:
            new_idx = int(np.searchsorted(change_ts, t, side="right") - 1)
            if new_idx != mac_idx:
                mac_idx = new_idx
                if not model.keeps_seq_on_rotation:
                    seq = int(rng.integers(0, 4096))
            for c_i, ch in enumerate(WIFI_CHANNELS):
                for k in range(model.frames_per_channel):
                    frame_ts.append(t + c_i * _CHANNEL_DWELL_S + k * _FRAME_GAP_S)
                    frame_ch.append(ch)
                    frame_mac.append(wifi.mac_schedule[mac_idx][1])
                    frame_seq.append(seq)
                    seq = (seq + 1) % 4096
            t += float(rng.uniform(*model.probe_interval_s))
        out: list[tuple[float, int, SimRecord]] = []
        if not frame_ts:
            return out
        ts = np.array(frame_ts)
        chs = np.array(frame_ch)
        xs, ys = track.position(ts)
        facing = track.facing(ts)
        for s_idx, sensor_id in enumerate(self._sensor_ids):
            on_channel = chs == self._sensor_channels[s_idx]
            rssi = self.channel.mean_rssi_dbm(
                s_idx, xs, ys, facing, radio.wifi_p1m_dbm + person.p_offset_db
            ) + self.channel.fading_db(rng, ts.size)
            heard = (
                on_channel
                & (rssi >= radio.wifi_sensitivity_dbm)
                & (rng.random(ts.size) < radio.wifi_capture_probability)
            )
            for i in np.flatnonzero(heard):
                out.append(
                    (
                        float(ts[i]),
                        s_idx,
                        SimProbe(
                            float(ts[i]),
                            sensor_id,
                            frame_mac[i],
                            round(float(rssi[i])),
                            int(chs[i]),
                            frame_seq[i],
                            model.ies,
                        ),
                    )
                )
        return out

    def records(self) -> Iterator[SimRecord]:
        """Every record of the run in time order (ties: person order, then sensor order)."""
        order = sorted(range(len(self.people)), key=lambda i: (self.people[i].track.start_s, i))
        heap: list[tuple[float, int, int]] = []  # (ts, person index, position)
        live: dict[int, list[SimRecord]] = {}
        next_person = 0
        while heap or next_person < len(order):
            while next_person < len(order) and (
                not heap or self.people[order[next_person]].track.start_s <= heap[0][0]
            ):
                idx = order[next_person]
                next_person += 1
                recs = self._person_records(idx)
                if recs:
                    live[idx] = recs
                    heapq.heappush(heap, (recs[0].ts_s, idx, 0))
            if not heap:
                continue
            _ts, idx, pos = heapq.heappop(heap)
            recs = live[idx]
            yield recs[pos]
            if pos + 1 < len(recs):
                heapq.heappush(heap, (recs[pos + 1].ts_s, idx, pos + 1))
            else:
                del live[idx]

    def stream(
        self, sleep: Callable[[float], None] | None = None, speed: float = 1.0
    ) -> Iterator[SimRecord]:
        """:meth:`records`, paced: before each record ``sleep`` the simulated gap / ``speed``.

        With ``sleep=None`` records come as fast as they are generated. The caller passes
        the sleep (``time.sleep``, an event loop's, a test's recorder): nothing here reads a clock.
        """
        if speed <= 0:
            raise ValueError(f"'speed' must be > 0 (got {speed})")
        prev: float | None = None
        for rec in self.records():
            if sleep is not None and prev is not None and rec.ts_s > prev:
                sleep((rec.ts_s - prev) / speed)
            prev = rec.ts_s
            yield rec

    # -- truth ---------------------------------------------------------------------------

    def truth(self) -> dict[str, Any]:
        """The ground truth document (``truth.json``, schema 1); see docs/simulator.md."""
        people = [self._person_truth(p) for p in self.people]
        devices: list[dict[str, Any]] = []
        for p in self.people:
            if p.ble is not None:
                devices.append(
                    {
                        "device_id": f"{p.person_id}-ble",
                        "person_id": p.person_id,
                        "signal": "ble",
                        "adv_rate_hz": p.ble.adv_rate_hz,
                        "identifiers": [
                            {
                                "id": p.ble.beacon_id,
                                "from_ts_s": p.track.start_s,
                                "to_ts_s": p.track.end_s,
                                "randomized": False,
                            }
                        ],
                    }
                )
            if p.wifi is not None:
                sched = p.wifi.mac_schedule
                devices.append(
                    {
                        "device_id": f"{p.person_id}-wifi",
                        "person_id": p.person_id,
                        "signal": "wifi",
                        "model": p.wifi.model.name,
                        "identifiers": [
                            {
                                "id": mac,
                                "from_ts_s": frm,
                                "to_ts_s": sched[i + 1][0] if i + 1 < len(sched) else p.track.end_s,
                                "randomized": p.wifi.model.randomizes,
                            }
                            for i, (frm, mac) in enumerate(sched)
                        ],
                    }
                )
        return {
            "schema": 1,
            "seed": self.seed,
            "start_ts_s": self.start_ts_s,
            "end_ts_s": self.end_ts_s,
            "duration_s": self.config.duration_s,
            "layout": self.plan.to_json(),
            "people": people,
            "devices": devices,
        }

    def _person_truth(self, p: Person) -> dict[str, Any]:
        track = p.track
        ts = np.arange(track.start_s, track.end_s + _TRUTH_STEP_S / 2, _TRUTH_STEP_S)
        xs, ys = track.position(ts)
        zone_idx = self.plan.zone_index(xs, ys)
        intervals: list[list[Any]] = []
        start = 0
        for i in range(1, ts.size + 1):
            if i == ts.size or zone_idx[i] != zone_idx[start]:
                if zone_idx[start] >= 0:
                    end = float(ts[i]) if i < ts.size else float(ts[-1])
                    name = self.plan.zones[int(zone_idx[start])].name
                    intervals.append([name, round(float(ts[start]), 3), round(end, 3)])
                start = i
        inside = self.plan.inside_store(xs, ys)
        visits: list[dict[str, Any]] = []
        if inside.any():
            first = float(ts[int(np.argmax(inside))])
            last = float(ts[ts.size - 1 - int(np.argmax(inside[::-1]))])
            zones: list[str] = []
            for name, frm, to in intervals:
                if to - frm >= 10.0 and (not zones or zones[-1] != name):
                    zones.append(name)
            visits.append(
                {
                    "start_ts_s": round(first, 3),
                    "end_ts_s": round(last, 3),
                    "dwell_s": round(last - first, 3),
                    "zones": zones,
                    "class": "staff" if p.kind is PersonKind.STAFF else "visitor",
                }
            )
        return {
            "person_id": p.person_id,
            "kind": p.kind.value,
            "track": [
                [round(float(t), 3), round(float(x), 3), round(float(y), 3)]
                for t, x, y in zip(track.ts_s, track.xs_m, track.ys_m, strict=True)
            ],
            "stops": [[round(a, 3), round(b, 3)] for a, b in p.stops],
            "zone_intervals": intervals,
            "visits": visits,
        }


def rotation_count(store: SimulatedStore) -> int:
    """Number of MAC changes across all randomizing phones (for tests and the docs)."""
    return sum(len(p.wifi.mac_schedule) - 1 for p in store.people if p.wifi is not None)


def expected_ble_adverts(store: SimulatedStore) -> float:
    """Adverts all BLE phones send over their time in range (before reception losses)."""
    return sum(
        p.ble.adv_rate_hz * (p.track.end_s - p.track.start_s)
        for p in store.people
        if p.ble is not None
    )


__all__ = [
    "DEFAULT_START_TS_S",
    "WIFI_CHANNELS",
    "SimBleAdvert",
    "SimConfig",
    "SimProbe",
    "SimRecord",
    "SimulatedStore",
    "expected_ble_adverts",
    "ibeacon_payload",
    "rotation_count",
]
