"""Agent settings: TOML plus environment, and errors that name the field, expectation and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config import ConfigError, load_settings

GOOD = """
store_id = "krakow-01"
agent_id = "entrance-a"
site_secret = "k2j3h4g5f6d7s8a9q0w1e2r3"
[mqtt]
port = 8883
tls = false
[sources.wifi]
enabled = true
channels = [1, 6, 11]
[[zones]]
name = "door"
min_rssi_dbm = -60
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_reads_file_and_nested_groups(tmp_path: Path) -> None:
    """Values come from the TOML file, nested groups included."""
    s = load_settings(write(tmp_path, GOOD))
    assert s.store_id == "krakow-01"
    assert s.mqtt.port == 8883
    assert s.sources.wifi.enabled
    assert s.zones[0].name == "door"
    assert s.topic_root == "footfall/v1/krakow-01/entrance-a"
    assert s.effective_sensor_zones == {"entrance-a": "door"}


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FOOTFALL_AGENT_* variables, nested with __, win over the file."""
    monkeypatch.setenv("FOOTFALL_AGENT_MQTT__HOST", "broker.local")
    monkeypatch.setenv("FOOTFALL_AGENT_MQTT__PASSWORD", "from-env")
    s = load_settings(write(tmp_path, GOOD))
    assert s.mqtt.host == "broker.local"
    assert s.mqtt.port == 8883
    assert s.mqtt.password is not None
    assert s.mqtt.password.get_secret_value() == "from-env"


@pytest.mark.parametrize(
    ("secret", "expected"),
    [("short", "at least 16"), ("changeme-changeme-changeme", "placeholder")],
)
def test_placeholder_or_short_secrets_are_refused(
    tmp_path: Path, secret: str, expected: str
) -> None:
    """The site secret must be long and not a copied placeholder; it is never echoed."""
    text = GOOD.replace("k2j3h4g5f6d7s8a9q0w1e2r3", secret)
    with pytest.raises(ConfigError, match=expected) as info:
        load_settings(write(tmp_path, text))
    assert "site_secret" in str(info.value)
    assert secret not in str(info.value)


def test_every_problem_is_listed_with_field_and_value(tmp_path: Path) -> None:
    """Bad id, out-of-range port, bad channel and unknown key are all reported at once."""
    text = (
        GOOD.replace('"entrance-a"', '"Entrance A"')
        .replace("8883", "70000")
        .replace("[1, 6, 11]", "[1, 200]")
        + "\n[outbox]\nmax_event = 3\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    message = str(info.value)
    assert "agent_id: must be 1-63 lower-case" in message
    assert "'Entrance A'" in message
    assert "mqtt.port" in message
    assert "70000" in message
    assert "sources.wifi.channels" in message
    assert "outbox.max_event: unknown setting" in message


def test_missing_file_and_missing_fields(tmp_path: Path) -> None:
    """A missing file and a missing required field each fail with a clear message."""
    with pytest.raises(ConfigError, match="expected a readable TOML file"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="store_id: required"):
        load_settings(write(tmp_path, GOOD.replace('store_id = "krakow-01"', "")))


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    """A TOML syntax error is reported with its line."""
    with pytest.raises(ConfigError, match="line 3"):
        load_settings(write(tmp_path, 'store_id = "a"\nagent_id = "b"\nport = = 3\n'))


def test_duplicate_zone_names_are_refused(tmp_path: Path) -> None:
    """Zone names must be unique."""
    text = GOOD + '[[zones]]\nname = "door"\nmin_rssi_dbm = -70\n'
    with pytest.raises(ConfigError, match="duplicates"):
        load_settings(write(tmp_path, text))


def test_shipped_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """hardware/deploy/agent.example.toml validates once the secret comes from the environment."""
    example = Path(__file__).resolve().parents[3] / "hardware" / "deploy" / "agent.example.toml"
    monkeypatch.setenv("FOOTFALL_AGENT_SITE_SECRET", "Zk2j3h4g5f6d7s8a9q0w1e2r3")
    s = load_settings(example)
    assert s.mqtt.tls
    assert s.sources.ble.enabled
    assert s.sources.wifi.iface == "wlan1mon"
    assert s.effective_sensor_zones == {"entrance-a": "entrance"}


def test_systemd_unit_runs_unprivileged_with_only_the_needed_capabilities() -> None:
    """The unit runs as user footfall with CAP_NET_RAW/CAP_NET_ADMIN and a persistent state dir."""
    unit = (
        Path(__file__).resolve().parents[3] / "hardware" / "deploy" / "footfall-agent.service"
    ).read_text()
    assert "User=footfall" in unit
    assert "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN" in unit
    assert "StateDirectory=footfall" in unit
    assert "NoNewPrivileges=yes" in unit


def test_a_survey_file_is_checked_when_the_config_is_read(tmp_path: Path) -> None:
    """``fingerprints`` names a survey; a broken one fails the config with file and line."""
    survey = tmp_path / "survey.jsonl"
    survey.write_text('{"zone": "door", "ts_s": 1.0, "rssi_dbm": {"entrance-a": -60.0}}\n')
    s = load_settings(write(tmp_path, GOOD.replace("[mqtt]", f'fingerprints = "{survey}"\n[mqtt]')))
    assert s.fingerprints == survey
    survey.write_text(
        '{"zone": "door", "ts_s": 1.0, "rssi_dbm": {"entrance-a": -60.0}}\nnot json\n'
    )
    with pytest.raises(ConfigError, match="line 2"):
        load_settings(write(tmp_path, GOOD.replace("[mqtt]", f'fingerprints = "{survey}"\n[mqtt]')))
