"""``footfall scan --simulate`` in a real terminal (tmux): the live table shows keys and RSSI."""

from __future__ import annotations

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
