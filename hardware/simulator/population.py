"""Who is around the store: shoppers, passers-by and staff, their paths and their phones.

Every person walks a piecewise-linear :class:`Track` (waypoints with times; walking
between them at the person's speed, standing still at a stop). Each person carries
at most one phone, which may advertise a loyalty-app BLE beacon and may send Wi-Fi
probe requests. All draws come from the generator passed in, so a seed fixes everything.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from hardware.simulator.floorplan import FloorPlan, Zone

FloatArray = npt.NDArray[np.float64]

LOYALTY_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
"""Proximity UUID of the simulated loyalty app's iBeacon; major is the app's, minor the person's."""
LOYALTY_MAJOR = 1001


class PersonKind(StrEnum):
    SHOPPER = "shopper"
    PASSER_BY = "passer_by"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class Track:
    """A walk: at ``ts_s[i]`` the person is at ``(xs_m[i], ys_m[i])``, linear in between.

    ``facing_rad[i]`` is the body's facing on segment ``i`` (from waypoint ``i`` to ``i+1``):
    the walking heading while moving, a random direction while standing.
    """

    ts_s: FloatArray
    xs_m: FloatArray
    ys_m: FloatArray
    facing_rad: FloatArray
    moving: npt.NDArray[np.bool_]
    """Per segment: True while walking, False while standing still."""

    @property
    def start_s(self) -> float:
        return float(self.ts_s[0])

    @property
    def end_s(self) -> float:
        return float(self.ts_s[-1])

    def position(self, ts_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        return np.interp(ts_s, self.ts_s, self.xs_m), np.interp(ts_s, self.ts_s, self.ys_m)

    def facing(self, ts_s: FloatArray) -> FloatArray:
        seg = np.clip(
            np.searchsorted(self.ts_s, ts_s, side="right") - 1, 0, len(self.facing_rad) - 1
        )
        return np.asarray(self.facing_rad[seg], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class PhoneModel:
    """A phone family's Wi-Fi behaviour and its probe request information elements."""

    name: str
    randomizes: bool
    """True: locally administered random MACs; False: the burned-in global MAC."""
    rotation_s: tuple[float, float]
    """Range of the MAC rotation period (uniform), seconds; unused when not randomizing."""
    probe_interval_s: tuple[float, float]
    """Range of the gap between probe bursts (uniform), seconds."""
    frames_per_channel: int
    """Probe requests per channel in one burst."""
    keeps_seq_on_rotation: bool
    """True: the 802.11 sequence counter runs on across a MAC change."""
    share: float
    """Share of phones of this model."""
    ies: tuple[tuple[int, bytes], ...] = field(default=())
    """Information elements after the SSID and rates (id, body), fixed per model."""


def _ie_set(name: str, vht: bool, vendor_ouis: tuple[bytes, ...]) -> tuple[tuple[int, bytes], ...]:
    # deterministic per model: the bytes come from a hash of the model name, not from the seed
    h = hashlib.sha256(name.encode()).digest()
    ies: list[tuple[int, bytes]] = [
        (50, bytes([0x30, 0x48, 0x60, 0x6C])),  # extended supported rates
        (45, h[:2] + bytes([0x17]) + b"\xff" + h[2:4] + bytes(20)),  # HT capabilities (26 bytes)
        (127, h[4 : 4 + 4 + h[4] % 5]),  # extended capabilities, model-specific length
    ]
    if vht:
        ies.append((191, h[10:22]))  # VHT capabilities (12 bytes)
    for oui in vendor_ouis:
        ies.append((221, oui + h[22:26]))
    return tuple(ies)


PHONE_MODELS: tuple[PhoneModel, ...] = (
    PhoneModel(
        "ios-recent",
        True,
        (600.0, 900.0),
        (45.0, 120.0),
        2,
        False,
        0.35,
        _ie_set("ios-recent", True, (bytes.fromhex("0017f2"),)),
    ),
    PhoneModel(
        "android-recent",
        True,
        (180.0, 420.0),
        (30.0, 90.0),
        2,
        True,
        0.30,
        _ie_set("android-recent", True, (bytes.fromhex("0050f2"),)),
    ),
    PhoneModel(
        "android-samsung",
        True,
        (240.0, 600.0),
        (40.0, 100.0),
        3,
        True,
        0.15,
        _ie_set("android-samsung", True, (bytes.fromhex("001018"), bytes.fromhex("0050f2"))),
    ),
    PhoneModel(
        "android-legacy",
        False,
        (0.0, 0.0),
        (30.0, 60.0),
        2,
        True,
        0.15,
        _ie_set("android-legacy", False, (bytes.fromhex("0050f2"),)),
    ),
    PhoneModel(
        "feature-phone",
        False,
        (0.0, 0.0),
        (60.0, 120.0),
        1,
        True,
        0.05,
        _ie_set("feature-phone", False, ()),
    ),
)


@dataclass(frozen=True, slots=True)
class BlePhone:
    """The loyalty app's iBeacon on a phone (stable per person; see docs/simulator.md)."""

    beacon_id: str
    """``ibeacon:<uuid>:<major>:<minor>``, the decoder's stable id."""
    minor: int
    address: str
    """The phone's (random static) BLE address; the beacon id, not this, identifies it."""
    adv_rate_hz: float
    tx_power_1m_dbm: int
    """Measured power the beacon announces (the app's calibration, -59 dBm)."""


@dataclass(frozen=True, slots=True)
class WifiPhone:
    model: PhoneModel
    mac_schedule: tuple[tuple[float, str], ...]
    """``(from_ts_s, mac)`` in time order; the MAC in force until the next entry."""
    first_seq: int


@dataclass(frozen=True, slots=True)
class Person:
    person_id: str
    kind: PersonKind
    track: Track
    p_offset_db: float
    """This phone's transmit power offset (model, case), added to every reading."""
    ble: BlePhone | None
    wifi: WifiPhone | None
    stops: tuple[tuple[float, float], ...]
    """``(from_ts_s, to_ts_s)`` of the times this person stood still."""


@dataclass(frozen=True, slots=True)
class PopulationConfig:
    """Who comes, how they move and what they carry."""

    shoppers_per_hour: float = 80.0
    passers_by_per_hour: float = 300.0
    staff: int = 4
    walking_speed_mps: tuple[float, float] = (1.2, 0.15)
    """Mean and standard deviation of a person's walking speed."""
    zones_per_visit: tuple[int, int] = (1, 4)
    """Range (inclusive) of non-entrance zones a shopper browses."""
    stops_per_zone: tuple[int, int] = (1, 3)
    stop_dwell_median_s: float = 60.0
    stop_dwell_sigma: float = 0.7
    """Log-normal shape of one stop's dwell."""
    min_in_store_s: float = 150.0
    """Shoppers stay at least this long (so the truth 'visitor' class is not ambiguous)."""
    checkout_share: float = 0.6
    staff_stop_s: tuple[float, float] = (300.0, 1200.0)
    passer_by_linger_share: float = 0.1
    """Share of passers-by who stop at the window for 10-60 s."""
    ble_app_share: float = 0.35
    """Share of people whose phone runs the loyalty app (BLE beacon)."""
    wifi_share: float = 0.85
    """Share of phones with Wi-Fi on (probing)."""
    ble_rates_hz: tuple[float, ...] = (1.0, 2.0, 4.0, 10.0)
    ble_rate_weights: tuple[float, ...] = (0.3, 0.35, 0.3, 0.05)

    def __post_init__(self) -> None:
        for name in ("shoppers_per_hour", "passers_by_per_hour"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name!r} must be >= 0 (got {getattr(self, name)})")
        for name in ("ble_app_share", "wifi_share", "checkout_share", "passer_by_linger_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name!r} must be in [0, 1] (got {getattr(self, name)})")
        if self.staff < 0:
            raise ValueError(f"'staff' must be >= 0 (got {self.staff})")


_TURN_EVERY_S = (5.0, 20.0)
"""A browsing shopper turns to another shelf this often (uniform range, seconds)."""


class _Walker:
    """Builds a track waypoint by waypoint."""

    def __init__(self, t_s: float, x: float, y: float, speed_mps: float, rng: np.random.Generator):
        self.ts = [t_s]
        self.xs = [x]
        self.ys = [y]
        self.facing: list[float] = []
        self.moving: list[bool] = []
        self.stops: list[tuple[float, float]] = []
        self.speed = speed_mps
        self.rng = rng

    def walk(self, x: float, y: float) -> None:
        dx, dy = x - self.xs[-1], y - self.ys[-1]
        dist = math.hypot(dx, dy)
        if dist < 1e-6:
            return
        self.facing.append(math.atan2(dy, dx))
        self.moving.append(True)
        self.ts.append(self.ts[-1] + dist / self.speed)
        self.xs.append(x)
        self.ys.append(y)

    def stand(self, dwell_s: float) -> None:
        """Stand still for ``dwell_s``, turning to another shelf every 5-20 s (body loss moves)."""
        if dwell_s <= 0:
            return
        start = self.ts[-1]
        end = start + dwell_s
        self.stops.append((start, end))
        t = start
        while t < end:
            t = min(t + float(self.rng.uniform(*_TURN_EVERY_S)), end)
            if end - t < 1.0:
                t = end
            self.facing.append(float(self.rng.uniform(-math.pi, math.pi)))
            self.moving.append(False)
            self.ts.append(t)
            self.xs.append(self.xs[-1])
            self.ys.append(self.ys[-1])

    def track(self) -> Track:
        if len(self.ts) < 2:
            self.stand(1.0)
        return Track(
            np.array(self.ts),
            np.array(self.xs),
            np.array(self.ys),
            np.array(self.facing),
            np.array(self.moving, dtype=bool),
        )


def _point_in(zone: Zone, rng: np.random.Generator, margin_m: float = 0.75) -> tuple[float, float]:
    x0, y0, x1, y1 = zone.bounds()
    for _ in range(100):
        x = float(rng.uniform(x0 + margin_m, x1 - margin_m))
        y = float(rng.uniform(y0 + margin_m, y1 - margin_m))
        if zone.contains(np.array([x]), np.array([y]))[0]:
            return x, y
    return (x0 + x1) / 2, (y0 + y1) / 2


def _speed(cfg: PopulationConfig, rng: np.random.Generator) -> float:
    mean, sd = cfg.walking_speed_mps
    return float(np.clip(rng.normal(mean, sd), 0.6, 2.0))


def _stop_dwell(cfg: PopulationConfig, rng: np.random.Generator) -> float:
    return float(cfg.stop_dwell_median_s * math.exp(cfg.stop_dwell_sigma * rng.standard_normal()))


def shopper_track(
    plan: FloorPlan, cfg: PopulationConfig, arrive_s: float, rng: np.random.Generator
) -> tuple[Track, tuple[tuple[float, float], ...]]:
    """From the sidewalk through the door, browse zones with stops, back out along the sidewalk."""
    sx0, sy0, sx1, sy1 = plan.sidewalk
    side_y = (sy0 + sy1) / 2
    from_left = bool(rng.random() < 0.5)
    start_x = sx0 if from_left else sx1
    walker = _Walker(arrive_s, start_x, side_y, _speed(cfg, rng), rng)
    door_x, door_y = plan.door
    walker.walk(door_x, side_y)
    walker.walk(door_x, door_y + 0.5)
    entrance_like = [z for z in plan.zones if z.contains(np.array([door_x]), np.array([0.5]))[0]]
    others = [z for z in plan.zones if z not in entrance_like and z.name != "checkout"]
    checkout = [z for z in plan.zones if z.name == "checkout"]
    lo, hi = cfg.zones_per_visit
    n_zones = int(rng.integers(lo, hi + 1))
    picked = [others[i] for i in rng.permutation(len(others))[: min(n_zones, len(others))]]
    if checkout and rng.random() < cfg.checkout_share:
        picked.append(checkout[0])
    in_store_start = walker.ts[-1]
    for zone in picked:
        n_stops = int(rng.integers(cfg.stops_per_zone[0], cfg.stops_per_zone[1] + 1))
        for _ in range(n_stops):
            walker.walk(*_point_in(zone, rng))
            walker.stand(_stop_dwell(cfg, rng))
    # make up the minimum stay at the last stop (or just inside the door)
    deficit = cfg.min_in_store_s - (walker.ts[-1] - in_store_start) - 20.0
    if deficit > 0:
        if not picked:
            walker.walk(*_point_in(entrance_like[0] if entrance_like else plan.zones[0], rng))
        walker.stand(deficit)
    walker.walk(door_x, door_y + 0.5)
    walker.walk(door_x, side_y)
    walker.walk(sx1 if from_left else sx0, side_y + float(rng.uniform(-0.8, 0.8)))
    return walker.track(), tuple(walker.stops)


def passer_by_track(
    plan: FloorPlan, cfg: PopulationConfig, arrive_s: float, rng: np.random.Generator
) -> tuple[Track, tuple[tuple[float, float], ...]]:
    """Along the sidewalk from one end to the other, sometimes a short stop at the window."""
    sx0, sy0, sx1, sy1 = plan.sidewalk
    y = float(rng.uniform(sy0 + 0.3, sy1 - 0.3))
    from_left = bool(rng.random() < 0.5)
    walker = _Walker(arrive_s, sx0 if from_left else sx1, y, _speed(cfg, rng) * 1.1, rng)
    if rng.random() < cfg.passer_by_linger_share:
        walker.walk(float(rng.uniform(0.0, plan.width_m)), sy1 - 0.3)
        walker.stand(float(rng.uniform(10.0, 60.0)))
    walker.walk(sx1 if from_left else sx0, y)
    return walker.track(), tuple(walker.stops)


def staff_track(
    plan: FloorPlan,
    cfg: PopulationConfig,
    start_s: float,
    end_s: float,
    rng: np.random.Generator,
    home_zone: Zone,
) -> tuple[Track, tuple[tuple[float, float], ...]]:
    """On the floor for the whole period: long stops, mostly in their home zone."""
    walker = _Walker(start_s, *_point_in(home_zone, rng), _speed(cfg, rng) * 0.9, rng)
    while walker.ts[-1] < end_s:
        zone = home_zone if rng.random() < 0.6 else plan.zones[int(rng.integers(len(plan.zones)))]
        walker.walk(*_point_in(zone, rng))
        lo, hi = cfg.staff_stop_s
        walker.stand(min(float(rng.uniform(lo, hi)), max(end_s - walker.ts[-1], 1.0)))
    return walker.track(), tuple(walker.stops)


def random_mac(rng: np.random.Generator, *, randomized: bool) -> str:
    """A unicast MAC; locally administered (bit 1 of the first octet) when ``randomized``."""
    octets = rng.integers(0, 256, size=6)
    first = int(octets[0]) & 0xFC
    if randomized:
        first |= 0x02
    else:
        # a few real-looking OUIs for global addresses
        ouis = ((0x3C, 0x5A, 0xB4), (0xF0, 0x27, 0x2D), (0x00, 0x1A, 0x11), (0xAC, 0x37, 0x43))
        oui = ouis[int(rng.integers(len(ouis)))]
        octets[0], octets[1], octets[2] = oui
        first = oui[0]
    octets[0] = first
    return ":".join(f"{int(o):02x}" for o in octets)


def make_wifi_phone(start_s: float, end_s: float, rng: np.random.Generator) -> WifiPhone:
    shares = np.array([m.share for m in PHONE_MODELS])
    model = PHONE_MODELS[int(rng.choice(len(PHONE_MODELS), p=shares / shares.sum()))]
    if not model.randomizes:
        schedule: tuple[tuple[float, str], ...] = ((start_s, random_mac(rng, randomized=False)),)
    else:
        # the phone has been rotating before we first see it: the first change is part-way
        entries = [(start_s, random_mac(rng, randomized=True))]
        t = start_s + float(rng.uniform(0.0, model.rotation_s[1]))
        while t < end_s:
            entries.append((t, random_mac(rng, randomized=True)))
            t += float(rng.uniform(*model.rotation_s))
        schedule = tuple(entries)
    return WifiPhone(model, schedule, int(rng.integers(0, 4096)))


def make_ble_phone(cfg: PopulationConfig, minor: int, rng: np.random.Generator) -> BlePhone:
    w = np.array(cfg.ble_rate_weights)
    rate = cfg.ble_rates_hz[int(rng.choice(len(cfg.ble_rates_hz), p=w / w.sum()))]
    # BLE random static address: the two top bits set
    octets = rng.integers(0, 256, size=6)
    octets[0] = int(octets[0]) | 0xC0
    address = ":".join(f"{int(o):02X}" for o in octets)
    return BlePhone(
        beacon_id=f"ibeacon:{LOYALTY_UUID}:{LOYALTY_MAJOR}:{minor}",
        minor=minor,
        address=address,
        adv_rate_hz=rate,
        tx_power_1m_dbm=-59,
    )
