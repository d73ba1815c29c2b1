"""Calibration summaries, the calibration file and the sparkline."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from edge_agent.technician.calibrate import (
    CalibrationFileError,
    load_calibration,
    read_calibration,
    record_path_loss,
    record_power,
    sparkline,
    summarize_path_loss,
    summarize_power,
    write_calibration,
)


def test_power_summary_gives_median_spread_and_outliers() -> None:
    """Median and MAD spread ignore the two blocked readings, which count as outliers."""
    readings = [-60.0, -61.0, -59.0, -60.0, -62.0, -58.0, -60.0, -61.0, -59.0, -75.0, -80.0]
    s = summarize_power(readings, 1.0)
    assert s.count == 11
    assert s.median_dbm == -60.0
    assert s.spread_db == pytest.approx(1.4826)
    assert s.outlier_share == pytest.approx(2 / 11)
    assert s.p1m_dbm == -60.0


def test_power_away_from_one_metre_is_brought_back_with_n() -> None:
    """At 2 m with n = 2 the power at 1 m is the median plus 20 log10(2) dB."""
    s = summarize_power([-66.0, -66.0, -66.0], 2.0, n=2.0)
    assert s.p1m_dbm == pytest.approx(-66.0 + 20 * math.log10(2))


def test_power_without_readings_is_refused() -> None:
    """No finite reading is an error naming the argument."""
    with pytest.raises(ValueError, match="'rssi_dbm' must hold at least one finite reading"):
        summarize_power([math.nan], 1.0)


def test_path_loss_summary_recovers_a_noisy_line_robustly() -> None:
    """The Huber fit finds P1m and n through Gaussian noise and 10 % blocked readings."""
    rng = np.random.default_rng(5)
    readings = {}
    for d in (1.0, 2.0, 4.0, 8.0):
        clean = -61.0 - 10 * 2.4 * math.log10(d) + rng.normal(0, 2.0, 300)
        clean[rng.random(300) < 0.1] -= 15.0
        readings[d] = clean.tolist()
    s = summarize_path_loss(readings)
    assert s.fit.p1m_dbm == pytest.approx(-61.0, abs=0.6)
    assert s.fit.n == pytest.approx(2.4, abs=0.1)
    assert [st.distance_m for st in s.steps] == [1.0, 2.0, 4.0, 8.0]
    assert all(st.count == 300 for st in s.steps)
    assert s.quality == "good"
    assert 0.05 < s.downweighted_share < 0.5


def test_a_misplaced_distance_makes_the_fit_poor() -> None:
    """A distance whose median is 8 dB off the line is flagged as a poor fit."""
    readings = {d: [-60.0 - 20 * math.log10(d)] * 20 for d in (1.0, 2.0, 4.0, 8.0, 16.0)}
    readings[4.0] = [v + 12.0 for v in readings[4.0]]
    assert summarize_path_loss(readings).quality == "poor"


def test_first_power_sets_the_site_later_ones_set_sensor_offsets(tmp_path: Path) -> None:
    """The first sensor measured sets P1m; another reading 3 dB louder gets a +3 dB offset."""
    path = tmp_path / "cal.json"
    doc = read_calibration(path)
    a = record_power(doc, summarize_power([-60.0] * 5), beacon="b", sensor_id="a", at="t")
    b = record_power(doc, summarize_power([-57.0] * 5), beacon="b", sensor_id="b", at="t")
    write_calibration(path, doc)
    assert (a, b) == (0.0, 3.0)
    cal = load_calibration(path)
    assert cal.model.p1m_dbm == -60.0
    assert cal.model.n == 2.0
    assert cal.model_for("b").p1m_dbm == -57.0
    assert [h["kind"] for h in json.loads(path.read_text())["history"]] == ["power", "power"]


def test_path_loss_replaces_the_site_model(tmp_path: Path) -> None:
    """A path-loss fit sets P1m, n and sigma, and zeroes the measured sensor's offset."""
    path = tmp_path / "cal.json"
    doc = read_calibration(path)
    record_power(doc, summarize_power([-50.0] * 5), beacon="b", sensor_id="a", at="t")
    readings = {d: [-62.0 - 25 * math.log10(d) + e for e in (-1, 0, 1)] for d in (1.0, 3.0, 9.0)}
    record_path_loss(doc, summarize_path_loss(readings), beacon="b", sensor_id="a", at="t")
    write_calibration(path, doc)
    cal = load_calibration(path)
    assert cal.model.p1m_dbm == pytest.approx(-62.0, abs=0.01)
    assert cal.model.n == pytest.approx(2.5, abs=0.001)
    assert cal.sensor_offsets_db == {"a": 0.0}


def test_a_foreign_file_is_refused_with_the_field(tmp_path: Path) -> None:
    """A file of another schema or not JSON is refused, naming what was expected."""
    path = tmp_path / "cal.json"
    path.write_text('{"schema": 7}')
    with pytest.raises(CalibrationFileError, match="'schema' must be 1 \\(got 7\\)"):
        read_calibration(path)
    path.write_text("p1m = 3")
    with pytest.raises(CalibrationFileError, match="expected a calibration JSON file"):
        read_calibration(path)
    with pytest.raises(CalibrationFileError, match="no such calibration file"):
        load_calibration(tmp_path / "absent.json")


def test_sparkline_scales_from_lowest_to_highest() -> None:
    """The lowest value gets the lowest block, the highest the full block, NaN a space."""
    assert sparkline([-60.0, -70.0, -80.0, math.nan]) == "█▅▁ "
    assert sparkline([3.0, 3.0]) == "▅▅"
    assert sparkline([]) == ""
