"""Device-count estimate vs truth vs naive unique-address count on the store simulator.

The simulator rotates the MACs of randomizing phones (iOS without, Android with sequence
continuity) and gives the truth. Every probe heard by any sensor is used once (a frame
heard by several sensors counts once, at its strongest RSSI). Counts are per window of
``--window-s`` seconds: true phones heard in the window, the estimate, the naive count.

    python benchmarks/devices_simulator.py [--hours 1] [--window-s 900] [--seeds 3] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time

from hardware.simulator import SimConfig, SimProbe, SimulatedStore
from positioning.devices import DeviceCountConfig, ProbeObservation, estimate_devices


def _key(mac: str) -> str:
    return hashlib.sha256(mac.encode()).hexdigest()[:16]


def run(seed: int, hours: float) -> tuple[list[ProbeObservation], dict[str, str], float]:
    """Observations (deduplicated across sensors), address key -> person, start time."""
    store = SimulatedStore(config=SimConfig(duration_s=3600.0 * hours), seed=seed)
    owner: dict[str, str] = {}
    for person in store.people:
        if person.wifi is not None:
            for _, mac in person.wifi.mac_schedule:
                owner[_key(mac)] = person.person_id
    frames: dict[tuple[str, int, float], ProbeObservation] = {}
    for rec in store.records():
        if not isinstance(rec, SimProbe):
            continue
        key = _key(rec.mac)
        fingerprint = hashlib.sha256(repr(rec.ies).encode()).hexdigest()[:12]
        ident = (key, rec.seq_num, round(rec.ts_s, 3))
        old = frames.get(ident)
        if old is None or (old.rssi_dbm or -200.0) < rec.rssi_dbm:
            # The locally administered bit: 0x02 in the first octet.
            randomized = bool(int(rec.mac.split(":")[0], 16) & 0x02)
            frames[ident] = ProbeObservation(
                rec.ts_s, key, fingerprint, rec.seq_num, float(rec.rssi_dbm), randomized
            )
    return sorted(frames.values(), key=lambda o: o.ts_s), owner, store.start_ts_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--window-s", type=float, default=900.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cfg = DeviceCountConfig()
    rows = []
    for seed in range(args.seeds):
        obs, owner, start = run(seed, args.hours)
        end = obs[-1].ts_s if obs else start
        t = start
        while t < end:
            window = [o for o in obs if t <= o.ts_s < t + args.window_s]
            t += args.window_s
            if not window:
                continue
            truth = len({owner[o.address_key] for o in window})
            started = time.perf_counter()
            result = estimate_devices(window, cfg)
            rows.append(
                {
                    "seed": seed,
                    "true_devices": truth,
                    "estimate": result.devices,
                    "naive": result.unique_addresses,
                    "ms": 1000 * (time.perf_counter() - started),
                }
            )
    est_err = [abs(r["estimate"] - r["true_devices"]) / r["true_devices"] for r in rows]
    naive_err = [abs(r["naive"] - r["true_devices"]) / r["true_devices"] for r in rows]
    summary = {
        "windows": len(rows),
        "window_s": args.window_s,
        "true_total": sum(r["true_devices"] for r in rows),
        "estimate_total": sum(r["estimate"] for r in rows),
        "naive_total": sum(r["naive"] for r in rows),
        "estimate_mean_relative_error": statistics.fmean(est_err),
        "naive_mean_relative_error": statistics.fmean(naive_err),
        "median_ms": statistics.median(r["ms"] for r in rows),
    }
    if args.json:
        print(json.dumps({"summary": summary, "rows": rows}, indent=2))
        return 0
    print(f"{len(rows)} windows of {args.window_s:.0f} s, seeds 0..{args.seeds - 1}")
    print("seed  true  estimate  naive")
    for r in rows:
        print(f"{r['seed']:4d} {r['true_devices']:5d} {r['estimate']:9d} {r['naive']:6d}")
    print(
        f"totals: true {summary['true_total']}, estimate {summary['estimate_total']}, "
        f"naive {summary['naive_total']}; mean relative error: estimate "
        f"{summary['estimate_mean_relative_error']:.1%}, naive "
        f"{summary['naive_mean_relative_error']:.1%}; median {summary['median_ms']:.1f} ms/window"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
