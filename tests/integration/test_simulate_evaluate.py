"""`footfall simulate` then `footfall evaluate --json` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FOOTFALL = Path(sys.executable).parent / "footfall"
"""The console script installed beside the interpreter (``pip install -e .``)."""


def _footfall(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FOOTFALL), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    proc = _footfall("simulate", "--minutes", "4", "--seed", "2", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["seed"] == 2
    assert summary["ble_records"] > 0
    return out


def test_simulate_writes_every_file(run_dir: Path) -> None:
    """The run directory holds the BLE JSONL, a pcap per sensor, truth, layout, survey."""
    names = {p.name for p in run_dir.iterdir()}
    assert {"ble.jsonl", "truth.json", "layout.json", "run.json", "survey.jsonl"} <= names
    assert len([n for n in names if n.startswith("wifi-") and n.endswith(".pcap")]) == 6


def test_evaluate_scores_the_run(run_dir: Path) -> None:
    """evaluate --json reports every metric of the bar for BLE, and the device count."""
    proc = _footfall("evaluate", str(run_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    ble = report["ble"]
    for metric in (
        "per_second_accuracy",
        "near_boundary_wrong_share",
        "false_switches_per_device_hour",
        "latency_median_s",
        "latency_p95_s",
        "dwell_error_median",
        "visit_count_error",
        "passer_by_precision",
        "passer_by_recall",
    ):
        assert metric in ble
    assert ble["devices"] > 0
    assert ble["per_second_accuracy"] > 0.8
    assert report["device_count"]["true_devices"] > 0
    assert report["ble_readings"] > 0
    assert report["ble_classifier"].startswith("fingerprint (site survey")


def test_evaluate_without_the_survey_places_by_the_strongest_sensor(run_dir: Path) -> None:
    proc = _footfall("evaluate", str(run_dir), "--no-survey")
    assert proc.returncode == 0, proc.stderr
    assert "BLE placed by strongest sensor" in proc.stdout


def test_evaluate_refuses_a_directory_without_a_run(tmp_path: Path) -> None:
    """A directory that is not a simulator run fails with one line on stderr and exit code 2."""
    proc = _footfall("evaluate", str(tmp_path))
    assert proc.returncode == 2
    assert "truth.json is missing" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
