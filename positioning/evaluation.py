"""Scoring presence events against ground truth: the accuracy bar's metrics, defined exactly.

Pure functions over plain values: the truth of each *device* (one identifier stream of
one person's phone: its BLE beacon, or its Wi-Fi radio across every MAC it used), the
device keys that stood for it and when, and the events the tracker emitted together with
the time each was emitted. :func:`score` returns a :class:`Scores`.

Definitions (``t`` runs over whole seconds, the truth sampled at ``t + 0.5``):

* **Predicted zone at t**: the zone of a ``zone_enter`` of one of the device's keys with
  ``enter.ts_s <= t + 0.5 <`` the matching ``zone_exit.ts_s`` (event times are when the
  transition took effect).
* **per_second_accuracy**: over seconds where the device is truly in a zone *and* has a
  predicted zone, the share where both agree. **coverage**: the share of truly-in-a-zone
  seconds that have a predicted zone at all.
* **near_boundary_wrong_share**: the same seconds restricted to those where the true
  position lies within ``near_boundary_m`` (2 m) of another zone; the share predicted wrong.
* **false_switches_per_device_hour**: ``zone_enter`` events whose time falls inside a
  stop (the person standing still in a zone; a passer-by lingering on the sidewalk is
  the passer-by metrics' business), after the first ``settle_s`` (10 s) of the stop, per
  hour of such stationary time summed over devices that have predictions.
* **latency** of a true zone change: for each true zone stay of at least ``min_stay_s``
  (30 s) that follows a different zone or the outside, ``|s - t_change|`` where ``s`` is
  the start of the first predicted stay of that zone overlapping
  ``[t_change - lookback_s, stay end)`` (clipped to ``t_change - lookback_s``); stays with
  no such prediction count as *missed*. **confirm delay**: when the ``zone_enter`` was
  emitted minus ``t_change`` (what a live dashboard waits).
* **dwell error** of a true visit (not a passer-by): ``|d_pred - d_true| / d_true`` where
  ``d_pred`` sums ``dwell_s`` of the device's predicted visits (any class) whose span
  overlaps the true visit; a visit with no prediction has error 1.
* **visit count error**: ``|N_pred - N_true| / N_true`` with ``N_true`` the true visits
  (shoppers' and staff's) and ``N_pred`` the ``visit_end`` events whose class is not
  ``passer_by``, over the keys of the scored devices.
* **passer-by precision / recall**, over devices with at least one predicted visit:
  a device is *predicted* a passer-by when all its visits are ``passer_by``, *truly* one
  when its person never entered the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from positioning.events import EventKind, PresenceEvent

BoolArray = npt.NDArray[np.bool_]

PASSER_BY = "passer_by"


@dataclass(frozen=True, slots=True)
class TruthVisit:
    start_ts_s: float
    end_ts_s: float
    visit_class: str
    """``visitor``, ``engaged`` or ``staff`` (the truth has no passer-by visits)."""

    @property
    def dwell_s(self) -> float:
        return self.end_ts_s - self.start_ts_s


@dataclass(frozen=True, slots=True)
class TruthDevice:
    """What really happened to one device (see the module docstring)."""

    device_id: str
    signal: str
    """``ble`` or ``wifi``."""
    person_kind: str
    """``shopper``, ``passer_by`` or ``staff``."""
    keys: tuple[tuple[str, float, float], ...]
    """``(device_key, from_ts_s, to_ts_s)``: which key stood for the device when."""
    zone_intervals: tuple[tuple[str, float, float], ...]
    """``(zone, from_ts_s, to_ts_s)`` in time order; gaps are outside every zone."""
    stops: tuple[tuple[float, float], ...] = ()
    """``(from_ts_s, to_ts_s)`` of standing still."""
    visits: tuple[TruthVisit, ...] = ()
    near_boundary_start_s: float = 0.0
    """Whole second of ``near_boundary[0]``."""
    near_boundary: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """Per whole second from ``near_boundary_start_s``: within 2 m of another zone."""


@dataclass(frozen=True, slots=True)
class EmittedEvent:
    event: PresenceEvent
    emitted_at_s: float
    """The tracker's clock when the event came out (>= ``event.ts_s``)."""


@dataclass(frozen=True, slots=True)
class Scores:
    """Every metric of the bar for one group of devices (``nan`` where nothing to score)."""

    devices: int
    per_second_accuracy: float
    coverage: float
    scored_seconds: int
    near_boundary_wrong_share: float
    near_boundary_seconds: int
    false_switches_per_device_hour: float
    stationary_hours: float
    latency_median_s: float
    latency_p95_s: float
    confirm_delay_median_s: float
    confirm_delay_p95_s: float
    zone_changes: int
    zone_changes_missed: int
    dwell_error_median: float
    dwell_error_p95: float
    visits_true: int
    visits_predicted: int
    visit_count_error: float
    passer_by_precision: float
    passer_by_recall: float
    passer_by_devices_true: int


def _quantile(values: Sequence[float], q: float) -> float:
    return float(np.quantile(np.asarray(values), q)) if values else float("nan")


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else float("nan")


def predicted_stays(events: Iterable[PresenceEvent]) -> list[tuple[str, float, float]]:
    """``(zone, enter_ts_s, exit_ts_s)`` from one key's events (an unclosed stay never ends)."""
    open_at: dict[str, float] = {}
    stays: list[tuple[str, float, float]] = []
    for ev in events:
        if ev.zone is None:
            continue
        if ev.kind is EventKind.ZONE_ENTER:
            open_at[ev.zone] = ev.ts_s
        elif ev.kind is EventKind.ZONE_EXIT and ev.zone in open_at:
            stays.append((ev.zone, open_at.pop(ev.zone), ev.ts_s))
    stays.extend((z, t, float("inf")) for z, t in open_at.items())
    stays.sort(key=lambda s: s[1])
    return stays


def _paint(
    intervals: Iterable[tuple[str, float, float]], zone_ids: dict[str, int], t0: int, n: int
) -> npt.NDArray[np.intp]:
    """Zone id per whole second ``t0 + i`` (sampled at ``+0.5``), -1 where none."""
    out = np.full(n, -1, dtype=np.intp)
    for zone, a, b in intervals:
        # seconds i with a <= t0 + i + 0.5 < b
        lo = max(int(np.ceil(a - 0.5 - t0)), 0)
        hi = min(int(np.ceil(b - 0.5 - t0)), n) if np.isfinite(b) else n
        if hi > lo:
            out[lo:hi] = zone_ids.setdefault(zone, len(zone_ids))
    return out


@dataclass(slots=True)
class _Acc:
    scored: int = 0
    correct: int = 0
    in_zone: int = 0
    covered: int = 0
    near: int = 0
    near_wrong: int = 0
    switches: int = 0
    stationary_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    changes: int = 0
    missed: int = 0
    dwell_errors: list[float] = field(default_factory=list)
    visits_true: int = 0
    visits_pred: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    pb_true: int = 0


def score(
    truth: Sequence[TruthDevice],
    events: Sequence[EmittedEvent],
    *,
    settle_s: float = 10.0,
    min_stay_s: float = 30.0,
    lookback_s: float = 10.0,
) -> Scores:
    """Score ``events`` against the devices in ``truth`` (definitions in the module docstring).

    Events of keys that belong to none of the devices are ignored (score each signal group
    by passing only its devices).
    """
    by_key: dict[str, list[EmittedEvent]] = {}
    for e in events:
        by_key.setdefault(e.event.device_key, []).append(e)
    acc = _Acc()
    for dev in truth:
        dev_events = [e for key, _, _ in dev.keys for e in by_key.get(key, [])]
        dev_events.sort(key=lambda e: (e.event.ts_s, e.emitted_at_s))
        _score_device(dev, dev_events, acc, settle_s, min_stay_s, lookback_s)
    return Scores(
        devices=len(truth),
        per_second_accuracy=_ratio(acc.correct, acc.scored),
        coverage=_ratio(acc.covered, acc.in_zone),
        scored_seconds=acc.scored,
        near_boundary_wrong_share=_ratio(acc.near_wrong, acc.near),
        near_boundary_seconds=acc.near,
        false_switches_per_device_hour=_ratio(acc.switches, acc.stationary_s / 3600.0),
        stationary_hours=acc.stationary_s / 3600.0,
        latency_median_s=_quantile(acc.latencies, 0.5),
        latency_p95_s=_quantile(acc.latencies, 0.95),
        confirm_delay_median_s=_quantile(acc.delays, 0.5),
        confirm_delay_p95_s=_quantile(acc.delays, 0.95),
        zone_changes=acc.changes,
        zone_changes_missed=acc.missed,
        dwell_error_median=_quantile(acc.dwell_errors, 0.5),
        dwell_error_p95=_quantile(acc.dwell_errors, 0.95),
        visits_true=acc.visits_true,
        visits_predicted=acc.visits_pred,
        visit_count_error=_ratio(abs(acc.visits_pred - acc.visits_true), acc.visits_true),
        passer_by_precision=_ratio(acc.tp, acc.tp + acc.fp),
        passer_by_recall=_ratio(acc.tp, acc.tp + acc.fn),
        passer_by_devices_true=acc.pb_true,
    )


def _score_device(
    dev: TruthDevice,
    events: list[EmittedEvent],
    acc: _Acc,
    settle_s: float,
    min_stay_s: float,
    lookback_s: float,
) -> None:
    per_key: dict[str, list[PresenceEvent]] = {}
    for e in events:
        per_key.setdefault(e.event.device_key, []).append(e.event)
    stays = sorted(
        (s for evs in per_key.values() for s in predicted_stays(evs)), key=lambda s: s[1]
    )
    enters = [e for e in events if e.event.kind is EventKind.ZONE_ENTER]
    visit_ends = [e.event for e in events if e.event.kind is EventKind.VISIT_END]

    # per-second accuracy, coverage, near-boundary
    if dev.zone_intervals:
        t0 = int(np.floor(dev.zone_intervals[0][1]))
        t1 = int(np.ceil(dev.zone_intervals[-1][2]))
        n = t1 - t0 + 1
        ids: dict[str, int] = {}
        truth_z = _paint(dev.zone_intervals, ids, t0, n)
        pred_z = _paint(stays, ids, t0, n)
        in_zone = truth_z >= 0
        has_pred = pred_z >= 0
        scored = in_zone & has_pred
        acc.in_zone += int(in_zone.sum())
        acc.covered += int(scored.sum())
        acc.scored += int(scored.sum())
        acc.correct += int((scored & (truth_z == pred_z)).sum())
        if dev.near_boundary.size:
            near = np.zeros(n, dtype=bool)
            off = int(dev.near_boundary_start_s) - t0
            lo, hi = max(off, 0), min(off + dev.near_boundary.size, n)
            if hi > lo:
                near[lo:hi] = dev.near_boundary[lo - off : hi - off]
            near &= scored
            acc.near += int(near.sum())
            acc.near_wrong += int((near & (truth_z != pred_z)).sum())

    # false switches while standing still in a zone (only devices the tracker saw)
    if stays:
        for a, b in dev.stops:
            start = a + settle_s
            mid = (a + b) / 2
            if b <= start or not any(za <= mid < zb for _, za, zb in dev.zone_intervals):
                continue
            acc.stationary_s += b - start
            acc.switches += sum(1 for e in enters if start <= e.event.ts_s < b)

    # zone-change latency
    prev_zone: str | None = None
    prev_end = -np.inf
    for zone, a, b in dev.zone_intervals:
        changed = zone != prev_zone or a - prev_end > 1.0
        prev_zone, prev_end = zone, b
        if not changed or b - a < min_stay_s:
            continue
        acc.changes += 1
        window_start = a - lookback_s
        match = next((s for s in stays if s[0] == zone and s[2] > window_start and s[1] < b), None)
        if match is None:
            acc.missed += 1
            continue
        acc.latencies.append(abs(max(match[1], window_start) - a))
        emitted = next(
            (e.emitted_at_s for e in enters if e.event.zone == zone and e.event.ts_s == match[1]),
            None,
        )
        if emitted is not None:
            acc.delays.append(max(emitted, a) - a)

    # dwell error and visit counts
    for v in dev.visits:
        acc.visits_true += 1
        overlapping = [
            e
            for e in visit_ends
            if e.dwell_s is not None and e.ts_s - e.dwell_s < v.end_ts_s and e.ts_s > v.start_ts_s
        ]
        d_pred = sum((e.dwell_s for e in overlapping if e.dwell_s is not None), 0.0)
        acc.dwell_errors.append(abs(d_pred - v.dwell_s) / v.dwell_s if v.dwell_s > 0 else 0.0)
    acc.visits_pred += sum(1 for e in visit_ends if e.visit_class != PASSER_BY)

    # passers-by
    truly = dev.person_kind == PASSER_BY
    acc.pb_true += int(truly)
    if visit_ends:
        predicted = all(e.visit_class == PASSER_BY for e in visit_ends)
        if predicted and truly:
            acc.tp += 1
        elif predicted:
            acc.fp += 1
        elif truly:
            acc.fn += 1


__all__ = [
    "EmittedEvent",
    "Scores",
    "TruthDevice",
    "TruthVisit",
    "predicted_stays",
    "score",
]
