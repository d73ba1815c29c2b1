"""Throughput and memory bound of the DeviceTable, against the bare zone machine.

Feeds ``--devices`` devices at 1 Hz for ``--seconds`` seconds (each walking between two
zones), then lets every device fall silent so eviction must empty the table. Prints the
median over ``--repeats`` runs of observations per second through the table (reorder
buffer + dwell + visits + ticks + eviction) and through ``dwell.step`` alone, their ratio,
and the largest table size seen.

    python benchmarks/dwell_table.py [--devices 2000] [--seconds 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from positioning import dwell
from positioning.dwell import DwellConfig, ZoneObservation
from positioning.tracking import DeviceTable, TrackingConfig
from positioning.visits import VisitConfig

ZONES = (ZoneObservation("shoes", 0.9, -60.0), ZoneObservation("till", 0.9, -66.0))


def through_table(devices: int, seconds: int) -> tuple[float, int, int]:
    table = DeviceTable(DwellConfig(), VisitConfig(), TrackingConfig(max_lateness_s=2.0))
    keys = [f"dk_{d}" for d in range(devices)]
    peak = 0
    started = time.perf_counter()
    for s in range(seconds):
        for d, key in enumerate(keys):
            table.push(key, ZONES[(d + s // 20) % 2], s + d / devices)
        table.advance(float(s))
        peak = max(peak, len(table))
    elapsed = time.perf_counter() - started
    # Silence: grace, visit gap and eviction margin pass; the table must be empty.
    table.advance(seconds + 15.0 * 60.0 + 120.0)
    return devices * seconds / elapsed, peak, len(table)


def bare_machine(devices: int, seconds: int) -> float:
    cfg = DwellConfig()
    states = [dwell.initial_state(f"dk_{d}") for d in range(devices)]
    started = time.perf_counter()
    for s in range(seconds):
        for d in range(devices):
            states[d], _ = dwell.step(states[d], ZONES[(d + s // 20) % 2], s + d / devices, cfg)
    return devices * seconds / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    table_rates, bare_rates, peaks, left = [], [], [], []
    for _ in range(args.repeats):
        rate, peak, remaining = through_table(args.devices, args.seconds)
        table_rates.append(rate)
        peaks.append(peak)
        left.append(remaining)
        bare_rates.append(bare_machine(args.devices, args.seconds))
    table_rate = statistics.median(table_rates)
    bare_rate = statistics.median(bare_rates)
    print(f"{args.devices} devices x {args.seconds} s at 1 Hz, median of {args.repeats}")
    print(f"table:       {table_rate:10.0f} observations/s")
    print(f"dwell.step:  {bare_rate:10.0f} observations/s (baseline)")
    print(f"ratio table/baseline: {table_rate / bare_rate:.2f}")
    print(f"largest table: {max(peaks)} devices; after the silence: {max(left)} devices")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
