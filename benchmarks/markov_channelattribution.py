"""Exact Markov removal effects against the ChannelAttribution package on its own data.

ChannelAttribution (Altomare & Loris, GPL-3.0; a test-only dependency, never shipped)
ships a 10,000-path example, ``Data.csv`` (``path;total_conversions;
total_conversion_value;total_null``). Its ``markov_model`` estimates removal effects by
simulating walks on the first-order chain; :func:`campaigns.markov.markov_attribution`
solves the same chain exactly. This script prints, per channel, our exact removal effect
and ChannelAttribution's mean and standard deviation over ``--seeds`` simulation seeds,
at its default ``nsim_start`` (1e5) and at 1e6, and the largest absolute difference.

    python benchmarks/markov_channelattribution.py [--seeds 5] [--json]

The data is read from the installed package; it is not copied into this repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from campaigns.markov import PathCount, markov_attribution


def data_csv() -> Path:
    """``Data.csv`` inside the installed ChannelAttribution package (module ``cypack``)."""
    return Path(str(files("cypack") / "data" / "Data.csv"))


def read_paths(path: Path) -> list[PathCount]:
    with path.open(newline="") as f:
        return [
            PathCount(
                tuple(step.strip() for step in row["path"].split(">")),
                float(row["total_conversions"]),
                float(row["total_null"]),
            )
            for row in csv.DictReader(f, delimiter=";")
        ]


def channelattribution_effects(nsim: float, seed: int) -> dict[str, float]:
    import ChannelAttribution as ca  # noqa: N813 - the package's own name
    import pandas as pd

    data = pd.read_csv(data_csv(), sep=";")
    out = ca.markov_model(
        data,
        "path",
        "total_conversions",
        var_null="total_null",
        out_more=True,
        verbose=False,
        nsim_start=nsim,
        seed=seed,
    )
    effects = out["removal_effects"]
    return dict(zip(effects["channel_name"], effects["removal_effect"], strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    paths = read_paths(data_csv())
    t0 = time.perf_counter()
    ours = markov_attribution(paths).removal_effects
    ours_s = time.perf_counter() - t0
    result: dict[str, Any] = {"paths": len(paths), "exact_s": ours_s, "channels": sorted(ours)}
    for nsim in (1e5, 1e6):
        t0 = time.perf_counter()
        runs = [channelattribution_effects(nsim, seed) for seed in range(args.seeds)]
        elapsed = (time.perf_counter() - t0) / args.seeds
        mean = {ch: statistics.fmean(r[ch] for r in runs) for ch in ours}
        sd = {ch: statistics.stdev(r[ch] for r in runs) if len(runs) > 1 else 0.0 for ch in ours}
        result[f"nsim_{nsim:.0e}"] = {
            "seconds_per_run": elapsed,
            "mean": mean,
            "sd": sd,
            "max_abs_diff_of_mean": max(abs(mean[ch] - ours[ch]) for ch in ours),
        }
    if args.json:
        print(json.dumps({**result, "exact": ours}, indent=2))
        return 0
    print(f"Data.csv: {len(paths)} paths; exact solve {ours_s * 1000:.1f} ms")
    heads = ("CA nsim 1e5 (mean±sd)", "CA nsim 1e6 (mean±sd)")
    print(f"{'channel':<9} {'exact':>8}   {heads[0]:>22}   {heads[1]:>22}")
    for ch in sorted(ours, key=lambda c: -ours[c]):
        cells = [
            f"{result[k]['mean'][ch]:.4f} ± {result[k]['sd'][ch]:.4f}"
            for k in ("nsim_1e+05", "nsim_1e+06")
        ]
        print(f"{ch:<9} {ours[ch]:8.4f}   {cells[0]:>22}   {cells[1]:>22}")
    for k in ("nsim_1e+05", "nsim_1e+06"):
        r = result[k]
        print(
            f"{k}: {args.seeds} seeds, {r['seconds_per_run']:.2f} s per run, "
            f"largest |mean - exact| = {r['max_abs_diff_of_mean']:.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
