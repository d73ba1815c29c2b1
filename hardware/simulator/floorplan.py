"""The store's geometry: outline, zones, door, sidewalk and sensors, in metres.

Coordinates are metres on the floor, ``x`` to the right and ``y`` into the store;
the street is at negative ``y``. Zones are simple polygons (counter-clockwise or
clockwise, not self-intersecting); a point belongs to the first zone containing it.
The plan serialises to the ``layout.json`` the agent and ``footfall evaluate`` read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

Point = tuple[float, float]


class FloorPlanError(ValueError):
    """A floor plan (or its JSON) is inconsistent; the message names the field."""


@dataclass(frozen=True, slots=True)
class Zone:
    """A named area of the store floor."""

    name: str
    polygon: tuple[Point, ...]
    """Vertices in metres, at least three, not repeated at the end."""

    def __post_init__(self) -> None:
        if not self.name:
            raise FloorPlanError("zone 'name' must be non-empty (got '')")
        if len(self.polygon) < 3:
            raise FloorPlanError(
                f"zone {self.name!r} 'polygon' needs >= 3 vertices (got {len(self.polygon)})"
            )

    def contains(self, xs_m: FloatArray, ys_m: FloatArray) -> npt.NDArray[np.bool_]:
        """Even-odd rule point-in-polygon for arrays of points (boundary points count as inside)."""
        return _inside(self.polygon, xs_m, ys_m)

    def bounds(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` in metres."""
        xs = [p[0] for p in self.polygon]
        ys = [p[1] for p in self.polygon]
        return min(xs), min(ys), max(xs), max(ys)

    def distance_m(self, xs_m: FloatArray, ys_m: FloatArray) -> FloatArray:
        """Distance from each point to this zone's edge (0 on the edge), in metres."""
        best = np.full(np.shape(xs_m), np.inf)
        poly = self.polygon
        for i in range(len(poly)):
            (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % len(poly)]
            dx, dy = x2 - x1, y2 - y1
            seg2 = dx * dx + dy * dy
            t = np.clip(((xs_m - x1) * dx + (ys_m - y1) * dy) / seg2, 0.0, 1.0)
            d = np.hypot(xs_m - (x1 + t * dx), ys_m - (y1 + t * dy))
            best = np.minimum(best, d)
        return best


@dataclass(frozen=True, slots=True)
class Sensor:
    """One listening box (BLE scanner and Wi-Fi monitor radio) mounted at (x, y, height)."""

    sensor_id: str
    x_m: float
    y_m: float
    height_m: float = 2.5
    """Mounting height; phones are carried at about 1 m."""
    wifi_channel: int = 6
    """The 2.4 GHz channel its Wi-Fi radio listens on (bursts go out on 1, 6 and 11)."""


@dataclass(frozen=True, slots=True)
class FloorPlan:
    """A store: outline rectangle, zones, the door, the sidewalk outside and the sensors."""

    name: str
    width_m: float
    depth_m: float
    zones: tuple[Zone, ...]
    sensors: tuple[Sensor, ...]
    door: Point
    """Middle of the door on the street wall (``y = 0``)."""
    sidewalk: tuple[float, float, float, float]
    """Sidewalk rectangle ``(x_min, y_min, x_max, y_max)``; passers-by walk along it."""

    def __post_init__(self) -> None:
        if self.width_m <= 0 or self.depth_m <= 0:
            raise FloorPlanError(
                f"'width_m' and 'depth_m' must be > 0 (got {self.width_m}, {self.depth_m})"
            )
        names = [z.name for z in self.zones]
        if not names or len(set(names)) != len(names):
            raise FloorPlanError(f"'zones' must be non-empty with unique names (got {names})")
        ids = [s.sensor_id for s in self.sensors]
        if not ids or len(set(ids)) != len(ids):
            raise FloorPlanError(f"'sensors' must be non-empty with unique ids (got {ids})")
        if self.sidewalk[3] > 0:
            raise FloorPlanError(f"'sidewalk' must lie at y <= 0 (got {self.sidewalk})")

    @property
    def zone_names(self) -> tuple[str, ...]:
        return tuple(z.name for z in self.zones)

    def zone(self, name: str) -> Zone:
        for z in self.zones:
            if z.name == name:
                return z
        raise FloorPlanError(f"no zone named {name!r} (zones: {self.zone_names})")

    def inside_store(self, xs_m: FloatArray, ys_m: FloatArray) -> npt.NDArray[np.bool_]:
        """True where a point is on the store floor."""
        return (xs_m >= 0) & (xs_m <= self.width_m) & (ys_m >= 0) & (ys_m <= self.depth_m)

    def zone_index(self, xs_m: FloatArray, ys_m: FloatArray) -> npt.NDArray[np.intp]:
        """Index into :attr:`zones` of each point's zone, ``-1`` outside every zone."""
        out = np.full(np.shape(xs_m), -1, dtype=np.intp)
        for i, z in enumerate(self.zones):
            out = np.where((out < 0) & z.contains(xs_m, ys_m), i, out)
        return out

    def near_other_zone(
        self, xs_m: FloatArray, ys_m: FloatArray, zone_idx: npt.NDArray[np.intp], within_m: float
    ) -> npt.NDArray[np.bool_]:
        """True where a point in zone ``zone_idx`` lies within ``within_m`` of another zone."""
        near = np.zeros(np.shape(xs_m), dtype=bool)
        for i, z in enumerate(self.zones):
            near |= (zone_idx >= 0) & (zone_idx != i) & (z.distance_m(xs_m, ys_m) <= within_m)
        return near

    def to_json(self) -> dict[str, Any]:
        """The ``layout.json`` document (schema 1)."""
        return {
            "schema": 1,
            "name": self.name,
            "width_m": self.width_m,
            "depth_m": self.depth_m,
            "door": list(self.door),
            "sidewalk": list(self.sidewalk),
            "zones": [
                {"name": z.name, "polygon": [list(p) for p in z.polygon]} for z in self.zones
            ],
            "sensors": [
                {
                    "sensor_id": s.sensor_id,
                    "x_m": s.x_m,
                    "y_m": s.y_m,
                    "height_m": s.height_m,
                    "wifi_channel": s.wifi_channel,
                    "zone": self._zone_of_sensor(s),
                }
                for s in self.sensors
            ],
        }

    def _zone_of_sensor(self, sensor: Sensor) -> str | None:
        idx = int(self.zone_index(np.array([sensor.x_m]), np.array([sensor.y_m]))[0])
        return self.zones[idx].name if idx >= 0 else None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FloorPlan:
        """Parse a ``layout.json`` document; errors name the field."""
        try:
            if doc.get("schema") != 1:
                raise FloorPlanError(f"'schema' must be 1 (got {doc.get('schema')!r})")
            return cls(
                name=str(doc["name"]),
                width_m=float(doc["width_m"]),
                depth_m=float(doc["depth_m"]),
                door=_point(doc["door"]),
                sidewalk=_rect(doc["sidewalk"]),
                zones=tuple(
                    Zone(str(z["name"]), tuple(_point(p) for p in z["polygon"]))
                    for z in doc["zones"]
                ),
                sensors=tuple(
                    Sensor(
                        str(s["sensor_id"]),
                        float(s["x_m"]),
                        float(s["y_m"]),
                        float(s.get("height_m", 2.5)),
                        int(s.get("wifi_channel", 6)),
                    )
                    for s in doc["sensors"]
                ),
            )
        except KeyError as exc:
            raise FloorPlanError(f"layout is missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            if isinstance(exc, FloorPlanError):
                raise
            raise FloorPlanError(f"layout has a malformed value: {exc}") from None

    def sensor_zones(self) -> dict[str, str]:
        """Sensor id → the zone it is mounted in (sensors outside every zone are left out)."""
        out: dict[str, str] = {}
        for s in self.sensors:
            zone = self._zone_of_sensor(s)
            if zone is not None:
                out[s.sensor_id] = zone
        return out


def _point(value: Sequence[Any]) -> Point:
    if len(value) != 2:
        raise FloorPlanError(f"a point must be [x, y] (got {value!r})")
    return float(value[0]), float(value[1])


def _rect(value: Sequence[Any]) -> tuple[float, float, float, float]:
    if len(value) != 4:
        raise FloorPlanError(f"'sidewalk' must be [x_min, y_min, x_max, y_max] (got {value!r})")
    return float(value[0]), float(value[1]), float(value[2]), float(value[3])


def _inside(poly: Sequence[Point], xs: FloatArray, ys: FloatArray) -> npt.NDArray[np.bool_]:
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    inside = np.zeros(xs.shape, dtype=bool)
    on_edge = np.zeros(xs.shape, dtype=bool)
    n = len(poly)
    for i in range(n):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % n]
        crosses = (y1 > ys) != (y2 > ys)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x1 + (ys - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (xs < x_at)
        # points on the segment itself count as inside (shared edges: first zone wins)
        dx, dy = x2 - x1, y2 - y1
        seg2 = dx * dx + dy * dy
        t = np.clip(((xs - x1) * dx + (ys - y1) * dy) / seg2, 0.0, 1.0)
        on_edge |= np.hypot(xs - (x1 + t * dx), ys - (y1 + t * dy)) < 1e-9
    return inside | on_edge


def _rect_zone(name: str, x0: float, y0: float, x1: float, y1: float) -> Zone:
    return Zone(name, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def default_store() -> FloorPlan:
    """A 30 x 20 m store with six 10 x 10 m zones, one sensor in the middle of each.

    ::

        y=20 +----------+----------+-------------+
             |  shoes   |   home   | electronics |
        y=10 +----------+----------+-------------+
             | apparel  | entrance |  checkout   |
        y=0  +----------+---door---+-------------+
             sidewalk y in [-4, -1], x in [-15, 45]
    """
    zones = (
        _rect_zone("entrance", 10, 0, 20, 10),
        _rect_zone("apparel", 0, 0, 10, 10),
        _rect_zone("checkout", 20, 0, 30, 10),
        _rect_zone("shoes", 0, 10, 10, 20),
        _rect_zone("home", 10, 10, 20, 20),
        _rect_zone("electronics", 20, 10, 30, 20),
    )
    channels = (1, 6, 11, 1, 6, 11)
    sensors = tuple(
        Sensor(
            f"s-{z.name}",
            (z.bounds()[0] + z.bounds()[2]) / 2,
            (z.bounds()[1] + z.bounds()[3]) / 2,
            2.5,
            ch,
        )
        for z, ch in zip(zones, channels, strict=True)
    )
    return FloorPlan(
        name="default-store",
        width_m=30.0,
        depth_m=20.0,
        zones=zones,
        sensors=sensors,
        door=(15.0, 0.0),
        sidewalk=(-15.0, -4.0, 45.0, -1.0),
    )


def distance_3d_m(
    xs_m: FloatArray, ys_m: FloatArray, sensor: Sensor, phone_height_m: float = 1.0
) -> FloatArray:
    """Straight-line distance from phones at (x, y, phone height) to a sensor, in metres."""
    dz = sensor.height_m - phone_height_m
    return np.sqrt((xs_m - sensor.x_m) ** 2 + (ys_m - sensor.y_m) ** 2 + dz * dz)


def heading_rad(dx: float, dy: float) -> float:
    """Direction of a move in radians (0 along +x)."""
    return math.atan2(dy, dx)
