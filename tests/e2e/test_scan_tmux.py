"""The technician commands in a real terminal (tmux): the live scan table and the prompts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


@pytest.fixture
def tmux_socket() -> Iterator[str]:
    """A private tmux server (its own socket), killed after the test."""
    name = f"footfall-test-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run([str(TMUX), "-L", name, "kill-server"], check=False, capture_output=True)


def _capture(socket: str, session: str) -> str:
    return subprocess.run(
        [str(TMUX), "-L", socket, "capture-pane", "-p", "-t", session],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_scan_simulate_draws_a_live_table(tmux_socket: str) -> None:
    """Within seconds the pane shows the header, device keys, sensors and numeric RSSI."""
    footfall = Path(sys.executable).with_name("footfall")
    session = "scan"
    env = {**os.environ, "TERM": "xterm-256color"}
    subprocess.run(
        [
            str(TMUX), "-L", tmux_socket, "new-session", "-d", "-s", session,
            "-x", "120", "-y", "40",
            f"{footfall} scan --simulate --speed 20 --limit 10 --seconds 60; sleep 30",
        ],
        check=True,
        env=env,
    )  # fmt: skip
    screen = ""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        screen = _capture(tmux_socket, session)
        if "dk1_" in screen and "sightings" in screen:
            break
        time.sleep(0.5)
    assert "footfall scan (simulation)" in screen, screen
    header = next(line for line in screen.splitlines() if "device key" in line)
    for column in ("sensor", "class", "RSSI", "smooth", "dist m", "adv/s", "count"):
        assert column in header
    rows = [line.split() for line in screen.splitlines() if line.strip().startswith("dk1_")]
    assert rows, screen
    for row in rows:
        assert row[1].startswith("s-")  # the simulated store's sensors
        assert -120 <= int(row[3]) <= 0  # raw RSSI in dBm
        assert -120 <= float(row[4]) <= 0  # smoothed RSSI
    # live: the sightings count in the title grows as the simulation goes on
    first = _sightings(screen)
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline and _sightings(_capture(tmux_socket, session)) <= first:
        time.sleep(0.5)
    assert _sightings(_capture(tmux_socket, session)) > first


def _sightings(screen: str) -> int:
    title = next(line for line in screen.splitlines() if "footfall scan (" in line)
    return int(title.split(" - ")[1].split()[0])


def _wait_for(socket: str, session: str, text: str, timeout_s: float = 20.0) -> str:
    screen = ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        screen = _capture(socket, session)
        if text in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError(f"{text!r} did not appear:\n{screen}")


def test_path_loss_asks_for_distances_at_a_terminal(tmux_socket: str, tmp_path: Path) -> None:
    """At a terminal, path-loss prompts for each distance until an empty answer, then fits."""
    footfall = Path(sys.executable).with_name("footfall")
    session = "cal"
    out = tmp_path / "cal.json"
    subprocess.run(
        [
            str(TMUX), "-L", tmux_socket, "new-session", "-d", "-s", session,
            "-x", "120", "-y", "50",
            f"{footfall} calibrate path-loss --beacon cal --simulate --sim-p1m -60 --sim-n 2.5 "
            f"--seconds 20 --out {out}; sleep 30",
        ],
        check=True,
        env={**os.environ, "TERM": "xterm-256color"},
    )  # fmt: skip

    def answer(text: str) -> None:
        subprocess.run(
            [str(TMUX), "-L", tmux_socket, "send-keys", "-t", session, text, "Enter"], check=True
        )

    _wait_for(tmux_socket, session, "distance #1 in metres")
    answer("1")
    _wait_for(tmux_socket, session, "distance #2 in metres")
    answer("")  # one distance is not enough: asked again
    _wait_for(tmux_socket, session, "at least 2 distances are needed")
    answer("5")
    _wait_for(tmux_socket, session, "distance #3 in metres")
    answer("")
    screen = _wait_for(tmux_socket, session, "wrote ")
    assert "P1m -6" in screen
    fit = json.loads(out.read_text())
    assert abs(fit["p1m_dbm"] + 60.0) <= 1.0
    assert abs(fit["n"] - 2.5) <= 0.2
    assert [s["distance_m"] for s in fit["history"][-1]["steps"]] == [1.0, 5.0]
