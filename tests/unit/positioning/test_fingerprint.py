"""FingerprintClassifier: scikit-learn shape, NaN-aware kNN, and the UJI accuracy bar."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from positioning import FingerprintClassifier, StrongestSensorClassifier, ZoneClassifier

UJI = Path(__file__).resolve().parents[2] / "data" / "uji"


def _load_uji(prefix: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    with gzip.open(UJI / f"{prefix}rss.csv.gz", "rt") as f:
        columns = f.readline().strip().split(",")
        rss = np.loadtxt(f, delimiter=",", dtype=np.float64)
    rss[rss == 100] = np.nan
    crd = np.loadtxt(UJI / f"{prefix}crd.csv", delimiter=",")
    labels = np.array([f"F{int(fl)}-x{x:.2f}-y{y:.2f}" for x, y, fl in crd])
    return rss, labels, columns


def test_sklearn_shape_fit_predict_proba_classes() -> None:
    """fit returns self; predict_proba rows sum to one with columns in classes_ order."""
    x = np.array([[-40.0, np.nan], [-42.0, np.nan], [np.nan, -45.0], [np.nan, -41.0]])
    y = ["till", "till", "shoes", "shoes"]
    clf = FingerprintClassifier(k=3)
    assert clf.fit(x, y) is clf
    assert clf.classes_.tolist() == ["shoes", "till"]
    proba = clf.predict_proba([[-41.0, np.nan], [np.nan, -44.0]])
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.predict([[-41.0, np.nan], [np.nan, -44.0]]).tolist() == ["till", "shoes"]


def test_missing_readings_count_by_how_loud_the_other_side_was() -> None:
    """A strong AP missing from a fingerprint weighs more than a weak one missing."""
    clf = FingerprintClassifier(k=1).fit(
        [[-50.0, -90.0], [np.nan, -60.0]], ["a", "b"]
    )  # query misses the strong AP of 'a' but hears 'b''s AP weakly
    assert clf.predict([[np.nan, -88.0]]).tolist() == ["b"]
    assert clf.predict([[-52.0, np.nan]]).tolist() == ["a"]


def test_classify_by_sensor_name_with_switch_margin() -> None:
    """With sensors named, the classifier is a ZoneClassifier and keeps a close previous zone."""
    clf = FingerprintClassifier(k=4, sensors=["ap1", "ap2"], switch_margin=0.5).fit(
        [[-40.0, -70.0], [-45.0, -65.0], [-70.0, -40.0], [-65.0, -45.0]],
        ["left", "left", "right", "right"],
    )
    assert isinstance(clf, ZoneClassifier)
    est = clf.classify({"ap1": -44.0, "ap2": -66.0})
    assert est.zone == "left"
    assert est.probabilities["left"] > est.probabilities["right"]
    assert clf.classify({"ap1": -54.0, "ap2": -56.0}, "right").zone == "right"
    assert clf.classify({}).zone is None


def test_errors_name_the_field() -> None:
    """Wrong shapes and an unfitted model fail with the field and what came."""
    with pytest.raises(ValueError, match="must be fitted"):
        FingerprintClassifier().predict([[-50.0]])
    clf = FingerprintClassifier().fit([[-50.0, -60.0]], ["a"])
    with pytest.raises(ValueError, match=r"'rssi_matrix' must have 2 columns .* \(got 3\)"):
        clf.predict([[-50.0, -60.0, -70.0]])
    with pytest.raises(ValueError, match=r"'zone_labels' must hold one label per row \(1\)"):
        FingerprintClassifier().fit([[-50.0]], ["a", "b"])
    with pytest.raises(ValueError, match=r"'k' must be >= 1 \(got 0\)"):
        FingerprintClassifier(k=0)


def test_uji_beats_strongest_baseline_by_ten_points_and_matches_sklearn_knn() -> None:
    """UJI trn01 -> tst01, zone = point: >= 10 points over strongest-AP and >= sklearn kNN."""
    x_trn, y_trn, columns = _load_uji("trn01")
    x_tst, y_tst, _ = _load_uji("tst01")
    ours = float(np.mean(FingerprintClassifier().fit(x_trn, y_trn).predict(x_tst) == y_tst))
    base_clf = StrongestSensorClassifier.from_fingerprints(x_trn, y_trn, columns)
    base = float(
        np.mean(
            [
                base_clf.classify(dict(zip(columns, row.tolist(), strict=True))).zone == label
                for row, label in zip(x_tst, y_tst, strict=True)
            ]
        )
    )
    filled = np.where(np.isnan(x_trn), -100.0, x_trn)
    knn = KNeighborsClassifier(n_neighbors=5).fit(filled, y_trn)
    sk = float(np.mean(knn.predict(np.where(np.isnan(x_tst), -100.0, x_tst)) == y_tst))
    assert ours >= base + 0.10, (ours, base)
    assert ours >= sk, (ours, sk)
    assert np.unique(y_trn).size == 48


def test_training_row_order_does_not_change_predictions() -> None:
    """Shuffling the training rows leaves the probabilities unchanged (seeded data, no ties)."""
    rng = np.random.default_rng(9)
    x = rng.uniform(-95, -40, size=(120, 6))
    x[rng.random(x.shape) < 0.3] = np.nan
    y = rng.choice(["a", "b", "c"], size=120)
    query = rng.uniform(-95, -40, size=(30, 6))
    query[rng.random(query.shape) < 0.3] = np.nan
    order = rng.permutation(120)
    p1 = FingerprintClassifier(k=7).fit(x, y).predict_proba(query)
    p2 = FingerprintClassifier(k=7).fit(x[order], y[order]).predict_proba(query)
    np.testing.assert_allclose(p1, p2, atol=1e-12)
    assert ((p1 >= 0) & (p1 <= 1)).all()
    np.testing.assert_allclose(p1.sum(axis=1), 1.0)


def test_k_larger_than_the_training_set_uses_every_fingerprint() -> None:
    """With k above the number of fingerprints every one of them votes."""
    clf = FingerprintClassifier(k=50).fit([[-40.0], [-80.0], [-82.0]], ["near", "far", "far"])
    proba = clf.predict_proba([[-41.0]])
    assert proba.shape == (1, 2)
    assert clf.predict([[-41.0]]).tolist() == ["near"]
    assert 0.0 < proba[0, 0] < 1.0
