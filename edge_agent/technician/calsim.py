"""Simulated technician sessions: a calibration beacon at a known distance, a walk through zones.

Both produce raw iBeacon advertisements that go through the real decoder
(``hardware.ble.decode_advertisement``) and the real privacy step
(``hardware.sightings.sighting_from_ble`` with the site's
:class:`~hardware.privacy.DeviceKeyer`), so the technician commands see exactly
what a radio would give them.

:class:`CalibrationBeaconSim` has a *known* truth (``p1m_dbm``, ``n``): RSSI at
distance ``d`` is ``P1m - 10 n log10(d)`` + Gaussian shadowing + Rician fast
fading (the store simulator's model) + occasional body blocking, rounded to whole
dBm. :class:`WalkSim` carries the beacon through the store simulator's floor plan
and radio channel (``hardware.simulator``): standing in zones, walking between them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hardware.ble import decode_advertisement
from hardware.observations import Sighting
from hardware.privacy import DeviceKeyer
from hardware.sightings import sighting_from_ble
from hardware.simulator import FloorPlan, RadioModel, default_store
from hardware.simulator.radio import Channel

__all__ = [
    "CALIBRATION_BEACON_ID",
    "CalibrationBeaconSim",
    "WalkLeg",
    "WalkSim",
    "ibeacon_manufacturer_data",
]

CALIBRATION_UUID = "5f0b1c2e-7a44-4c1b-9d3e-0c0ffee0ca1b"
CALIBRATION_MAJOR, CALIBRATION_MINOR = 1, 1
CALIBRATION_BEACON_ID = f"ibeacon:{CALIBRATION_UUID}:{CALIBRATION_MAJOR}:{CALIBRATION_MINOR}"
"""The simulated technician beacon's id, as the decoder reports it."""
APPLE_COMPANY_ID = 0x004C


def ibeacon_manufacturer_data(uuid: str, major: int, minor: int, tx_power_dbm: int) -> bytes:
    """Apple manufacturer data of an iBeacon: 0x02 0x15, UUID, major, minor, measured power."""
    return (
        bytes([0x02, 0x15])
        + bytes.fromhex(uuid.replace("-", ""))
        + major.to_bytes(2, "big")
        + minor.to_bytes(2, "big")
        + (tx_power_dbm & 0xFF).to_bytes(1, "big")
    )


def _sighting(
    keyer: DeviceKeyer, payload: bytes, ts_s: float, rssi_dbm: float, sensor_id: str
) -> Sighting | None:
    for frame in decode_advertisement(manufacturer_data={APPLE_COMPANY_ID: payload}):
        sighting = sighting_from_ble(
            frame, ts_s=ts_s, rssi_dbm=rssi_dbm, sensor_id=sensor_id, keyer=keyer
        )
        if sighting is not None:
            return sighting
    return None


def rician_fading_db(rng: np.random.Generator, k: float, size: int) -> np.ndarray:
    """Rician fast fading in dB, unit mean power (as ``hardware.simulator.radio``)."""
    los = math.sqrt(k / (k + 1.0))
    scatter = math.sqrt(1.0 / (2.0 * (k + 1.0)))
    re = los + scatter * rng.standard_normal(size)
    im = scatter * rng.standard_normal(size)
    return np.asarray(10.0 * np.log10(np.maximum(re * re + im * im, 1e-6)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class CalibrationBeaconSim:
    """A calibration beacon held at a tape-measured distance from one sensor; known truth."""

    p1m_dbm: float = -59.0
    n: float = 2.2
    sigma_db: float = 2.0
    """Shadowing: a fresh Gaussian draw per reading (the technician's hand, people moving)."""
    rician_k: float = 8.0
    body_block_share: float = 0.05
    """Share of readings blocked by a passing body..."""
    body_loss_db: float = 10.0
    """...and what they lose."""
    adverts_per_s: float = 10.0
    capture_probability: float = 0.7
    sensitivity_dbm: float = -100.0
    sensor_id: str = "sim-sensor"
    tx_power_dbm: int = -59
    """The power at 1 m the beacon announces (its factory value, not the truth)."""
    seed: int = 1

    def sightings(
        self, keyer: DeviceKeyer, distance_m: float, seconds: float, start_ts_s: float
    ) -> Iterator[Sighting]:
        """The sightings of ``seconds`` of adverts at ``distance_m``, in time order."""
        if not distance_m > 0:
            raise ValueError(f"'distance_m' must be > 0 (got {distance_m})")
        # one stream per distance, reproducible whatever order the distances come in
        rng = np.random.default_rng([self.seed, round(distance_m * 1000)])
        count = int(seconds * self.adverts_per_s)
        ts = start_ts_s + np.arange(count) / self.adverts_per_s
        rssi = self.p1m_dbm - 10.0 * self.n * math.log10(distance_m)
        # fading centred on its median: the truth P1m is the median reading at 1 m without
        # body blocking, the convention of a beacon's "measured power"
        fading_db = rician_fading_db(rng, self.rician_k, count)
        fading_db -= np.median(fading_db) if count else 0.0
        values = (
            rssi
            + rng.normal(0.0, self.sigma_db, count)
            + fading_db
            - self.body_loss_db * (rng.random(count) < self.body_block_share)
        )
        heard = (rng.random(count) < self.capture_probability) & (values >= self.sensitivity_dbm)
        payload = ibeacon_manufacturer_data(
            CALIBRATION_UUID, CALIBRATION_MAJOR, CALIBRATION_MINOR, self.tx_power_dbm
        )
        for t, v, ok in zip(ts.tolist(), np.round(values).tolist(), heard.tolist(), strict=True):
            if ok:
                sighting = _sighting(keyer, payload, t, float(v), self.sensor_id)
                if sighting is not None:
                    yield sighting


@dataclass(frozen=True, slots=True)
class WalkLeg:
    """Stand in ``zone`` for ``seconds`` (after walking there from the previous leg)."""

    zone: str
    seconds: float


class WalkSim:
    """The technician's beacon carried through a floor plan, heard by every sensor of it.

    Walking between zones at ``speed_mps`` takes time of its own, counted inside the
    next leg's ``seconds`` (the technician's stopwatch starts when they leave).
    """

    def __init__(
        self,
        plan: FloorPlan | None = None,
        radio: RadioModel | None = None,
        *,
        seed: int = 1,
        adverts_per_s: float = 10.0,
        speed_mps: float = 1.0,
        tx_power_dbm: int = -59,
        store_seed: int = 1,
    ) -> None:
        self.plan = plan if plan is not None else default_store()
        self.radio = radio if radio is not None else RadioModel()
        self.seed = seed
        self.adverts_per_s = adverts_per_s
        self.speed_mps = speed_mps
        self.tx_power_dbm = tx_power_dbm
        # the shadowing field belongs to the store, not to one walk: fingerprints recorded
        # on one run and a walk test on another (other seeds) see the same store
        self.channel = Channel(self.plan, self.radio, np.random.default_rng([store_seed, 7]))

    def _spot(self, zone: str, rng: np.random.Generator) -> tuple[float, float]:
        """A standing spot inside ``zone``: near its middle, at least 1.5 m from the edge."""
        x0, y0, x1, y1 = self.plan.zone(zone).bounds()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        rx, ry = max((x1 - x0) / 2 - 1.5, 0.0), max((y1 - y0) / 2 - 1.5, 0.0)
        return cx + rng.uniform(-rx, rx) * 0.5, cy + rng.uniform(-ry, ry) * 0.5

    def track(
        self, legs: Sequence[WalkLeg], start_ts_s: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advert times and positions ``(ts_s, x_m, y_m)`` of the walk."""
        known = set(self.plan.zone_names)
        for leg in legs:
            if leg.zone not in known:
                raise ValueError(
                    f"walk zone must be one of {', '.join(sorted(known))} (got {leg.zone!r})"
                )
        rng = np.random.default_rng([self.seed, 11])
        # waypoints: stand at each leg's spot; walk to the next one so that the zone
        # boundary is crossed about when the walk file says the next zone began
        way_t: list[float] = []
        way_x: list[float] = []
        way_y: list[float] = []
        t = start_ts_s
        for i, leg in enumerate(legs):
            spot = self._spot(leg.zone, rng)
            if i > 0:
                half_s = math.dist((way_x[-1], way_y[-1]), spot) / self.speed_mps / 2.0
                half_s = min(half_s, legs[i - 1].seconds / 2.0, leg.seconds / 2.0)
                way_t.append(t - half_s)
                way_x.append(way_x[-1])
                way_y.append(way_y[-1])
                t_arrive = t + half_s
            else:
                t_arrive = t
            way_t.append(t_arrive)
            way_x.append(spot[0])
            way_y.append(spot[1])
            t += leg.seconds
        ts = start_ts_s + np.arange(int((t - start_ts_s) * self.adverts_per_s)) / self.adverts_per_s
        return ts, np.interp(ts, way_t, way_x), np.interp(ts, way_t, way_y)

    def sightings(
        self, keyer: DeviceKeyer, legs: Sequence[WalkLeg], start_ts_s: float
    ) -> Iterator[Sighting]:
        """Every sensor's sightings of the beacon along the walk, in time order."""
        ts, xs, ys = self.track(legs, start_ts_s)
        if ts.size == 0:
            return
        rng = np.random.default_rng([self.seed, 13])
        facing = rng.uniform(-math.pi, math.pi, ts.size)
        p1m = self.radio.ble_p1m_dbm
        per_sensor: list[tuple[str, np.ndarray, np.ndarray]] = []
        for idx, sensor in enumerate(self.plan.sensors):
            mean = self.channel.mean_rssi_dbm(idx, xs, ys, facing, p1m)
            values = np.round(mean + self.channel.fading_db(rng, ts.size))
            heard = (values >= self.radio.ble_sensitivity_dbm) & (
                rng.random(ts.size) < self.radio.ble_capture_probability
            )
            per_sensor.append((sensor.sensor_id, values, heard))
        payload = ibeacon_manufacturer_data(
            CALIBRATION_UUID, CALIBRATION_MAJOR, CALIBRATION_MINOR, self.tx_power_dbm
        )
        for i, t in enumerate(ts.tolist()):
            for sensor_id, values, heard in per_sensor:
                if heard[i]:
                    sighting = _sighting(keyer, payload, t, float(values[i]), sensor_id)
                    if sighting is not None:
                        yield sighting

    def sensor_zones(self) -> Mapping[str, str]:
        return self.plan.sensor_zones()
