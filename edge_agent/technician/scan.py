"""The live scan table's state: what the radios heard, per device and sensor (pure).

:class:`ScanTable` folds :class:`~hardware.observations.Sighting` values in and
gives :class:`ScanRow` values out; the shell (``footfall scan``) draws them with
rich. Time is the sightings' own (``now_s`` is passed in), so a replay at any
speed shows the same rates as it would have live.

Per (device key, sensor) a row holds the last raw RSSI, a Kalman-smoothed RSSI
(positioning's :class:`~positioning.kalman.RssiKalman` with the BLE or Wi-Fi noise
model), the estimated distance (log-distance model: the frame's announced power
at 1 m when it has one, else the site calibration) and the advert rate over the
last ``rate_window_s`` seconds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from hardware.observations import IdClass, Sighting, SignalKind
from positioning.kalman import DEFAULT_PARAMS, RssiKalman
from positioning.pathloss import PathLossModel

__all__ = ["SORT_KEYS", "ScanRow", "ScanTable"]

SORT_KEYS = ("rssi", "smoothed", "distance", "rate", "key", "sensor", "seen")
"""What ``footfall scan --sort`` accepts."""

# BLE default: the iBeacon "measured power" convention and an open shop floor.
DEFAULT_BLE_MODEL = PathLossModel(p1m_dbm=-59.0, n=2.2)
# Wi-Fi probe requests: phones transmit ~15 dBm, ~-41 dBm at 1 m.
DEFAULT_WIFI_MODEL = PathLossModel(p1m_dbm=-41.0, n=2.2)


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One line of the scan table."""

    device_key: str
    sensor_id: str
    id_class: IdClass
    signal: SignalKind
    rssi_dbm: float | None
    """The last raw reading, dBm (``None`` when the capture carries no RSSI)."""
    smoothed_dbm: float | None
    """Kalman-smoothed RSSI, dBm."""
    distance_m: float | None
    """Median distance the path-loss model gives for the smoothed RSSI, metres."""
    adverts_per_s: float
    """Receptions per second over the rate window."""
    count: int
    """Receptions since the scan began."""
    last_seen_s: float
    """Time of the last reception, UTC POSIX seconds."""


@dataclass(slots=True)
class _Track:
    id_class: IdClass
    signal: SignalKind
    kalman: RssiKalman
    times: deque[float] = field(default_factory=deque)
    rssi_dbm: float | None = None
    tx_power_dbm: float | None = None
    count: int = 0
    last_seen_s: float = -math.inf


class ScanTable:
    """Rows per (device key, sensor); rows unheard for ``forget_after_s`` drop out.

    ``ble_model``/``wifi_model`` are the distance models per signal kind. With
    ``use_announced_power`` a frame that announces its power at 1 m uses that power
    with the model's ``n`` (the factory value: right for an uncalibrated site);
    without it, BLE distances use the site model shifted by the sensor's offset
    from ``sensor_offsets_db`` (a calibration file).
    """

    def __init__(
        self,
        *,
        rate_window_s: float = 10.0,
        forget_after_s: float = 60.0,
        ble_model: PathLossModel = DEFAULT_BLE_MODEL,
        wifi_model: PathLossModel = DEFAULT_WIFI_MODEL,
        use_announced_power: bool = True,
        sensor_offsets_db: Mapping[str, float] | None = None,
    ) -> None:
        if not rate_window_s > 0:
            raise ValueError(f"'rate_window_s' must be > 0 (got {rate_window_s})")
        if not forget_after_s > 0:
            raise ValueError(f"'forget_after_s' must be > 0 (got {forget_after_s})")
        self.rate_window_s = rate_window_s
        self.forget_after_s = forget_after_s
        self._models = {SignalKind.BLE: ble_model, SignalKind.WIFI: wifi_model}
        self._use_announced = use_announced_power
        self._offsets = dict(sensor_offsets_db or {})
        self._tracks: dict[tuple[str, str], _Track] = {}
        self.sightings = 0
        self.latest_s = -math.inf

    def add(self, sighting: Sighting) -> None:
        """Fold in one sighting."""
        key = (sighting.device_key, sighting.sensor_id)
        track = self._tracks.get(key)
        if track is None:
            params = DEFAULT_PARAMS[sighting.signal.value]
            track = _Track(sighting.id_class, sighting.signal, RssiKalman(params))
            self._tracks[key] = track
        track.count += 1
        track.last_seen_s = max(track.last_seen_s, sighting.ts_s)
        track.times.append(sighting.ts_s)
        if sighting.rssi_dbm is not None and math.isfinite(sighting.rssi_dbm):
            track.rssi_dbm = sighting.rssi_dbm
            track.kalman.update(sighting.ts_s, sighting.rssi_dbm)
        if sighting.tx_power_dbm is not None:
            track.tx_power_dbm = sighting.tx_power_dbm
        self.sightings += 1
        self.latest_s = max(self.latest_s, sighting.ts_s)

    def extend(self, sightings: Iterable[Sighting]) -> None:
        for sighting in sightings:
            self.add(sighting)

    def _distance_m(self, track: _Track, sensor_id: str, smoothed_dbm: float) -> float:
        model = self._models[track.signal]
        if self._use_announced and track.tx_power_dbm is not None:
            p1m = min(max(track.tx_power_dbm, -110.0), 10.0)
            model = PathLossModel(p1m, model.n, model.sigma_db)
        elif track.signal is SignalKind.BLE and sensor_id in self._offsets:
            model = model.shifted(self._offsets[sensor_id])
        return model.distance_m(smoothed_dbm).distance_m

    def rows(
        self,
        now_s: float,
        *,
        sort: str = "smoothed",
        contains: str = "",
        signal: SignalKind | None = None,
        min_rssi_dbm: float | None = None,
        limit: int | None = None,
    ) -> list[ScanRow]:
        """The table at ``now_s``: forgotten rows dropped, filtered, sorted, cut to ``limit``.

        ``sort`` is one of :data:`SORT_KEYS` (signal and rates descending, names ascending);
        ``contains`` keeps rows whose device key or sensor contains it (case-insensitive).
        """
        if sort not in SORT_KEYS:
            raise ValueError(f"'sort' must be one of {', '.join(SORT_KEYS)} (got {sort!r})")
        needle = contains.lower()
        out: list[ScanRow] = []
        for (device_key, sensor_id), track in list(self._tracks.items()):
            if now_s - track.last_seen_s > self.forget_after_s:
                del self._tracks[(device_key, sensor_id)]
                continue
            while track.times and track.times[0] <= now_s - self.rate_window_s:
                track.times.popleft()
            if signal is not None and track.signal is not signal:
                continue
            if needle and needle not in device_key.lower() and needle not in sensor_id.lower():
                continue
            mean_dbm = track.kalman.predict(now_s)[0] if track.kalman.initialised else math.nan
            smoothed = None if math.isnan(mean_dbm) else mean_dbm
            if min_rssi_dbm is not None and (smoothed is None or smoothed < min_rssi_dbm):
                continue
            out.append(
                ScanRow(
                    device_key=device_key,
                    sensor_id=sensor_id,
                    id_class=track.id_class,
                    signal=track.signal,
                    rssi_dbm=track.rssi_dbm,
                    smoothed_dbm=smoothed,
                    distance_m=(
                        None if smoothed is None else self._distance_m(track, sensor_id, smoothed)
                    ),
                    adverts_per_s=len(track.times) / self.rate_window_s,
                    count=track.count,
                    last_seen_s=track.last_seen_s,
                )
            )
        out.sort(key=_sort_key(sort))
        return out if limit is None else out[:limit]


def _sort_key(sort: str) -> Callable[[ScanRow], tuple[float | str, str, str]]:
    low = -math.inf

    def key(row: ScanRow) -> tuple[float | str, str, str]:
        tie = (row.device_key, row.sensor_id)
        if sort == "rssi":
            return (-(row.rssi_dbm if row.rssi_dbm is not None else low), *tie)
        if sort == "smoothed":
            return (-(row.smoothed_dbm if row.smoothed_dbm is not None else low), *tie)
        if sort == "distance":
            return (row.distance_m if row.distance_m is not None else math.inf, *tie)
        if sort == "rate":
            return (-row.adverts_per_s, *tie)
        if sort == "seen":
            return (-row.last_seen_s, *tie)
        if sort == "sensor":
            return (row.sensor_id, row.device_key, "")
        return (row.device_key, row.sensor_id, "")

    return key
