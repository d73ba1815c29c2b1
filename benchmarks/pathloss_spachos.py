"""Fit the log-distance model to the Spachos known-distance RSSI set, per environment and radio.

Run: ``python benchmarks/pathloss_spachos.py [--data PATH]``. The data set has no
licence, so it is read in place from ``../shared/data/ble-wifi-rssi-known-distance-spachos``.
Prints P1m, n, robust sigma, RMSE and R² of the Huber fit, and the per-node offsets
(mean residual per transmitter, what ``Calibration.sensor_offsets_db`` would hold).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from positioning.pathloss import fit_path_loss

DEFAULT_DATA = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "data"
    / "ble-wifi-rssi-known-distance-spachos"
)
_LINE = re.compile(r"^Node ([ABC]):\s*(-?\d+(?:\.\d+)?)\s*$")


def node_distances_m(side_m: float, position: int) -> dict[str, float]:
    """Transmitter -> receiver distance for A=(0,0), B=(d,0), C=(d,d) and receiver D1/D2/D3."""
    receiver = {1: (side_m / 2, 0.0), 2: (side_m / 2, side_m / 2), 3: (2 * side_m / 3, side_m / 3)}
    rx, ry = receiver[position]
    nodes = {"A": (0.0, 0.0), "B": (side_m, 0.0), "C": (side_m, side_m)}
    return {name: math.hypot(x - rx, y - ry) for name, (x, y) in nodes.items()}


def load(root: Path, environment: int, tech: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distances (m), RSSI (dBm) and node letters of every reading of one environment and radio."""
    parts = [
        load_file(path)
        for path in sorted((root / "Dataset" / f"Environment{environment}" / tech).glob("?D?.txt"))
    ]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


def load_file(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distances (m), RSSI (dBm) and node letters of one ``<d>D<k>.txt`` file."""
    side, pos = int(path.name[0]), int(path.name[2])
    table = node_distances_m(float(side), pos)
    dist: list[float] = []
    rssi: list[float] = []
    nodes: list[str] = []
    for line in path.read_text().splitlines():
        m = _LINE.match(line.strip())
        if m:
            dist.append(table[m.group(1)])
            rssi.append(float(m.group(2)))
            nodes.append(m.group(1))
    return np.array(dist), np.array(rssi), np.array(nodes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not args.data.exists():
        print(f"data set not found at {args.data}", file=sys.stderr)
        return 2
    print(
        f"{'env':>4} {'radio':>5} {'n_obs':>6} {'P1m_dBm':>8} {'n':>6} {'sigma_dB':>8} "
        f"{'RMSE_dB':>8} {'R2':>6}  per-node offset dB (A, B, C)"
    )
    for env in (1, 2):
        for tech in ("BLE", "WiFi"):
            d, r, nodes = load(args.data, env, tech)
            fit = fit_path_loss(d, r)
            offsets = ", ".join(
                f"{name}={fit.residuals_db[nodes == name].mean():+.1f}" for name in "ABC"
            )
            print(
                f"{env:>4} {tech:>5} {d.size:>6} {fit.p1m_dbm:>8.1f} {fit.n:>6.2f} "
                f"{fit.sigma_db:>8.2f} {fit.rmse_db:>8.2f} {fit.r2:>6.3f}  {offsets}"
            )
    print("stationary noise (std of RSSI per file and node, dB), percentiles 10/50/90:")
    for tech in ("BLE", "WiFi"):
        stds = []
        for env in (1, 2):
            for path in sorted(
                (args.data / "Dataset" / f"Environment{env}" / tech).glob("?D?.txt")
            ):
                d, r, nodes = load_file(path)
                stds += [float(r[nodes == name].std()) for name in "ABC" if (nodes == name).any()]
        p10, p50, p90 = np.percentile(stds, [10, 50, 90])
        print(f"  {tech:>5}: {p10:.2f} / {p50:.2f} / {p90:.2f}")
    print("  (BLE_PARAMS uses 7 dB, r = 49 dBm²; these Wi-Fi readings are a fixed AP's beacons,")
    print("   WIFI_PARAMS assumes 5 dB for phones' probe requests across channels and bursts)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
