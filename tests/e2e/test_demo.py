"""``footfall demo`` end to end, on a machine where no Mosquitto and no PostgreSQL can be reached.

The demo runs in a fresh network namespace (``unshare --net``) with only its own
loopback: the host's broker on :1883 and database on :5432 do not exist there, so
the demo can only pass on its embedded broker and SQLite. It is stopped with
SIGINT (Ctrl-C), which must stop everything cleanly.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

FOOTFALL = str(Path(sys.executable).with_name("footfall"))


def _isolated(cmd: str) -> list[str]:
    """``cmd`` in a new network namespace with loopback up and nothing listening."""
    return ["unshare", "--net", "sh", "-c", f"ip link set lo up && exec {cmd}"]


def _ctrl_c_default() -> None:
    """Ctrl-C as in a terminal: a suite started in the background by a non-interactive
    shell inherits SIGINT *ignored* (POSIX), and so would the demo, which would then never
    see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(_isolated("true"), capture_output=True, check=False)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def isolation() -> None:
    if not _namespaces_work():
        pytest.skip("needs 'unshare --net' (root or user namespaces) to hide the host's services")
    check = subprocess.run(
        _isolated(
            "sh -c '(exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && echo mqtt; "
            "(exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && echo pg; true'"
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.stdout.strip() == "", f"services reachable inside the namespace: {check.stdout}"


def _read_json_document(stream: Any, deadline: float) -> dict[str, Any]:
    """Read stdout lines until they form one JSON document (the --json summary)."""
    buf = ""
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        buf += line
        if line.startswith("}"):
            doc: dict[str, Any] = json.loads(buf)
            return doc
    raise AssertionError(f"no JSON summary before the deadline; got: {buf[-2000:]}")


@pytest.mark.timeout(900)
def test_demo_on_embedded_parts_measures_the_true_lift(isolation: None, tmp_path: Path) -> None:
    """Two minutes of demo: events stored, visits counted, true lift inside the 95 % CI, Ctrl-C."""
    cmd = (
        f"{FOOTFALL} demo --minutes 2 --no-browser --json --port 0 --seed 7 "
        f"--workdir {tmp_path / 'demo'}"
    )
    env = {**os.environ, "FOOTFALL_GATEWAY_DATABASE_URL": "postgresql://nowhere/none"}
    with (tmp_path / "demo.stderr").open("w") as stderr_file:
        proc = subprocess.Popen(
            _isolated(cmd),
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            env=env,
            preexec_fn=_ctrl_c_default,
        )
    try:
        summary = _read_json_document(proc.stdout, time.monotonic() + 900)
        # The dashboard answers with the printed key while the demo serves.
        url = summary["dashboard_url"] + "api/v1/stores"
        check = subprocess.run(
            _isolated_in(proc.pid, url, summary["api_key"]), capture_output=True, text=True
        )
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    stderr = (tmp_path / "demo.stderr").read_text()
    assert proc.returncode == 0, stderr[-3000:]
    assert "demo stopped cleanly" in stderr
    assert check.returncode == 0, check.stderr
    assert "krakow-01" in check.stdout

    assert summary["events_stored"] == sum(a["events"] for a in summary["agents"])
    for counts in summary["footfall"].values():
        assert counts.get("visitor", 0) + counts.get("engaged", 0) > 20
        assert counts.get("passer_by", 0) > 0
    # The pipeline finds the audience's visitors: measured per arm vs what was simulated.
    arms = {a["arm"]: a for a in summary["lift"]["sections"]["arms"]}
    for arm in ("exposed", "control"):
        simulated = summary["campaign"][f"true_visitors_{arm}"]
        assert abs(arms[arm]["visitors"] - simulated) <= max(3, 0.1 * simulated), (arm, arms)
    rows = summary["lift"]["sections"]["lift"]
    ci95 = next(r for r in rows if r["metric"] == "relative_lift" and r["level"] == 0.95)
    truth = summary["campaign"]["true_relative_lift"]
    assert ci95["lower"] <= truth <= ci95["upper"], ci95


def _isolated_in(pid: int, url: str, key: str) -> list[str]:
    """A request to ``url`` from inside the demo's network namespace (that of ``pid``)."""
    script = (
        "import sys, urllib.request; "
        f"r = urllib.request.Request({url!r}, headers={{'Authorization': 'Bearer {key}'}}); "
        "sys.stdout.write(urllib.request.urlopen(r, timeout=10).read().decode())"
    )
    # The shell in the namespace is the demo's parent: its namespace is the demo's.
    return ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", script]


@contextlib.contextmanager
def _demo_with_agents_running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A 3-minute demo (isolated, stderr to a file) once its agents run; killed on exit."""
    cmd = f"{FOOTFALL} demo --minutes 3 --no-browser --port 0 --workdir {tmp_path / 'demo'}"
    env = {**os.environ, "FOOTFALL_GATEWAY_DATABASE_URL": "postgresql://nowhere/none"}
    stderr_path = tmp_path / "demo.stderr"
    with stderr_path.open("w") as stderr_file:
        proc = subprocess.Popen(
            _isolated(cmd), stdout=subprocess.DEVNULL, stderr=stderr_file, env=env
        )
    try:
        deadline = time.monotonic() + 120
        while "dashboard" not in stderr_path.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, stderr_path.read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(5)  # the agents are running now
        assert proc.poll() is None, stderr_path.read_text()[-3000:]
        yield proc, stderr_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(300)
def test_sigterm_mid_run_stops_every_part_cleanly(isolation: None, tmp_path: Path) -> None:
    """SIGTERM (systemd, docker, kill) while the agents are still simulating: the same clean
    stop as Ctrl-C, long before the run would have ended."""
    with _demo_with_agents_running(tmp_path) as (proc, stderr_path):
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
        took = time.monotonic() - sent
    stderr = stderr_path.read_text()
    assert proc.returncode == 0, stderr[-3000:]
    assert "stopping..." in stderr
    assert "demo stopped cleanly" in stderr
    assert took < 60, f"took {took:.0f} s to stop"


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid``, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.timeout(300)
def test_agents_stop_when_the_demo_is_killed(isolation: None, tmp_path: Path) -> None:
    """SIGKILL leaves no clean stop, but the agent processes notice that the demo is gone and
    stop instead of simulating on, orphaned."""
    with _demo_with_agents_running(tmp_path) as (proc, _stderr):
        children = _children(proc.pid)
        assert len(children) >= 2, f"expected the agent processes, found {children}"
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 90
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [pid for pid in children if _alive(pid)]
    for pid in left:  # do not leave them running when the assertion fails
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"agent processes still running after the demo was killed: {left}"
