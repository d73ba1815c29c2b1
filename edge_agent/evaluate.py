"""``footfall evaluate``: replay a simulator run through the real pipeline and score it.

The shell around :func:`positioning.evaluation.score`: it reads the directory
``footfall simulate`` wrote, decodes the BLE JSONL and the per-sensor pcaps with the
real decoders (:mod:`hardware`), keys every identifier with :class:`DeviceKeyer`,
feeds the :class:`~positioning.tracker.PresenceTracker` in one-second batches in time
order (recording when each event came out), keys the truth's identifiers the same way
and scores BLE and Wi-Fi devices apart. It also runs the randomized-MAC device-count
estimator (:mod:`positioning.devices`) on the probe requests and compares it with the
true number of phones heard and the naive count of addresses.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hardware.ble_jsonl import BleRecord, iter_ble_jsonl
from hardware.capture import DecodeStats, iter_probe_requests
from hardware.privacy import DeviceKeyer
from hardware.sightings import sighting_from_ble, sighting_from_probe
from hardware.simulator.floorplan import FloorPlan, FloorPlanError
from hardware.simulator.output import BLE_FILE, LAYOUT_FILE, TRUTH_FILE, wifi_file
from hardware.simulator.survey import SURVEY_FILE
from hardware.wifi import ProbeRequest
from positioning.devices import ProbeObservation, estimate_devices
from positioning.evaluation import EmittedEvent, Scores, TruthDevice, TruthVisit, score
from positioning.tracker import PresenceTracker, Reading, TrackerConfig, fingerprint_tracker

_LOGGER = logging.getLogger(__name__)

EVALUATION_SECRET = b"footfall-evaluate-site-secret-v1"
"""The site secret evaluation keys with: simulated identifiers only, never a real site's."""
NEAR_BOUNDARY_M = 2.0


class EvaluateError(ValueError):
    """The directory is not a readable simulator run; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class DeviceCountReport:
    true_devices: int
    """Distinct Wi-Fi phones whose probes were heard."""
    estimated: int
    naive_unique_addresses: int

    @property
    def estimate_error(self) -> float:
        return (
            abs(self.estimated - self.true_devices) / self.true_devices
            if self.true_devices
            else float("nan")
        )


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    run_dir: str
    seed: int | None
    simulated_s: float
    ble_readings: int
    wifi_readings: int
    events: int
    ble: Scores
    wifi: Scores
    wifi_global: Scores
    device_count: DeviceCountReport
    dropped: dict[str, int]
    ble_classifier: str = "strongest sensor"
    """How BLE devices were placed: ``strongest sensor`` or ``fingerprint (site survey)``."""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = asdict(self)
        doc["device_count"]["estimate_error"] = self.device_count.estimate_error
        finite: dict[str, Any] = _finite(doc)
        return finite


def _finite(value: Any) -> Any:
    """JSON has no NaN: metrics with nothing to score become ``null``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _load_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvaluateError(f"{path} is missing: is this a 'footfall simulate' output?") from None
    except json.JSONDecodeError as exc:
        raise EvaluateError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(doc, dict):
        raise EvaluateError(f"{path}: expected a JSON object (got {type(doc).__name__})")
    return doc


def _ble_readings(path: Path, keyer: DeviceKeyer, dropped: dict[str, int]) -> Iterator[Reading]:
    for rec in iter_ble_jsonl(path):
        if not isinstance(rec, BleRecord):
            dropped["ble_bad_line"] = dropped.get("ble_bad_line", 0) + 1
            continue
        if rec.sensor_id is None or rec.rssi_dbm is None:
            dropped["ble_no_sensor_or_rssi"] = dropped.get("ble_no_sensor_or_rssi", 0) + 1
            continue
        for frame in rec.decode():
            sighting = sighting_from_ble(
                frame, ts_s=rec.ts_s, rssi_dbm=rec.rssi_dbm, sensor_id=rec.sensor_id, keyer=keyer
            )
            if sighting is None or sighting.rssi_dbm is None:
                dropped["ble_not_a_beacon"] = dropped.get("ble_not_a_beacon", 0) + 1
                continue
            yield Reading(
                sighting.ts_s,
                sighting.device_key,
                sighting.sensor_id,
                "ble",
                sighting.rssi_dbm,
                sighting.tx_power_dbm,
            )


def _wifi_readings(
    path: Path,
    sensor_id: str,
    keyer: DeviceKeyer,
    stats: DecodeStats,
    probes: list[ProbeObservation],
) -> Iterator[Reading]:
    for result in iter_probe_requests(path, stats):
        if not isinstance(result, ProbeRequest) or result.rssi_dbm is None:
            continue
        s = sighting_from_probe(result, sensor_id, keyer)
        assert s.rssi_dbm is not None  # noqa: S101 - checked on the probe above
        probes.append(
            ProbeObservation(s.ts_s, s.device_key, s.ie_fingerprint or "", s.seq_num, s.rssi_dbm)
        )
        yield Reading(s.ts_s, s.device_key, sensor_id, "wifi", s.rssi_dbm)


def truth_devices(truth: dict[str, Any], plan: FloorPlan, keyer: DeviceKeyer) -> list[TruthDevice]:
    """The truth document's devices, keyed like the pipeline keys them, with boundary flags."""
    people = {p["person_id"]: p for p in truth["people"]}
    out: list[TruthDevice] = []
    for d in truth["devices"]:
        person = people[d["person_id"]]
        keys: list[tuple[str, float, float]] = []
        for ident in d["identifiers"]:
            if d["signal"] == "ble":
                key, _ = keyer.key_beacon(ident["id"])
            else:
                key, _ = keyer.key_wifi(ident["id"], ident["from_ts_s"])
            keys.append((key, float(ident["from_ts_s"]), float(ident["to_ts_s"])))
        track = np.asarray(person["track"], dtype=float)
        t0 = math.floor(track[0, 0])
        seconds = np.arange(t0, math.ceil(track[-1, 0]) + 1, dtype=float)
        xs = np.interp(seconds + 0.5, track[:, 0], track[:, 1])
        ys = np.interp(seconds + 0.5, track[:, 0], track[:, 2])
        zone_idx = plan.zone_index(xs, ys)
        near = plan.near_other_zone(xs, ys, zone_idx, NEAR_BOUNDARY_M)
        out.append(
            TruthDevice(
                device_id=d["device_id"],
                signal=d["signal"],
                person_kind=person["kind"],
                keys=tuple(keys),
                zone_intervals=tuple(
                    (z, float(a), float(b)) for z, a, b in person["zone_intervals"]
                ),
                stops=tuple((float(a), float(b)) for a, b in person["stops"]),
                visits=tuple(
                    TruthVisit(float(v["start_ts_s"]), float(v["end_ts_s"]), v["class"])
                    for v in person["visits"]
                ),
                near_boundary_start_s=float(t0),
                near_boundary=near,
            )
        )
    return out


def run_pipeline(
    readings: Iterator[Reading],
    tracker: PresenceTracker,
    batch_s: float = 1.0,
    progress: Callable[[float], None] | None = None,
) -> list[EmittedEvent]:
    """Feed time-ordered readings in ``batch_s`` batches; close visits at the end."""
    emitted: list[EmittedEvent] = []
    batch: list[Reading] = []
    batch_end = -math.inf
    last_ts = -math.inf
    last_progress = -math.inf

    def flush(now: float) -> None:
        for ev in tracker.ingest(batch, now_s=now):
            emitted.append(EmittedEvent(ev, now))
        batch.clear()

    for r in readings:
        if r.ts_s >= batch_end:
            if batch:
                flush(batch_end)
            batch_end = (math.floor(r.ts_s / batch_s) + 1) * batch_s
            if progress is not None and r.ts_s - last_progress >= 60.0:
                last_progress = r.ts_s
                progress(r.ts_s)
        batch.append(r)
        last_ts = max(last_ts, r.ts_s)
    if batch:
        flush(batch_end)
    if math.isfinite(last_ts):
        # let the visit gap run out so visits end the way they would live, then close the rest
        end = last_ts + tracker.config.visits.visit_gap_s + 5.0
        t = float(math.ceil(last_ts))
        while t <= end:
            t += 5.0
            emitted.extend(EmittedEvent(ev, t) for ev in tracker.tick(t))
        emitted.extend(EmittedEvent(ev, end) for ev in tracker.close())
    return emitted


def evaluate_run(
    run_dir: Path,
    config: TrackerConfig | None = None,
    progress: Callable[[float], None] | None = None,
    *,
    use_survey: bool = True,
    use_spots: bool = True,
) -> EvaluationReport:
    """Decode, track and score one ``footfall simulate`` directory.

    With ``use_survey`` and a ``survey.jsonl`` in the directory (the technician's site
    survey, which ``footfall simulate`` writes), BLE devices are placed from it: tracked
    over the surveyed spots by a grid filter when every row has its spot and
    ``use_spots``, else by a kNN fingerprint classifier; without, by the strongest sensor.
    """
    if not run_dir.is_dir():
        raise EvaluateError(f"{run_dir} is not a directory")
    truth = _load_json(run_dir / TRUTH_FILE)
    try:
        plan = FloorPlan.from_json(_load_json(run_dir / LAYOUT_FILE))
    except FloorPlanError as exc:
        raise EvaluateError(f"{run_dir / LAYOUT_FILE}: {exc}") from None
    keyer = DeviceKeyer(EVALUATION_SECRET)
    dropped: dict[str, int] = {}
    stats = DecodeStats()
    probes: list[ProbeObservation] = []
    counts = {"ble": 0, "wifi": 0}

    def counted(it: Iterator[Reading], kind: str) -> Iterator[Reading]:
        for r in it:
            counts[kind] += 1
            yield r

    streams: list[Iterator[Reading]] = []
    ble_path = run_dir / BLE_FILE
    if ble_path.exists():
        streams.append(counted(_ble_readings(ble_path, keyer, dropped), "ble"))
    for sensor in plan.sensors:
        path = run_dir / wifi_file(sensor.sensor_id)
        if path.exists():
            streams.append(
                counted(_wifi_readings(path, sensor.sensor_id, keyer, stats, probes), "wifi")
            )
    survey_path = run_dir / SURVEY_FILE
    if use_survey and survey_path.exists():
        from edge_agent.technician.zones import FingerprintError, load_fingerprints

        try:
            survey = load_fingerprints(survey_path)
        except FingerprintError as exc:
            raise EvaluateError(str(exc)) from None
        tracker = fingerprint_tracker(
            plan.sensor_zones(),
            survey.sensors,
            survey.rssi_dbm,
            survey.zones,
            config,
            xy_m=survey.xy_m if use_spots else None,
        )
        how = "grid filter over the spots" if use_spots and survey.xy_m is not None else "kNN"
        ble_classifier = f"fingerprint (site survey, {len(survey.zones)} fingerprints, {how})"
    else:
        tracker = PresenceTracker(plan.sensor_zones(), config)
        ble_classifier = "strongest sensor"
    merged = heapq.merge(*streams, key=lambda r: r.ts_s)
    emitted = run_pipeline(merged, tracker, progress=progress)
    c = tracker.counters
    dropped.update(
        {
            "unknown_sensor": c.dropped_unknown_sensor,
            "bad_value": c.dropped_bad_value,
            "late": c.table.dropped_late,
            **{f"wifi_{k}": v for k, v in stats.skipped.items()},
        }
    )
    devices = truth_devices(truth, plan, keyer)
    ble = [d for d in devices if d.signal == "ble"]
    wifi = [d for d in devices if d.signal == "wifi"]
    wifi_global = [
        d
        for d, raw in zip(devices, truth["devices"], strict=True)
        if d.signal == "wifi" and not any(i["randomized"] for i in raw["identifiers"])
    ]
    return EvaluationReport(
        run_dir=str(run_dir),
        seed=truth.get("seed"),
        simulated_s=float(truth["end_ts_s"]) - float(truth["start_ts_s"]),
        ble_readings=counts["ble"],
        wifi_readings=counts["wifi"],
        events=len(emitted),
        ble=score(ble, emitted),
        wifi=score(wifi, emitted),
        wifi_global=score(wifi_global, emitted),
        device_count=_device_count(probes, wifi),
        dropped=dropped,
        ble_classifier=ble_classifier,
    )


def _device_count(probes: list[ProbeObservation], wifi: list[TruthDevice]) -> DeviceCountReport:
    # one frame heard by several sensors is one transmission: keep its first reception
    seen: set[tuple[str, int | None, int]] = set()
    unique: list[ProbeObservation] = []
    for p in sorted(probes, key=lambda p: p.ts_s):
        k = (p.address_key, p.seq_num, int(p.ts_s))
        if k not in seen:
            seen.add(k)
            unique.append(p)
    owner = {key: d.device_id for d in wifi for key, _, _ in d.keys}
    heard = {owner[p.address_key] for p in unique if p.address_key in owner}
    est = estimate_devices(unique)
    return DeviceCountReport(len(heard), est.devices, est.unique_addresses)


def format_report(report: EvaluationReport) -> str:
    """A plain-text table of the report, bar checks included for BLE."""
    lines = [
        f"run {report.run_dir} (seed {report.seed}, {report.simulated_s / 60:.1f} simulated min)",
        f"readings: {report.ble_readings} BLE, {report.wifi_readings} Wi-Fi; "
        f"events: {report.events}; BLE placed by {report.ble_classifier}",
        f"{'metric':38s} {'BLE':>10s} {'Wi-Fi':>10s} {'Wi-Fi gl.':>10s}  bar (BLE)",
    ]
    for name, fmt, bar in METRICS:
        vals = [getattr(s, name) for s in (report.ble, report.wifi, report.wifi_global)]
        verdict = ""
        if bar is not None:
            verdict = bar_verdict(name, vals[0])
        lines.append(f"{name:38s} " + " ".join(_fmt(v, fmt) for v in vals) + f"  {verdict}")
    dc = report.device_count
    lines.append(
        f"Wi-Fi devices heard: true {dc.true_devices}, estimated {dc.estimated}, "
        f"naive unique addresses {dc.naive_unique_addresses}"
    )
    return "\n".join(lines)


def _fmt(value: float | int, fmt: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{'-':>10s}"
    return f"{value:>10{fmt}}"


BAR: dict[str, tuple[str, float]] = {
    "per_second_accuracy": (">=", 0.95),
    "near_boundary_wrong_share": ("<=", 0.12),
    "false_switches_per_device_hour": ("<=", 1.0),
    "latency_median_s": ("<=", 3.0),
    "latency_p95_s": ("<=", 6.0),
    "dwell_error_median": ("<=", 0.05),
    "visit_count_error": ("<=", 0.03),
}
"""The accuracy bar of issue 3, checked on BLE devices."""


def bar_verdict(name: str, value: float) -> str:
    op, limit = BAR[name]
    if not math.isfinite(value):
        return f"n/a ({op} {limit:g})"
    ok = value >= limit if op == ">=" else value <= limit
    return f"{'PASS' if ok else 'FAIL'} ({op} {limit:g})"


METRICS: tuple[tuple[str, str, bool | None], ...] = (
    ("devices", "d", None),
    ("per_second_accuracy", ".3f", True),
    ("coverage", ".3f", None),
    ("near_boundary_wrong_share", ".3f", True),
    ("false_switches_per_device_hour", ".2f", True),
    ("stationary_hours", ".2f", None),
    ("latency_median_s", ".2f", True),
    ("latency_p95_s", ".2f", True),
    ("confirm_delay_median_s", ".2f", None),
    ("confirm_delay_p95_s", ".2f", None),
    ("zone_changes", "d", None),
    ("zone_changes_missed", "d", None),
    ("dwell_error_median", ".3f", True),
    ("dwell_error_p95", ".3f", None),
    ("visits_true", "d", None),
    ("visits_predicted", "d", None),
    ("visit_count_error", ".3f", True),
    ("passer_by_precision", ".3f", None),
    ("passer_by_recall", ".3f", None),
    ("passer_by_devices_true", "d", None),
)
