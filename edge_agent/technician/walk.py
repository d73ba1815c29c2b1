"""The walk test (pure): the technician's timed route vs the zones the system saw.

The walk file is CSV with a header ``t,zone``; each row says "from ``t`` on I was
in ``zone``", and the last row's zone is ``end`` (the walk's end)::

    t,zone
    0,entrance
    45,apparel
    90,shoes
    150,end

``t`` is seconds from the walk's start, or an RFC 3339 UTC time
(``2026-11-23T10:15:00Z``). :func:`observed_zones` turns the beacon's sightings into
the system's zone decision once per ``step_s``; :func:`score_walk` compares both:
a confusion matrix (truth rows, seen columns, ``-`` for "no zone"), per-zone
accuracy (the share of each zone's time the system agreed) and latency (from
entering a zone until the system first said so; "missed" when it never did).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from hardware.observations import Sighting
from positioning.zones import ZoneClassifier

__all__ = [
    "NO_ZONE",
    "WalkError",
    "WalkReport",
    "WalkSegment",
    "observed_zones",
    "parse_walk",
    "score_walk",
]

NO_ZONE = "-"
"""Column of the confusion matrix for "the system placed the device in no zone"."""
END_MARK = "end"


class WalkError(ValueError):
    """The walk file is malformed; the message names the line and the field."""


@dataclass(frozen=True, slots=True)
class WalkSegment:
    """The technician was in ``zone`` from ``start_s`` to ``end_s`` (seconds, walk time)."""

    zone: str
    start_s: float
    end_s: float

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


def _parse_t(text: str, line: int) -> tuple[float, bool]:
    """``(value, absolute)``: seconds from the start, or a POSIX time for RFC 3339."""
    text = text.strip()
    try:
        return float(text), False
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WalkError(
            f"line {line}: 't' must be seconds or an RFC 3339 time (got {text!r})"
        ) from None
    if moment.tzinfo is None:
        raise WalkError(f"line {line}: 't' must carry a time zone, e.g. 'Z' (got {text!r})")
    return moment.timestamp(), True


def parse_walk(text: str, *, start_ts_s: float = 0.0) -> tuple[WalkSegment, ...]:
    """Segments of a walk file, on the absolute clock: seconds are added to ``start_ts_s``.

    Times must increase; the last row must be ``end``; zones are non-empty.
    """
    reader = csv.reader(io.StringIO(text))
    rows = [(i, r) for i, r in enumerate(reader, start=1) if r and any(c.strip() for c in r)]
    if not rows or [c.strip().lower() for c in rows[0][1][:2]] != ["t", "zone"]:
        raise WalkError("line 1: expected the header 't,zone'")
    points: list[tuple[float, str, int]] = []
    for line, row in rows[1:]:
        if len(row) < 2:
            raise WalkError(f"line {line}: expected 't,zone' (got {','.join(row)!r})")
        value, absolute = _parse_t(row[0], line)
        zone = row[1].strip()
        if not zone:
            raise WalkError(f"line {line}: 'zone' must not be empty")
        ts_s = value if absolute else start_ts_s + value
        if points and ts_s <= points[-1][0]:
            raise WalkError(f"line {line}: 't' must increase (got {row[0].strip()!r})")
        points.append((ts_s, zone, line))
    if len(points) < 2 or points[-1][1].lower() != END_MARK:
        raise WalkError(
            f"line {rows[-1][0]}: the walk needs at least one zone and a last row "
            f"'<t>,{END_MARK}' (got {len(points)} rows)"
        )
    segments = []
    for (t0, zone, line), (t1, _, _) in itertools.pairwise(points):
        if zone.lower() == END_MARK:
            raise WalkError(f"line {line}: '{END_MARK}' must be the last row")
        segments.append(WalkSegment(zone, t0, t1))
    return tuple(segments)


def observed_zones(
    sightings: Iterable[Sighting],
    classifier: ZoneClassifier,
    *,
    device_key: str,
    start_s: float,
    end_s: float,
    step_s: float = 1.0,
    window_s: float = 3.0,
) -> list[tuple[float, str | None]]:
    """The system's zone for ``device_key`` at each ``step_s`` tick in ``(start_s, end_s]``.

    Per tick and sensor the mean RSSI of the readings of the last ``window_s`` seconds
    goes to ``classifier`` (with its previous decision, for hysteresis); a tick with
    no reading keeps no zone.
    """
    if not step_s > 0 or not window_s > 0:
        raise ValueError(f"'step_s' and 'window_s' must be > 0 (got {step_s}, {window_s})")
    readings = sorted(
        (s.ts_s, s.sensor_id, s.rssi_dbm)
        for s in sightings
        if s.device_key == device_key and s.rssi_dbm is not None
    )
    ts = np.array([r[0] for r in readings], dtype=np.float64)
    out: list[tuple[float, str | None]] = []
    previous: str | None = None
    ticks = math.floor((end_s - start_s) / step_s + 1e-9)
    for i in range(1, ticks + 1):
        t = start_s + i * step_s
        lo, hi = np.searchsorted(ts, [t - window_s, t], side="right")
        sums: dict[str, list[float]] = {}
        for _, sensor_id, rssi in readings[int(lo) : int(hi)]:
            sums.setdefault(sensor_id, []).append(float(rssi))
        if not sums:
            out.append((t, None))
            previous = None
            continue
        means = {k: sum(v) / len(v) for k, v in sums.items()}
        previous = classifier.classify(means, previous).zone
        out.append((t, previous))
    return out


@dataclass(frozen=True, slots=True)
class WalkReport:
    """What a walk test measured."""

    zones: tuple[str, ...]
    """Rows of the matrix, in walk order of first visit."""
    columns: tuple[str, ...]
    """Columns: ``zones`` then any other zone the system said, then ``-``."""
    confusion: tuple[tuple[int, ...], ...]
    """``confusion[i][j]``: ticks the technician was in ``zones[i]`` and the system said
    ``columns[j]``."""
    accuracy: float
    """Share of all ticks where the system agreed."""
    zone_accuracy: Mapping[str, float]
    latencies_s: tuple[float | None, ...]
    """Per zone change of the walk (all segments but the first): seconds until the
    system first agreed, ``None`` when it never did within the segment."""
    transitions: tuple[tuple[str, str], ...]
    """``(from, to)`` of each entry of ``latencies_s``."""

    @property
    def missed(self) -> int:
        return sum(1 for x in self.latencies_s if x is None)

    @property
    def median_latency_s(self) -> float | None:
        found = [x for x in self.latencies_s if x is not None]
        return float(np.median(found)) if found else None

    @property
    def max_latency_s(self) -> float | None:
        found = [x for x in self.latencies_s if x is not None]
        return max(found) if found else None

    def to_json(self) -> dict[str, object]:
        return {
            "zones": list(self.zones),
            "columns": list(self.columns),
            "confusion": [list(r) for r in self.confusion],
            "accuracy": round(self.accuracy, 4),
            "zone_accuracy": {k: round(v, 4) for k, v in self.zone_accuracy.items()},
            "transitions": [
                {"from": a, "to": b, "latency_s": lat}
                for (a, b), lat in zip(self.transitions, self.latencies_s, strict=True)
            ],
            "median_latency_s": self.median_latency_s,
            "max_latency_s": self.max_latency_s,
            "missed": self.missed,
        }


def score_walk(
    segments: Sequence[WalkSegment], observed: Sequence[tuple[float, str | None]]
) -> WalkReport:
    """Compare the walk with the system's decisions (ticks outside the walk are ignored).

    A tick at time ``t`` belongs to the segment with ``start_s < t <= end_s``.
    """
    if not segments:
        raise ValueError("'segments' must hold at least one walk segment (got none)")
    zones: list[str] = []
    for seg in segments:
        if seg.zone not in zones:
            zones.append(seg.zone)
    starts = [s.start_s for s in segments]
    inside: list[tuple[float, str | None, int]] = []
    for t, said in observed:
        i = int(np.searchsorted(starts, t, side="left")) - 1
        if i >= 0 and t <= segments[i].end_s:
            inside.append((t, said, i))
    extra = sorted({z for _, z, _ in inside if z is not None and z not in zones})
    columns = [*zones, *extra, NO_ZONE]
    col = {c: j for j, c in enumerate(columns)}
    matrix = [[0] * len(columns) for _ in zones]
    latencies: list[float | None] = [None] * (len(segments) - 1)
    for t, said, i in inside:
        seg = segments[i]
        matrix[zones.index(seg.zone)][col[NO_ZONE if said is None else said]] += 1
        if i > 0 and said == seg.zone and latencies[i - 1] is None:
            latencies[i - 1] = round(t - seg.start_s, 3)
    total = sum(map(sum, matrix))
    right = sum(matrix[i][col[z]] for i, z in enumerate(zones))
    zone_accuracy = {
        z: (matrix[i][col[z]] / sum(matrix[i]) if sum(matrix[i]) else 0.0)
        for i, z in enumerate(zones)
    }
    return WalkReport(
        zones=tuple(zones),
        columns=tuple(columns),
        confusion=tuple(tuple(r) for r in matrix),
        accuracy=right / total if total else 0.0,
        zone_accuracy=zone_accuracy,
        latencies_s=tuple(latencies),
        transitions=tuple((a.zone, b.zone) for a, b in itertools.pairwise(segments)),
    )
