"""Zone fingerprints and the zone push payload (pure apart from reading/writing one file).

``footfall zones record ZONE`` turns the technician beacon's sightings into
fingerprints: one row per ``window_s`` window, the mean RSSI per sensor (missing
sensors left out). They are appended to a JSON Lines file, one object a line::

    {"zone": "shoes", "ts_s": 1763892000.0, "rssi_dbm": {"s-shoes": -61.5, "s-home": -78.0}}

With ``--at X,Y`` (the technician stands on a marked reference point) every row also
carries the spot, ``"x_m": 2.5, "y_m": 11.5`` in floor-plan metres.

:func:`load_fingerprints` reads them back as a matrix (rows: samples, columns:
sensors in name order, NaN for missing) for positioning's
:class:`~positioning.zones.FingerprintClassifier`, with the spots when every row has
one (then the tracker follows devices over the spots: :mod:`positioning.gridfilter`).

:func:`config_payload` builds what ``footfall zones push`` publishes, retained, on
``footfall/v1/{store}/{agent}/config``: the agent's ``ConfigUpdate`` (schema 1,
version, zones, thresholds) plus, for agents that know them, ``calibration``
(the calibration file's model and offsets) -- current agents ignore unknown fields.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.config import ThresholdSettings, ZoneSettings
from edge_agent.payloads import ConfigUpdate
from hardware.observations import Sighting
from positioning.zones import FingerprintClassifier

__all__ = [
    "FingerprintError",
    "Fingerprints",
    "append_fingerprints",
    "build_classifier",
    "config_payload",
    "fingerprint_rows",
    "load_fingerprints",
]


class FingerprintError(ValueError):
    """The fingerprint file is malformed; the message names the line and field."""


def fingerprint_rows(
    sightings: Iterable[Sighting],
    *,
    device_key: str,
    zone: str,
    window_s: float = 1.0,
    at: tuple[float, float] | None = None,
) -> list[dict[str, Any]]:
    """One fingerprint per ``window_s`` window with a reading of ``device_key``; ``at``
    is the ``(x_m, y_m)`` spot the beacon stood on, if known."""
    if not window_s > 0:
        raise ValueError(f"'window_s' must be > 0 (got {window_s})")
    if at is not None and not all(math.isfinite(v) for v in at):
        raise ValueError(f"'at' must be finite coordinates (got {at})")
    spot = {} if at is None else {"x_m": float(at[0]), "y_m": float(at[1])}
    windows: dict[int, dict[str, list[float]]] = {}
    for s in sightings:
        if s.device_key != device_key or s.rssi_dbm is None or not math.isfinite(s.rssi_dbm):
            continue
        slot = math.floor(s.ts_s / window_s)
        windows.setdefault(slot, {}).setdefault(s.sensor_id, []).append(s.rssi_dbm)
    return [
        {
            "zone": zone,
            "ts_s": slot * window_s,
            **spot,
            "rssi_dbm": {k: round(sum(v) / len(v), 2) for k, v in sorted(by_sensor.items())},
        }
        for slot, by_sensor in sorted(windows.items())
    ]


def append_fingerprints(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, separators=(",", ":"), sort_keys=True) + "\n")


@dataclass(frozen=True, slots=True)
class Fingerprints:
    """Recorded fingerprints as a matrix."""

    sensors: tuple[str, ...]
    rssi_dbm: npt.NDArray[np.float64]
    """``(samples, sensors)``, NaN where a sensor did not hear the beacon."""
    zones: tuple[str, ...]
    """One label per row."""
    xy_m: npt.NDArray[np.float64] | None = None
    """``(samples, 2)`` spots (``x_m``, ``y_m``) when every row has one, else ``None``."""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for z in self.zones:
            out[z] = out.get(z, 0) + 1
        return out


def load_fingerprints(path: Path) -> Fingerprints:
    """Read a fingerprint file; errors name the line."""
    if not path.is_file():
        raise FingerprintError(
            f"{path}: no fingerprint file (record some with 'footfall zones record ZONE')"
        )
    rows: list[tuple[str, dict[str, float]]] = []
    spots: list[tuple[float, float] | None] = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                zone = doc["zone"]
                rssi = {str(k): float(v) for k, v in doc["rssi_dbm"].items()}
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise FingerprintError(
                    f"{path}: line {line_no}: expected {{'zone': str, 'rssi_dbm': {{sensor: dBm}}}}"
                    f" ({type(exc).__name__}: {exc})"
                ) from None
            if not isinstance(zone, str) or not zone:
                raise FingerprintError(f"{path}: line {line_no}: 'zone' must be a non-empty string")
            rows.append((zone, rssi))
            spots.append(_spot(doc, f"{path}: line {line_no}"))
    if not rows:
        raise FingerprintError(f"{path}: holds no fingerprints")
    sensors = tuple(sorted({s for _, r in rows for s in r}))
    column = {s: j for j, s in enumerate(sensors)}
    matrix = np.full((len(rows), len(sensors)), np.nan)
    for i, (_, rssi) in enumerate(rows):
        for s, v in rssi.items():
            matrix[i, column[s]] = v
    xy = None if any(p is None for p in spots) else np.array(spots, dtype=np.float64)
    return Fingerprints(sensors, matrix, tuple(z for z, _ in rows), xy)


def _spot(doc: Mapping[str, Any], where: str) -> tuple[float, float] | None:
    """The row's ``(x_m, y_m)``: both or neither, finite numbers."""
    x, y = doc.get("x_m"), doc.get("y_m")
    if x is None and y is None:
        return None
    if (
        isinstance(x, bool)
        or isinstance(y, bool)
        or not isinstance(x, int | float)
        or not isinstance(y, int | float)
        or not (math.isfinite(x) and math.isfinite(y))
    ):
        raise FingerprintError(
            f"{where}: 'x_m' and 'y_m' must both be finite numbers (got {x!r}, {y!r})"
        )
    return float(x), float(y)


def build_classifier(fingerprints: Fingerprints, k: int = 5) -> FingerprintClassifier:
    """A kNN classifier over the fingerprints that classifies by sensor name."""
    return FingerprintClassifier(k, sensors=fingerprints.sensors).fit(
        fingerprints.rssi_dbm, list(fingerprints.zones)
    )


def config_payload(
    version: str,
    zones: Sequence[ZoneSettings],
    thresholds: ThresholdSettings | None = None,
    calibration: Mapping[str, Any] | None = None,
) -> bytes:
    """The retained config message; validated against the agent's ``ConfigUpdate`` first."""
    doc: dict[str, Any] = {
        "schema": 1,
        "version": version,
        "zones": [z.model_dump(mode="json") for z in zones],
    }
    if thresholds is not None:
        doc["thresholds"] = thresholds.model_dump(mode="json")
    if calibration is not None:
        doc["calibration"] = {
            k: calibration[k]
            for k in ("p1m_dbm", "n", "sigma_db", "sensor_offsets_db", "device_class_offsets_db")
            if k in calibration
        }
    payload = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    ConfigUpdate.model_validate_json(payload)  # raises ValidationError naming the field
    return payload
