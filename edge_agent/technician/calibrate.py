"""Calibration summaries and the calibration file (pure; the shell records and prints).

``footfall calibrate power`` reduces the readings of one beacon at one distance to
:class:`PowerSummary` (median, spread, outlier share and the power at 1 m it
implies); ``footfall calibrate path-loss`` reduces several distances to
:class:`PathLossSummary` (positioning's robust Huber fit of ``P1m`` and ``n``,
residuals per distance, fit quality).

The calibration file is JSON (``calibration.json``)::

    {"schema": 1, "p1m_dbm": -59.1, "n": 2.21, "sigma_db": 2.3,
     "sensor_offsets_db": {"entrance-a": 1.5}, "device_class_offsets_db": {},
     "history": [{"kind": "power", ...}, {"kind": "path_loss", ...}]}

:func:`load_calibration` turns it into a :class:`positioning.pathloss.Calibration`;
``footfall scan --calibration`` uses it for distances and ``footfall zones push
--calibration`` sends it along with the zones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from positioning.pathloss import Calibration, PathLossFit, PathLossModel, fit_path_loss

__all__ = [
    "CALIBRATION_SCHEMA",
    "CalibrationFileError",
    "DistanceStep",
    "PathLossSummary",
    "PowerSummary",
    "load_calibration",
    "read_calibration",
    "record_path_loss",
    "record_power",
    "sparkline",
    "summarize_path_loss",
    "summarize_power",
    "write_calibration",
]

CALIBRATION_SCHEMA = 1
MAD_TO_SIGMA = 1.4826  # MAD of a Gaussian times this is its standard deviation
OUTLIER_SIGMAS = 3.0  # a reading this many robust sigmas from the median is an outlier
MIN_OUTLIER_DB = 6.0  # ...and at least this far: integer RSSI makes a tiny MAD possible
DEFAULT_N = 2.0  # free space: used to bring a power measured away from 1 m back to 1 m
_SPARK = "▁▂▃▄▅▆▇█"


class CalibrationFileError(ValueError):
    """The calibration file is unreadable or malformed; the message names the field."""


@dataclass(frozen=True, slots=True)
class PowerSummary:
    """Readings of one beacon at one distance from one sensor."""

    count: int
    distance_m: float
    median_dbm: float
    spread_db: float
    """Robust standard deviation (MAD x 1.4826), dB."""
    iqr_db: float
    """Inter-quartile range, dB."""
    outlier_share: float
    """Share of readings more than ``max(3 robust sigmas, 6 dB)`` from the median."""
    p1m_dbm: float
    """The power at 1 m it implies: ``median + 10 n log10(d)`` with the given ``n``."""
    n_assumed: float


def summarize_power(
    rssi_dbm: Sequence[float], distance_m: float = 1.0, n: float = DEFAULT_N
) -> PowerSummary:
    """Median, spread and outlier share of ``rssi_dbm``; the implied power at 1 m."""
    if not distance_m > 0:
        raise ValueError(f"'distance_m' must be > 0 (got {distance_m})")
    values = np.asarray([v for v in rssi_dbm if math.isfinite(v)], dtype=np.float64)
    if values.size == 0:
        raise ValueError("'rssi_dbm' must hold at least one finite reading (got none)")
    median = float(np.median(values))
    spread = MAD_TO_SIGMA * float(np.median(np.abs(values - median)))
    q25, q75 = np.percentile(values, [25.0, 75.0])
    limit = max(OUTLIER_SIGMAS * spread, MIN_OUTLIER_DB)
    outliers = float(np.mean(np.abs(values - median) > limit))
    return PowerSummary(
        count=int(values.size),
        distance_m=distance_m,
        median_dbm=median,
        spread_db=spread,
        iqr_db=float(q75 - q25),
        outlier_share=outliers,
        p1m_dbm=median + 10.0 * n * math.log10(distance_m),
        n_assumed=n,
    )


@dataclass(frozen=True, slots=True)
class DistanceStep:
    """The readings recorded at one tape-measured distance, with the fit's view of them."""

    distance_m: float
    count: int
    median_dbm: float
    fitted_dbm: float
    residual_db: float
    """Median of the readings' residuals at this distance, dB."""


@dataclass(frozen=True, slots=True)
class PathLossSummary:
    """A path-loss fit over several distances."""

    fit: PathLossFit
    steps: tuple[DistanceStep, ...]

    @property
    def quality(self) -> str:
        """``good``: every distance's median within 2 dB of the line; ``fair``: within 4 dB;
        else ``poor`` (a distance mis-measured, a reflection, the beacon moved)."""
        worst = max(abs(s.residual_db) for s in self.steps)
        if worst <= 2.0:
            return "good"
        return "fair" if worst <= 4.0 else "poor"

    @property
    def downweighted_share(self) -> float:
        """Share of readings the Huber fit down-weighted (weight < 1)."""
        return float(np.mean(self.fit.weights < 1.0))


def summarize_path_loss(readings: Mapping[float, Sequence[float]]) -> PathLossSummary:
    """Fit ``P1m`` and ``n`` over ``readings`` (distance in metres -> RSSI readings in dBm)."""
    distances: list[float] = []
    rssi: list[float] = []
    for distance_m, values in readings.items():
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            raise ValueError(f"readings at {distance_m:g} m: expected RSSI readings (got none)")
        distances.extend([distance_m] * len(finite))
        rssi.extend(finite)
    fit = fit_path_loss(distances, rssi)
    d = np.asarray(distances)
    y = np.asarray(rssi)
    steps = []
    for distance_m in sorted(readings):
        at = d == distance_m
        fitted = fit.p1m_dbm - 10.0 * fit.n * math.log10(distance_m)
        steps.append(
            DistanceStep(
                distance_m=distance_m,
                count=int(at.sum()),
                median_dbm=float(np.median(y[at])),
                fitted_dbm=fitted,
                residual_db=float(np.median(fit.residuals_db[at])),
            )
        )
    return PathLossSummary(fit=fit, steps=tuple(steps))


def sparkline(values: Sequence[float]) -> str:
    """One block character per value, scaled from the lowest to the highest."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = high - low
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append(" ")
        elif span == 0:
            out.append(_SPARK[len(_SPARK) // 2])
        else:
            out.append(_SPARK[round((v - low) / span * (len(_SPARK) - 1))])
    return "".join(out)


# -- the calibration file ----------------------------------------------------------------------


def read_calibration(path: Path) -> dict[str, Any]:
    """The file's document, or an empty calibration when the file does not exist yet."""
    if not path.exists():
        return {
            "schema": CALIBRATION_SCHEMA,
            "sensor_offsets_db": {},
            "device_class_offsets_db": {},
            "history": [],
        }
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CalibrationFileError(f"{path}: expected a calibration JSON file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != CALIBRATION_SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise CalibrationFileError(f"{path}: 'schema' must be {CALIBRATION_SCHEMA} (got {got!r})")
    doc.setdefault("sensor_offsets_db", {})
    doc.setdefault("device_class_offsets_db", {})
    doc.setdefault("history", [])
    return doc


def write_calibration(path: Path, doc: Mapping[str, Any]) -> None:
    """Write atomically (temp file, then rename), keys sorted, for diffs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def load_calibration(path: Path) -> Calibration:
    """The calibration file as :class:`~positioning.pathloss.Calibration`.

    A file with only power measurements (no path-loss fit yet) uses ``n = 2.0``.
    """
    doc = read_calibration(path)
    if not path.exists():
        raise CalibrationFileError(f"{path}: no such calibration file (run footfall calibrate)")
    if "p1m_dbm" not in doc:
        raise CalibrationFileError(f"{path}: 'p1m_dbm' is missing (run footfall calibrate power)")
    try:
        model = PathLossModel(
            float(doc["p1m_dbm"]), float(doc.get("n", DEFAULT_N)), float(doc.get("sigma_db", 4.0))
        )
        return Calibration(
            model,
            {str(k): float(v) for k, v in doc["sensor_offsets_db"].items()},
            {str(k): float(v) for k, v in doc["device_class_offsets_db"].items()},
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise CalibrationFileError(f"{path}: {exc}") from None


def record_power(
    doc: dict[str, Any],
    summary: PowerSummary,
    *,
    beacon: str,
    sensor_id: str,
    at: str,
    as_site: bool = False,
) -> float:
    """Fold a power measurement into ``doc``; return the sensor's offset (dB) it set.

    The first measurement (or ``as_site``) sets the site's ``p1m_dbm`` and gives the
    sensor a 0 dB offset; later ones, from other sensors, set only that sensor's
    offset: how many dB it reads above the site model.
    """
    if as_site or "p1m_dbm" not in doc:
        doc["p1m_dbm"] = round(summary.p1m_dbm, 2)
        doc.setdefault("n", summary.n_assumed)
        doc.setdefault("sigma_db", round(max(summary.spread_db, 0.5), 2))
        offset = 0.0
    else:
        offset = round(summary.p1m_dbm - float(doc["p1m_dbm"]), 2)
    doc["sensor_offsets_db"][sensor_id] = offset
    doc["history"].append(
        {
            "kind": "power",
            "at": at,
            "beacon": beacon,
            "sensor_id": sensor_id,
            "distance_m": summary.distance_m,
            "count": summary.count,
            "median_dbm": summary.median_dbm,
            "spread_db": round(summary.spread_db, 3),
            "outlier_share": round(summary.outlier_share, 4),
            "p1m_dbm": round(summary.p1m_dbm, 3),
        }
    )
    return offset


def record_path_loss(
    doc: dict[str, Any], summary: PathLossSummary, *, beacon: str, sensor_id: str, at: str
) -> None:
    """Set the site model from a path-loss fit (the sensor's offset becomes 0 dB)."""
    fit = summary.fit
    doc["p1m_dbm"] = round(fit.p1m_dbm, 2)
    doc["n"] = round(fit.n, 3)
    doc["sigma_db"] = round(max(fit.sigma_db, 0.5), 2)
    doc["sensor_offsets_db"][sensor_id] = 0.0
    doc["history"].append(
        {
            "kind": "path_loss",
            "at": at,
            "beacon": beacon,
            "sensor_id": sensor_id,
            "p1m_dbm": round(fit.p1m_dbm, 3),
            "n": round(fit.n, 4),
            "sigma_db": round(fit.sigma_db, 3),
            "rmse_db": round(fit.rmse_db, 3),
            "r2": round(fit.r2, 4),
            "steps": [
                {
                    "distance_m": s.distance_m,
                    "count": s.count,
                    "median_dbm": s.median_dbm,
                    "residual_db": round(s.residual_db, 3),
                }
                for s in summary.steps
            ],
        }
    )
