"""The ``footfall agent`` commands: config checks, run errors, provisioning, backoff."""

from __future__ import annotations

import json
import random
from pathlib import Path

from typer.testing import CliRunner

from edge_agent.mqtt import backoff_s
from footfall.cli import build_app

GOOD = """
store_id = "s1"
agent_id = "a1"
site_secret = "cli-k2j3h4g5f6d7s8a9q0w1e2r3"
[outbox]
path = "{outbox}"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text.replace("{outbox}", str(tmp_path / "o.sqlite")))
    return path


def test_check_config_ok_prints_summary_and_json(tmp_path: Path) -> None:
    """A valid config exits 0 with a summary, or the effective settings as JSON (secret hidden)."""
    cfg = write(tmp_path, GOOD)
    result = CliRunner().invoke(build_app(), ["agent", "check-config", "-c", str(cfg)])
    assert result.exit_code == 0
    assert "footfall/v1/s1/a1/" in result.output
    assert "tracker: kalman, BLE zones by the strongest sensor" in result.output
    result = CliRunner().invoke(build_app(), ["agent", "check-config", "-c", str(cfg), "--json"])
    doc = json.loads(result.output)
    assert doc["ok"] is True
    assert doc["settings"]["store_id"] == "s1"
    assert "cli-k2j3" not in result.output


def test_check_config_errors_exit_2_one_line_each(tmp_path: Path) -> None:
    """Problems go to stderr, one line each, with exit code 2."""
    cfg = write(tmp_path, GOOD.replace('"s1"', '"S 1"') + "[mqtt]\nport = 0\n")
    result = CliRunner().invoke(build_app(), ["agent", "check-config", "-c", str(cfg)])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 2
    assert lines[0].startswith("error: store_id:")
    assert lines[1].startswith("error: mqtt.port:")


def test_run_refuses_conflicting_sources_and_no_source(tmp_path: Path) -> None:
    """--replay with --simulate, or no source at all, is a one-line error with exit code 2."""
    cfg = write(tmp_path, GOOD)
    both = CliRunner().invoke(
        build_app(), ["agent", "run", "-c", str(cfg), "--simulate", "--replay", str(cfg)]
    )
    assert both.exit_code == 2
    assert "exclude each other" in both.stderr
    none = CliRunner().invoke(build_app(), ["agent", "run", "-c", str(cfg), "--no-mqtt"])
    assert none.exit_code == 2
    assert "no source" in none.stderr


def test_run_with_missing_wifi_interface_fails_clearly(tmp_path: Path) -> None:
    """An enabled Wi-Fi source on a missing interface stops the agent with a clear error."""
    text = GOOD + '[sources.wifi]\nenabled = true\niface = "nosuchmon0"\n'
    cfg = write(tmp_path, text)
    result = CliRunner().invoke(build_app(), ["agent", "run", "-c", str(cfg), "--no-mqtt"])
    assert result.exit_code == 2
    assert "interface 'nosuchmon0' not found" in result.stderr


def test_provision_prints_credentials_and_acl_as_json() -> None:
    """Provisioning gives a username, a password, a $7$ password line and the agent's ACL."""
    result = CliRunner().invoke(
        build_app(), ["provision", "agent", "--store", "s1", "--agent", "a1", "--json"]
    )
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["username"] == "agent-s1-a1"
    assert doc["password_line"].startswith("agent-s1-a1:$7$101$")
    assert "topic write footfall/v1/s1/a1/events" in doc["acl"]


def test_backoff_grows_to_the_cap_with_jitter() -> None:
    """Reconnect delays are min(base**tries, cap) scaled by a jitter in [0.5, 1]."""
    rng = random.Random(7)
    delays = [backoff_s(t, 2.0, 60.0, rng) for t in range(1, 12)]
    for tries, delay in enumerate(delays, start=1):
        ceiling = min(2.0**tries, 60.0)
        assert 0.5 * ceiling <= delay <= ceiling
    assert max(delays) <= 60.0
    assert backoff_s(64, 2.0, 60.0, rng) >= 30.0


def test_check_config_names_the_survey_or_its_broken_line(tmp_path: Path) -> None:
    """With ``fingerprints`` the summary says BLE zones come from it; a broken survey is an
    error naming the file's line, exit 2."""
    survey = tmp_path / "survey.jsonl"
    survey.write_text('{"zone": "door", "ts_s": 1.0, "rssi_dbm": {"a1": -60.0}}\n')
    cfg = write(tmp_path, f'fingerprints = "{survey}"\n' + GOOD)
    result = CliRunner().invoke(build_app(), ["agent", "check-config", "-c", str(cfg)])
    assert result.exit_code == 0
    assert f"BLE zones by a kNN (1 fingerprint, no spots in {survey})" in result.output
    survey.write_text(
        '{"zone": "door", "ts_s": 1.0, "rssi_dbm": {"a1": -60.0}, "x_m": 1.0, "y_m": 2.0}\n'
    )
    result = CliRunner().invoke(build_app(), ["agent", "check-config", "-c", str(cfg)])
    assert f"BLE zones by a grid filter over surveyed spots (1 fingerprint in {survey})" in (
        result.output
    )
    survey.write_text("{not json\n")
    result = CliRunner().invoke(build_app(), ["agent", "check-config", "-c", str(cfg)])
    assert result.exit_code == 2
    assert "line 1" in result.stderr
