"""The scan table, fingerprints, the zone push payload and the provisioned agent TOML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.config import ThresholdSettings, ZoneSettings, load_settings
from edge_agent.payloads import ConfigUpdate
from edge_agent.provisioning import provision_agent
from edge_agent.technician.provision import agent_env, agent_toml
from edge_agent.technician.scan import ScanTable
from edge_agent.technician.zones import (
    FingerprintError,
    append_fingerprints,
    build_classifier,
    config_payload,
    fingerprint_rows,
    load_fingerprints,
)
from hardware.observations import IdClass, Sighting, SignalKind


def _ble(ts_s: float, key: str, sensor: str, rssi: float, tx: float | None = None) -> Sighting:
    return Sighting(ts_s, sensor, key, IdClass.PERSONAL_BEACON, SignalKind.BLE, rssi, tx)


def _wifi(ts_s: float, key: str, sensor: str, rssi: float) -> Sighting:
    return Sighting(ts_s, sensor, key, IdClass.WIFI_RANDOMIZED, SignalKind.WIFI, rssi)


def test_scan_rows_hold_raw_smoothed_rate_and_distance() -> None:
    """A beacon heard 10 times a second at -59 dBm with -59 dBm announced sits at 1 m."""
    table = ScanTable(rate_window_s=10.0)
    for i in range(100):
        table.add(_ble(i / 10, "dk1_a", "s1", -59.0, tx=-59.0))
    (row,) = table.rows(9.95)
    assert row.rssi_dbm == -59.0
    assert row.smoothed_dbm == pytest.approx(-59.0)
    assert row.distance_m == pytest.approx(1.0)
    assert row.adverts_per_s == pytest.approx(10.0)
    assert row.count == 100


def test_scan_sorts_filters_and_forgets() -> None:
    """Rows sort loudest first, filter by text and radio, and drop out after forget_after_s."""
    table = ScanTable(forget_after_s=30.0)
    table.extend(
        [
            _ble(0.0, "dk1_quiet", "s1", -90.0),
            _ble(1.0, "dk1_loud", "s1", -40.0),
            _wifi(2.0, "dk1_phone", "s2", -60.0),
        ]
    )
    assert [r.device_key for r in table.rows(2.0)] == ["dk1_loud", "dk1_phone", "dk1_quiet"]
    assert [r.device_key for r in table.rows(2.0, sort="key")] == [
        "dk1_loud",
        "dk1_phone",
        "dk1_quiet",
    ]
    assert [r.device_key for r in table.rows(2.0, contains="S2")] == ["dk1_phone"]
    assert [r.device_key for r in table.rows(2.0, signal=SignalKind.BLE, min_rssi_dbm=-50)] == [
        "dk1_loud"
    ]
    assert [r.device_key for r in table.rows(30.5)] == ["dk1_loud", "dk1_phone"]
    with pytest.raises(ValueError, match="'sort' must be one of"):
        table.rows(0.0, sort="loudness")


def test_fingerprints_are_window_means_per_sensor(tmp_path: Path) -> None:
    """One row per second with the mean per sensor; other devices are ignored."""
    sightings = [
        _ble(10.1, "tech", "a", -60.0),
        _ble(10.5, "tech", "a", -64.0),
        _ble(10.7, "tech", "b", -80.0),
        _ble(11.2, "tech", "b", -70.0),
        _ble(11.3, "other", "a", -30.0),
    ]
    rows = fingerprint_rows(sightings, device_key="tech", zone="shoes")
    assert rows == [
        {"zone": "shoes", "ts_s": 10.0, "rssi_dbm": {"a": -62.0, "b": -80.0}},
        {"zone": "shoes", "ts_s": 11.0, "rssi_dbm": {"b": -70.0}},
    ]
    path = tmp_path / "fp.jsonl"
    append_fingerprints(path, rows)
    append_fingerprints(path, [{"zone": "home", "ts_s": 12.0, "rssi_dbm": {"c": -50.0}}])
    fp = load_fingerprints(path)
    assert fp.sensors == ("a", "b", "c")
    assert fp.zones == ("shoes", "shoes", "home")
    assert fp.rssi_dbm[1].tolist()[1] == -70.0
    assert fp.counts() == {"shoes": 2, "home": 1}
    clf = build_classifier(fp, k=1)
    assert clf.classify({"c": -52.0}).zone == "home"
    assert clf.classify({"a": -61.0, "b": -79.0}).zone == "shoes"


def test_fingerprints_recorded_on_a_spot_carry_it(tmp_path: Path) -> None:
    """``--at X,Y``: every row carries the spot; a file whose rows all have one loads its
    spots, one row without a spot leaves the survey unpositioned (kNN only)."""
    sightings = [_ble(10.1, "tech", "a", -60.0), _ble(11.2, "tech", "b", -70.0)]
    rows = fingerprint_rows(sightings, device_key="tech", zone="shoes", at=(2.5, 11.5))
    assert [(r["x_m"], r["y_m"]) for r in rows] == [(2.5, 11.5), (2.5, 11.5)]
    path = tmp_path / "fp.jsonl"
    append_fingerprints(path, rows)
    append_fingerprints(
        path, fingerprint_rows(sightings, device_key="tech", zone="home", at=(12.0, 11.0))
    )
    fp = load_fingerprints(path)
    assert fp.xy_m is not None
    assert fp.xy_m.tolist() == [[2.5, 11.5], [2.5, 11.5], [12.0, 11.0], [12.0, 11.0]]
    append_fingerprints(path, fingerprint_rows(sightings, device_key="tech", zone="home"))
    assert load_fingerprints(path).xy_m is None
    with pytest.raises(ValueError, match="'at'"):
        fingerprint_rows(sightings, device_key="tech", zone="shoes", at=(float("nan"), 1.0))


@pytest.mark.parametrize(
    "spot",
    ['"x_m": 1.0', '"x_m": 1.0, "y_m": "2"', '"x_m": true, "y_m": 2.0', '"x_m": 1e999, "y_m": 2.0'],
)
def test_a_half_or_bad_spot_is_named(tmp_path: Path, spot: str) -> None:
    path = tmp_path / "fp.jsonl"
    path.write_text('{"zone": "a", "rssi_dbm": {"s": -50}, ' + spot + "}\n")
    with pytest.raises(FingerprintError, match="line 1: 'x_m' and 'y_m'"):
        load_fingerprints(path)


def test_a_bad_fingerprint_line_is_named(tmp_path: Path) -> None:
    """A malformed line fails with the file and line number."""
    path = tmp_path / "fp.jsonl"
    path.write_text('{"zone": "a", "rssi_dbm": {"s": -50}}\n{"zone": "b"}\n')
    with pytest.raises(FingerprintError, match="line 2: expected"):
        load_fingerprints(path)


def test_config_payload_is_what_the_agent_accepts() -> None:
    """The pushed payload validates as the agent's ConfigUpdate and carries the calibration."""
    zones = (
        ZoneSettings(name="entrance", min_rssi_dbm=-65),
        ZoneSettings(name="store", min_rssi_dbm=-88),
    )
    payload = config_payload(
        "v1",
        zones,
        ThresholdSettings(exit_grace_s=20),
        {"p1m_dbm": -60.0, "n": 2.3, "history": [1, 2]},
    )
    update = ConfigUpdate.model_validate_json(payload)
    assert update.version == "v1"
    assert update.zones == zones
    assert update.thresholds is not None
    assert update.thresholds.exit_grace_s == 20
    assert json.loads(payload)["calibration"] == {"p1m_dbm": -60.0, "n": 2.3}


def test_provisioned_toml_loads_as_agent_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The written TOML plus the env file's variables pass the agent's own config loader."""
    creds = provision_agent("krakow-01", "shoes-b", password_bytes=b"p" * 24, salt=b"s" * 12)
    path = tmp_path / "shoes-b.toml"
    path.write_text(
        agent_toml(creds, broker_host="mqtt.shop.net", broker_port=8883, tls=True, zone="shoes")
    )
    for line in agent_env(creds, "k3Yq9v-generated-for-the-site-0123").splitlines():
        if not line.startswith("#"):
            name, value = line.split("=", 1)
            monkeypatch.setenv(name, value)
    settings = load_settings(path)
    assert settings.store_id == "krakow-01"
    assert settings.agent_id == "shoes-b"
    assert settings.mqtt.host == "mqtt.shop.net"
    assert settings.mqtt.tls
    assert settings.mqtt.username == "agent-krakow-01-shoes-b"
    assert settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == creds.password
    assert settings.sensor_zones == {"shoes-b": "shoes"}
    assert settings.sources.ble.enabled
    assert "\nFOOTFALL_AGENT_SITE_SECRET" not in agent_env(creds, None)


def test_a_calibration_replaces_the_announced_power_with_the_sensor_offset() -> None:
    """With a site model and offsets, a sensor reading 6 dB hot sees the beacon at 1 m."""
    from positioning.pathloss import PathLossModel

    table = ScanTable(
        ble_model=PathLossModel(-65.0, 2.0),
        sensor_offsets_db={"hot": 6.0},
        use_announced_power=False,
    )
    table.add(_ble(0.0, "dk1_a", "hot", -59.0, tx=-40.0))
    table.add(_ble(0.0, "dk1_a", "plain", -65.0, tx=-40.0))
    rows = {r.sensor_id: r for r in table.rows(0.0)}
    assert rows["hot"].distance_m == pytest.approx(1.0)
    assert rows["plain"].distance_m == pytest.approx(1.0)


def test_the_beacon_option_accepts_a_name_or_an_id() -> None:
    """--beacon finds a configured beacon by name or id; a new id is named by itself."""
    import typer

    from edge_agent.technician_cli import _beacon_key

    settings = load_settings(
        None,
        store_id="s",
        agent_id="a",
        site_secret="k3Yq9v-generated-for-the-site-0123",
        infrastructure_beacons={"ibeacon:abc:1:1": "ref-door"},
    )
    assert _beacon_key(settings, "ref-door")[1] == "ref-door"
    assert _beacon_key(settings, " IBEACON:ABC:1:1 ")[1] == "ref-door"
    updated, key = _beacon_key(settings, "ibeacon:def:2:2")
    assert key == "ibeacon:def:2:2"
    assert updated.infrastructure_beacons["ibeacon:def:2:2"] == "ibeacon:def:2:2"
    with pytest.raises(typer.Exit):
        _beacon_key(settings, "dk1_abcdefabcdefabcd")
