"""Live and replayed runs of the real agent command give the same events.

The agent's time comes from the sightings, so a simulator run, its recorded
sightings replayed as fast as possible, and both paced in real time (sped up)
must fill the outbox with identical events in identical order. A real Wi-Fi
capture replayed twice, at different speeds, gives identical keyed events too.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import shared_data

SECRET = "rp-k2j3h4g5f6d7s8a9q0w1e2r3"
MAC = re.compile(r"[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}")


def config(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        "\n".join(
            [
                'store_id = "replaystore"',
                'agent_id = "entrance-a"',
                f'site_secret = "{SECRET}"',
                "[[zones]]",
                'name = "door"',
                "min_rssi_dbm = -60",
                "[outbox]",
                f'path = "{tmp_path / (name + ".sqlite")}"',
            ]
        )
        + "\n"
    )
    return path


def run_agent(cfg: Path, *args: str) -> dict[str, int]:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from footfall.cli import main; main()",
            "agent",
            "run",
            "--config",
            str(cfg),
            "--no-mqtt",
            "--json",
            *args,
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    summary: dict[str, int] = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return summary


def outbox_rows(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as db:
        return [
            (int(s), str(b)) for s, b in db.execute("SELECT seq, body FROM events ORDER BY seq")
        ]


def test_simulation_live_and_replayed_give_identical_events(tmp_path: Path) -> None:
    """Simulated live (fast and paced) and its recording replayed (fast and paced) agree exactly."""
    recording = tmp_path / "live.sightings.jsonl"
    sim = ["--simulate", "--sim", "synthetic", "--seed", "21", "--duration-s", "150"]
    sim += ["--arrivals-per-s", "1"]
    live = run_agent(config(tmp_path, "live"), *sim, "--speed", "0", "--record", str(recording))
    paced = run_agent(config(tmp_path, "paced"), *sim, "--speed", "400")
    fast = run_agent(config(tmp_path, "fast"), "--replay", str(recording), "--speed", "0")
    slow = run_agent(config(tmp_path, "slow"), "--replay", str(recording), "--speed", "400")
    assert live["events"] > 50
    assert live["sightings"] == fast["sightings"] == slow["sightings"] == paced["sightings"]
    reference = outbox_rows(tmp_path / "live.sqlite")
    assert len(reference) == live["events"]
    for name in ("paced", "fast", "slow"):
        assert outbox_rows(tmp_path / f"{name}.sqlite") == reference, name


def test_store_simulator_live_equals_replay_of_its_recording(tmp_path: Path) -> None:
    """The store simulator run live and its written run directory replayed give equal events."""
    from hardware.simulator import SimConfig, SimulatedStore, write_run

    run_dir = tmp_path / "run"
    write_run(SimulatedStore(config=SimConfig(duration_s=300), seed=5), run_dir)
    sim = ["--simulate", "--seed", "5", "--duration-s", "300"]
    live = run_agent(config(tmp_path, "slive"), *sim, "--speed", "0")
    replayed = run_agent(config(tmp_path, "sreplay"), "--replay", str(run_dir), "--speed", "0")
    assert live["sightings"] == replayed["sightings"] > 1000
    assert live["events"] > 20
    rows = outbox_rows(tmp_path / "slive.sqlite")
    assert rows == outbox_rows(tmp_path / "sreplay.sqlite")
    zones = {json.loads(b)["zone"] for _, b in rows} - {None}
    assert len(zones) >= 2, "events from several zones of the floor plan"
    assert not any(MAC.search(b) for _, b in rows)


def test_pcap_replay_is_keyed_and_repeatable(tmp_path: Path) -> None:
    """A real probe-request capture yields keyed events (no MACs), the same on every replay."""
    pcap = shared_data("wifi-probe-devices-baccichet", "PCAP", "S21Ultra-M_anonymized.pcap")
    fast = run_agent(config(tmp_path, "pfast"), "--replay", str(pcap), "--speed", "0")
    again = run_agent(config(tmp_path, "pagain"), "--replay", str(pcap), "--speed", "0")
    assert fast["sightings"] == again["sightings"] > 0
    assert fast["events"] > 0
    rows = outbox_rows(tmp_path / "pfast.sqlite")
    assert rows == outbox_rows(tmp_path / "pagain.sqlite")
    for _, body in rows:
        event = json.loads(body)
        assert event["device_key"].startswith("dk1_")
        assert event["id_class"] in ("wifi_global", "wifi_randomized")
        assert not MAC.search(body), "a raw MAC address reached the outbox"
