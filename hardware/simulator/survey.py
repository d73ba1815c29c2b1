"""A technician's site survey of the simulated store: zone fingerprints at known spots.

In a real store the technician walks every zone with a beacon and records what each
sensor hears (``footfall zones record ZONE``); a fingerprint classifier trained on that
survey learns what no path-loss model knows: this store's shadowing behind shelves and
fixtures. This is the same survey on the simulator: a grid of spots ``spacing_m`` apart
over each zone (edges included), at each spot ``facings`` body orientations, and at each
``seconds`` of adverts at ``adverts_per_s`` from a beacon announcing the reference power,
heard through the *store's* channel (the same shadowing field the shoppers walk through,
its own fast fading and capture draws). One fingerprint per spot and facing: the mean
RSSI each sensor heard, sensors that heard nothing left out, and the spot's coordinates
(the technician stands on marked reference points) -- the rows
``footfall zones record --at X,Y`` writes (docs/technician-guide.md)::

    {"zone": "shoes", "ts_s": 1763892000.0, "x_m": 2.5, "y_m": 11.5,
     "rssi_dbm": {"s-shoes": -61.5, "s-home": -78.0}}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hardware.simulator.floorplan import FloorPlan
from hardware.simulator.radio import Channel

SURVEY_FILE = "survey.jsonl"


@dataclass(frozen=True, slots=True)
class SurveyConfig:
    """How thoroughly the technician surveys (defaults: a 1 m grid, four facings, 5 s each)."""

    spacing_m: float = 1.0
    facings: int = 4
    seconds: float = 5.0
    adverts_per_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0.2 <= self.spacing_m <= 10.0:
            raise ValueError(f"'spacing_m' must be in [0.2, 10] (got {self.spacing_m})")
        if not 1 <= self.facings <= 16:
            raise ValueError(f"'facings' must be in [1, 16] (got {self.facings})")
        if not (self.seconds > 0 and self.adverts_per_s > 0):
            raise ValueError(
                f"'seconds' and 'adverts_per_s' must be > 0 "
                f"(got {self.seconds}, {self.adverts_per_s})"
            )


def site_survey(
    plan: FloorPlan,
    channel: Channel,
    rng: np.random.Generator,
    start_ts_s: float,
    config: SurveyConfig | None = None,
) -> list[dict[str, Any]]:
    """Fingerprint rows of a survey of every zone of ``plan`` (see the module docstring)."""
    cfg = config or SurveyConfig()
    model = channel.model
    adverts = max(1, round(cfg.seconds * cfg.adverts_per_s))
    rows: list[dict[str, Any]] = []
    ts = start_ts_s
    for zone in plan.zones:
        x0, y0, x1, y1 = zone.bounds()
        gx, gy = np.meshgrid(
            np.arange(x0 + cfg.spacing_m / 2, x1, cfg.spacing_m),
            np.arange(y0 + cfg.spacing_m / 2, y1, cfg.spacing_m),
        )
        inside = zone.contains(gx.ravel(), gy.ravel())
        xs, ys = gx.ravel()[inside], gy.ravel()[inside]
        for facing in range(cfg.facings):
            phi = np.full(xs.size, 2.0 * math.pi * facing / cfg.facings)
            mean_dbm = np.full((xs.size, len(plan.sensors)), np.nan)
            for s in range(len(plan.sensors)):
                base = channel.mean_rssi_dbm(s, xs, ys, phi, model.ble_p1m_dbm)
                fading = channel.fading_db(rng, xs.size * adverts).reshape(xs.size, adverts)
                rssi = np.round(base[:, None] + fading)
                heard = (rssi >= model.ble_sensitivity_dbm) & (
                    rng.random(rssi.shape) < model.ble_capture_probability
                )
                count = heard.sum(axis=1)
                total = np.where(heard, rssi, 0.0).sum(axis=1)
                mean_dbm[:, s] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
            for x, y, row in zip(xs.tolist(), ys.tolist(), mean_dbm, strict=True):
                rows.append(
                    {
                        "zone": zone.name,
                        "ts_s": round(ts, 3),
                        "x_m": round(x, 3),
                        "y_m": round(y, 3),
                        "rssi_dbm": {
                            plan.sensors[s].sensor_id: round(float(v), 2)
                            for s, v in enumerate(row)
                            if not math.isnan(v)
                        },
                    }
                )
                ts += cfg.seconds
    return rows


__all__ = ["SURVEY_FILE", "SurveyConfig", "site_survey"]
