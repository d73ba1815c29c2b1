"""Fingerprint zone accuracy on real Wi-Fi data (UJI library, month 01).

Run: ``python benchmarks/fingerprint_uji.py [--json]``.

Zone label: the surveyed point, i.e. the distinct ``(x, y, floor)`` of a fingerprint
(48 points between the library's bookshelves, 12 samples each; neighbouring points
are 0.6-2 m apart, about one shelf section). RSS value 100 = not detected -> NaN.

Compared on identical folds:

- ``ours``: ``positioning.FingerprintClassifier()`` with its defaults (k=5, exponential
  representation, Manhattan distance, distance-weighted votes).
- ``strongest``: the plain strongest-beacon baseline, each AP's zone learned from the
  training fold (``StrongestSensorClassifier.from_fingerprints``).
- ``sklearn_knn``: ``sklearn.neighbors.KNeighborsClassifier(n_neighbors=5)``
  (uniform, Euclidean) on RSS with missing -> -100 dBm, the usual practice.
- ``sklearn_knn_dw``: the same with ``weights="distance"``.

Splits: the official trn01 -> tst01 (taken four weeks apart), and 5-fold stratified
cross-validation within trn01 (seed 0).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier

from positioning import FingerprintClassifier, StrongestSensorClassifier

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "uji"


def load(prefix: str, data: Path = DATA) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """RSS matrix (NaN = not detected), point labels and column names of ``trn01``/``tst01``."""
    with gzip.open(data / f"{prefix}rss.csv.gz", "rt") as f:
        columns = f.readline().strip().split(",")
        rss = np.loadtxt(f, delimiter=",", dtype=np.float64)
    rss[rss == 100] = np.nan
    crd = np.loadtxt(data / f"{prefix}crd.csv", delimiter=",")
    return rss, point_labels(crd), columns


def point_labels(crd: np.ndarray) -> np.ndarray:
    """``F3-x12.91-y29.22``: one label per surveyed point, identical across sets."""
    return np.array([f"F{int(f)}-x{x:.2f}-y{y:.2f}" for x, y, f in crd])


def evaluate(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    columns: list[str],
) -> dict[str, float]:
    """Accuracy of each method on one split."""
    ours = FingerprintClassifier().fit(x_train, y_train).predict(x_test)
    baseline = StrongestSensorClassifier.from_fingerprints(x_train, y_train, columns)
    strongest = [
        baseline.classify(dict(zip(columns, row.tolist(), strict=True))).zone for row in x_test
    ]
    filled_train = np.where(np.isnan(x_train), -100.0, x_train)
    filled_test = np.where(np.isnan(x_test), -100.0, x_test)
    knn = KNeighborsClassifier(n_neighbors=5).fit(filled_train, y_train).predict(filled_test)
    knn_dw = (
        KNeighborsClassifier(n_neighbors=5, weights="distance")
        .fit(filled_train, y_train)
        .predict(filled_test)
    )
    return {
        "ours": float(np.mean(ours == y_test)),
        "strongest": float(np.mean(np.array(strongest, dtype=object) == y_test)),
        "sklearn_knn": float(np.mean(knn == y_test)),
        "sklearn_knn_dw": float(np.mean(knn_dw == y_test)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    x_trn, y_trn, columns = load("trn01")
    x_tst, y_tst, _ = load("tst01")
    results = {"trn01->tst01": evaluate(x_trn, y_trn, x_tst, y_tst, columns)}
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    per_fold = [
        evaluate(x_trn[a], y_trn[a], x_trn[b], y_trn[b], columns)
        for a, b in folds.split(x_trn, y_trn)
    ]
    results["trn01 5-fold (mean)"] = {
        key: float(np.mean([fold[key] for fold in per_fold])) for key in per_fold[0]
    }
    if args.json:
        print(json.dumps({"zones": int(np.unique(y_trn).size), "results": results}, indent=2))
        return 0
    print(f"UJI month 01, zone = surveyed point ({np.unique(y_trn).size} zones), accuracy in %")
    head = ("split", "ours", "strongest", "sk kNN", "sk kNN dw", "ours-base")
    print(f"{head[0]:<22} {head[1]:>6} {head[2]:>10} {head[3]:>7} {head[4]:>10} {head[5]:>10}")
    for split, acc in results.items():
        print(
            f"{split:<22} {100 * acc['ours']:>6.1f} {100 * acc['strongest']:>10.1f} "
            f"{100 * acc['sklearn_knn']:>7.1f} {100 * acc['sklearn_knn_dw']:>10.1f} "
            f"{100 * (acc['ours'] - acc['strongest']):>+10.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
