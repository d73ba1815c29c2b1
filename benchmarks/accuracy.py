"""Accuracy bar of issue 3 on the default simulated store: every metric, pass or fail.

Simulates the default store for ``--minutes`` (default 60) with several seeds, writes
each run to a temporary directory, evaluates it through the real decoders and the
tracker (``edge_agent.evaluate``), and prints per seed and pooled (mean over seeds)
figures for BLE devices against the bar -- placed from the run's site survey (what a
calibrated store runs: a grid filter over the surveyed spots) and, for comparison, by the
strongest sensor (an uncalibrated store) and optionally by the kNN over the same survey
without its spots (``--knn``) -- plus Wi-Fi figures and the randomized-MAC device-count
estimate for reference. Not a timed test: it reports, it does not assert.

    python benchmarks/accuracy.py                     # 60 min x seeds 1, 2, 3
    python benchmarks/accuracy.py --seeds 4 5 6 --knn # held-out seeds, kNN beside
    python benchmarks/accuracy.py --minutes 120 --seeds 1 2 3 4 5 --json
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

from edge_agent.evaluate import BAR, EvaluationReport, bar_verdict, evaluate_run
from hardware.simulator import SimConfig, SimulatedStore, write_run


def _run(
    minutes: float, seed: int, keep: Path | None, knn: bool
) -> tuple[EvaluationReport, EvaluationReport, EvaluationReport | None]:
    """The run evaluated with its site survey, without it (strongest sensor), and with the
    survey's kNN (its spots ignored) if asked."""
    store = SimulatedStore(config=SimConfig(duration_s=minutes * 60.0), seed=seed)
    with tempfile.TemporaryDirectory(prefix="footfall-accuracy-") as tmp:
        out = keep / f"seed-{seed}" if keep is not None else Path(tmp)
        write_run(store, out)
        return (
            evaluate_run(out),
            evaluate_run(out, use_survey=False),
            evaluate_run(out, use_spots=False) if knn else None,
        )


def _print_bar(title: str, reports: list[EvaluationReport]) -> None:
    print(f"\n{title}")
    for name in BAR:
        values = [float(getattr(r.ble, name)) for r in reports]
        mean = _mean(values)
        cells = "".join(f"{v:10.3f}" for v in values)
        print(f"{name:32s}{cells}{mean:10.3f}  {bar_verdict(name, mean)}")


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--keep", type=Path, default=None, help="Keep the runs in this folder.")
    parser.add_argument("--json", action="store_true", help="Print the reports as JSON.")
    parser.add_argument(
        "--knn", action="store_true", help="Also place BLE by the survey's kNN (spots ignored)."
    )
    args = parser.parse_args()
    runs = [_run(args.minutes, seed, args.keep, args.knn) for seed in args.seeds]
    reports = [surveyed for surveyed, _, _ in runs]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "survey": a.to_json(),
                        "no_survey": b.to_json(),
                        "knn": None if c is None else c.to_json(),
                    }
                    for a, b, c in runs
                ]
            )
        )
        return
    print(
        f"default store, {args.minutes:g} simulated minutes of arrivals, seeds {args.seeds}; "
        f"BLE devices scored against the bar, placed by {reports[0].ble_classifier}"
    )
    header = f"{'metric':32s}" + "".join(f"{'seed ' + str(s):>10s}" for s in args.seeds)
    print(header + f"{'mean':>10s}  bar")
    for name in BAR:
        values = [float(getattr(r.ble, name)) for r in reports]
        mean = _mean(values)
        cells = "".join(f"{v:10.3f}" for v in values)
        print(f"{name:32s}{cells}{mean:10.3f}  {bar_verdict(name, mean)}")
    for name in ("coverage", "passer_by_precision", "passer_by_recall", "dwell_error_p95"):
        values = [float(getattr(r.ble, name)) for r in reports]
        print(f"{name:32s}" + "".join(f"{v:10.3f}" for v in values) + f"{_mean(values):10.3f}")
    for label, attr in (("ble devices", "ble"), ("wifi devices", "wifi")):
        print(f"{label:32s}" + "".join(f"{getattr(r, attr).devices:10d}" for r in reports))
    knn = [c for _, _, c in runs if c is not None]
    if knn:
        _print_bar("BLE by the survey's kNN, its spots ignored (before the grid filter):", knn)
    _print_bar(
        "BLE without the site survey (strongest sensor, an uncalibrated store):",
        [b for _, b, _ in runs],
    )
    print("\nWi-Fi (all phones, randomized MACs split devices) for reference:")
    for name in BAR:
        values = [float(getattr(r.wifi, name)) for r in reports]
        print(f"{name:32s}" + "".join(f"{v:10.3f}" for v in values) + f"{_mean(values):10.3f}")
    print("\nrandomized-MAC device count (positioning.devices) vs phones heard:")
    for seed, r in zip(args.seeds, reports, strict=True):
        dc = r.device_count
        print(
            f"  seed {seed}: true {dc.true_devices}, estimated {dc.estimated} "
            f"(error {dc.estimate_error:.1%}), naive unique addresses {dc.naive_unique_addresses}"
        )


if __name__ == "__main__":
    main()
