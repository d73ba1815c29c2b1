"""Device-count estimate vs truth vs naive unique-address count on the Baccichet probe captures.

Each pcap of ../shared/data/wifi-probe-devices-baccichet (GPL-3.0, used in place) holds the
probe requests of exactly one phone. A *scene* of N phones merges N files, each shifted to
start at t = 0 and cut to ``--window-s`` seconds, so the phones probe at the same time.
Prints, per N, the mean estimate, the truth and the naive count over seeded random
combinations, then the mean absolute error of both.

    python benchmarks/devices_baccichet.py [--window-s 900] [--repeats 20] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from pathlib import Path

from positioning.devices import DeviceCountConfig, ProbeObservation, estimate_devices

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "wifi-probe-devices-baccichet"

# Element ids left out of the fingerprint: SSID (0) is per network, DS parameter set (3)
# is the channel. The content of these is kept (capabilities); of the others only the id.
_CONTENT_IDS = frozenset({1, 45, 50, 107, 127, 191, 221})


def load_capture(path: Path) -> list[ProbeObservation]:
    """One pcap as observations, times relative to its first frame."""
    from scapy.layers.dot11 import Dot11, Dot11Elt
    from scapy.utils import PcapReader

    rows: list[ProbeObservation] = []
    with PcapReader(str(path)) as reader:
        for pkt in reader:
            dot11 = pkt.getlayer(Dot11)
            if dot11 is None or dot11.addr2 is None:
                continue
            parts: list[bytes] = []
            elt = pkt.getlayer(Dot11Elt)
            while isinstance(elt, Dot11Elt):
                if elt.ID not in (0, 3):
                    body = bytes(elt.info) if elt.ID in _CONTENT_IDS else b""
                    parts.append(bytes([elt.ID, len(body) & 0xFF]) + body)
                elt = elt.payload if isinstance(elt.payload, Dot11Elt) else None
            rssi = getattr(pkt, "dBm_AntSignal", None)
            rows.append(
                ProbeObservation(
                    ts_s=float(pkt.time),
                    address_key=hashlib.sha256(str(dot11.addr2).encode()).hexdigest()[:16],
                    fingerprint=hashlib.sha256(b"".join(parts)).hexdigest()[:12],
                    seq_num=int(dot11.SC) >> 4 if dot11.SC is not None else None,
                    rssi_dbm=float(rssi) if rssi is not None else None,
                )
            )
    rows.sort(key=lambda o: o.ts_s)
    t0 = rows[0].ts_s if rows else 0.0
    return [
        ProbeObservation(o.ts_s - t0, o.address_key, o.fingerprint, o.seq_num, o.rssi_dbm)
        for o in rows
    ]


def scene(captures: list[list[ProbeObservation]], window_s: float) -> list[ProbeObservation]:
    return [o for capture in captures for o in capture if o.ts_s < window_s]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window-s", type=float, default=900.0)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = sorted((DATA / "PCAP").glob("*.pcap"))
    if not files:
        print(f"data set not found under {DATA}", file=sys.stderr)
        return 2
    captures = {f.name.split("_")[0]: load_capture(f) for f in files}
    names = sorted(captures)
    rng = random.Random(args.seed)
    cfg = DeviceCountConfig()
    rows = []
    for n in range(1, len(names) + 1):
        estimates, naives, elapsed = [], [], []
        combos = {tuple(sorted(rng.sample(names, n))) for _ in range(args.repeats)}
        for combo in sorted(combos):
            obs = scene([captures[c] for c in combo], args.window_s)
            started = time.perf_counter()
            result = estimate_devices(obs, cfg)
            elapsed.append(time.perf_counter() - started)
            estimates.append(result.devices)
            naives.append(result.unique_addresses)
        rows.append(
            {
                "true_devices": n,
                "scenes": len(combos),
                "estimate_mean": statistics.fmean(estimates),
                "estimate_min": min(estimates),
                "estimate_max": max(estimates),
                "naive_mean": statistics.fmean(naives),
                "estimate_mae": statistics.fmean(abs(e - n) for e in estimates),
                "naive_mae": statistics.fmean(abs(u - n) for u in naives),
                "median_runtime_ms": 1000 * statistics.median(elapsed),
            }
        )
    if args.json:
        print(json.dumps({"window_s": args.window_s, "rows": rows}, indent=2))
        return 0
    print(f"window {args.window_s:.0f} s, seed {args.seed}, config {cfg}")
    print(" N scenes  estimate(min..max)   naive   |est-N|  |naive-N|  ms")
    for r in rows:
        print(
            f"{r['true_devices']:2d} {r['scenes']:6d}  {r['estimate_mean']:6.1f} "
            f"({r['estimate_min']:3d}..{r['estimate_max']:3d})  {r['naive_mean']:7.1f}  "
            f"{r['estimate_mae']:6.2f}  {r['naive_mae']:8.1f}  {r['median_runtime_ms']:5.1f}"
        )
    est = statistics.fmean(r["estimate_mae"] / r["true_devices"] for r in rows)
    naive = statistics.fmean(r["naive_mae"] / r["true_devices"] for r in rows)
    print(f"mean relative error: estimate {est:.1%}, naive unique addresses {naive:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
