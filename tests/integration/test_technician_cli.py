"""The technician commands end to end: calibration against the simulator's known truth,
fingerprints and walk tests on the simulated store, zone pushes to a real Mosquitto,
and agent provisioning."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from edge_agent.payloads import ConfigUpdate
from edge_agent.sources.replay import sighting_to_json
from edge_agent.technician.calibrate import load_calibration
from edge_agent.technician.calsim import CALIBRATION_BEACON_ID, WalkLeg, WalkSim
from footfall.cli import build_app
from hardware.privacy import DeviceKeyer
from tests.support.mosquitto import Mosquitto

ZONES = ("entrance", "apparel", "checkout", "shoes", "home", "electronics")
WALK = (
    "t,zone\n0,entrance\n40,apparel\n80,shoes\n120,home\n160,electronics\n200,checkout\n240,end\n"
)
SITE_SECRET = "k3Yq9v-generated-for-the-site-0123"


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("p1m_dbm", "n", "seed"), [(-59.0, 2.2, 1), (-66.0, 3.0, 2), (-52.0, 1.7, 3), (-60.0, 3.8, 4)]
)
def test_path_loss_fit_recovers_the_simulator_truth(
    tmp_path: Path, p1m_dbm: float, n: float, seed: int
) -> None:
    """calibrate path-loss on the simulated beacon fits P1m within 1 dB and n within 0.2."""
    out = tmp_path / "calibration.json"
    code, stdout, stderr = _run(
        "calibrate", "path-loss", "--beacon", "cal", "--simulate", "--seed", str(seed),
        "--sim-p1m", str(p1m_dbm), "--sim-n", str(n), "--distances", "1,2,4,8",
        "--seconds", "20", "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert abs(doc["p1m_dbm"] - p1m_dbm) <= 1.0
    assert abs(doc["n"] - n) <= 0.2
    assert doc["quality"] == "good"
    assert [s["distance_m"] for s in doc["steps"]] == [1.0, 2.0, 4.0, 8.0]
    cal = load_calibration(out)
    assert abs(cal.model.n - n) <= 0.2
    assert (tmp_path / "path-loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_path_loss_prints_the_table_sparkline_and_files(tmp_path: Path) -> None:
    """Without --json the fit shows per-distance residuals, sparklines and what it wrote."""
    plot = tmp_path / "plot.png"
    code, stdout, _ = _run(
        "calibrate", "path-loss", "--beacon", "cal", "--simulate", "--distances", "1,3,9",
        "--seconds", "10", "--out", str(tmp_path / "c.json"), "--plot", str(plot),
    )  # fmt: skip
    assert code == 0
    assert "residual dB" in stdout
    assert "median RSSI by distance  █" in stdout
    assert f"and {plot}" in stdout
    assert plot.is_file()


def test_path_loss_without_a_terminal_needs_distances(tmp_path: Path) -> None:
    """Non-interactive runs without --distances fail with exit 2 saying what to pass."""
    code, _, stderr = _run("calibrate", "path-loss", "--beacon", "cal", "--simulate")
    assert code == 2
    assert stderr.strip() == (
        "error: stdin is not a terminal: pass the distances, e.g. --distances 1,2,4,8"
    )


def test_power_sets_site_then_sensor_offset(tmp_path: Path) -> None:
    """The first power measurement sets the site P1m, a louder second sensor gets an offset."""
    out = tmp_path / "calibration.json"
    code, stdout, stderr = _run(
        "calibrate", "power", "--beacon", "cal", "--simulate", "--sim-p1m", "-63",
        "--sensor", "s1", "--seconds", "30", "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    first = json.loads(stdout)
    assert abs(first["p1m_dbm"] + 63.0) <= 1.0
    assert first["sensor_offset_db"] == 0.0
    assert 0.0 <= first["outlier_share"] < 0.15
    code, stdout, _ = _run(
        "calibrate", "power", "--beacon", "cal", "--simulate", "--sim-p1m", "-60", "--seed", "2",
        "--sensor", "s2", "--seconds", "30", "--out", str(out), "--json",
    )  # fmt: skip
    second = json.loads(stdout)
    assert abs(second["sensor_offset_db"] - 3.0) <= 1.0
    assert set(load_calibration(out).sensor_offsets_db) == {"s1", "s2"}


def test_power_on_the_radios_needs_the_agent_config() -> None:
    """Without --simulate the radios need the agent TOML: exit 2 saying so."""
    code, _, stderr = _run("calibrate", "power", "--beacon", "cal", "--seconds", "1")
    assert code == 2
    assert "--config is required without --simulate" in stderr


def _record_all_zones(fingerprints: Path) -> None:
    for zone in ZONES:
        code, stdout, stderr = _run(
            "zones", "record", zone, "--beacon", "tech", "--simulate", "--seed", "3",
            "--seconds", "60", "--out", str(fingerprints), "--json",
        )  # fmt: skip
        assert code == 0, stderr
        assert json.loads(stdout)["fingerprints"] == 60


def test_walk_test_with_fingerprints_on_the_simulated_store(tmp_path: Path) -> None:
    """Fingerprints of six zones then a walk through them: >= 85 % agreement, no zone missed."""
    fingerprints = tmp_path / "fp.jsonl"
    _record_all_zones(fingerprints)
    walk = tmp_path / "walk.csv"
    walk.write_text(WALK)
    code, stdout, stderr = _run(
        "zones", "validate", "--walk", str(walk), "--beacon", "tech", "--simulate",
        "--seed", "9", "--fingerprints", str(fingerprints), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["zones"] == ["entrance", "apparel", "shoes", "home", "electronics", "checkout"]
    assert sum(map(sum, report["confusion"])) == 240
    assert report["accuracy"] >= 0.85
    assert report["missed"] == 0
    assert report["max_latency_s"] <= 10


def test_walk_test_on_a_recorded_walk(tmp_path: Path) -> None:
    """A walk recorded as sightings JSONL is replayed and scored by the loudest sensor."""
    keyer = DeviceKeyer(SITE_SECRET.encode(), {CALIBRATION_BEACON_ID: "tech"})
    legs = [WalkLeg("entrance", 40), WalkLeg("home", 40), WalkLeg("electronics", 40)]
    start = 1_795_428_000.0
    recording = tmp_path / "walk.jsonl"
    lines = [sighting_to_json(s) for s in WalkSim(seed=4).sightings(keyer, legs, start)]
    recording.write_text("\n".join(lines) + "\n")
    walk = tmp_path / "walk.csv"
    walk.write_text(
        "t,zone\n2026-11-23T10:00:00Z,entrance\n2026-11-23T10:00:40Z,home\n"
        "2026-11-23T10:01:20Z,electronics\n2026-11-23T10:02:00Z,end\n"
    )
    config = tmp_path / "agent.toml"
    config.write_text(
        'store_id = "s"\nagent_id = "a"\n[sensor_zones]\n'
        + "".join(f'"s-{z}" = "{z}"\n' for z in ZONES)
    )
    code, stdout, stderr = _run(
        "zones", "validate", "--walk", str(walk), "--beacon", "tech", "--replay", str(recording),
        "--config", str(config), "--json",
        env={"FOOTFALL_AGENT_SITE_SECRET": SITE_SECRET},
    )  # fmt: skip
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["method"].startswith("loudest sensor")
    assert sum(map(sum, report["confusion"])) == 120
    assert report["accuracy"] >= 0.8
    assert report["missed"] == 0


def test_zones_push_publishes_retained_config_per_agent(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """zones push leaves a retained ConfigUpdate on each agent's config topic."""
    config = tmp_path / "agent.toml"
    config.write_text(
        'store_id = "push-store"\nagent_id = "entrance-a"\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {mosquitto.port}\n'
        '[[zones]]\nname = "entrance"\nmin_rssi_dbm = -65\n'
        '[[zones]]\nname = "store"\nmin_rssi_dbm = -88\n'
        "[thresholds]\nexit_grace_s = 20\n"
    )
    cal = tmp_path / "cal.json"
    cal.write_text('{"schema": 1, "p1m_dbm": -61.0, "n": 2.4, "sensor_offsets_db": {}}')
    env = {"FOOTFALL_AGENT_SITE_SECRET": SITE_SECRET}
    code, stdout, stderr = _run(
        "zones", "push", "--config", str(config), "--agent", "entrance-a", "--agent", "shoes-b",
        "--calibration", str(cal), "--json", env=env,
    )  # fmt: skip
    assert code == 0, stderr
    pushed = json.loads(stdout)
    assert pushed["topics"] == [
        "footfall/v1/push-store/entrance-a/config",
        "footfall/v1/push-store/shoes-b/config",
    ]
    got: dict[str, bytes] = {}
    done = threading.Event()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        assert msg.retain
        got[msg.topic] = bytes(msg.payload)
        if len(got) == 2:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe("footfall/v1/push-store/+/config", qos=1)
    client.loop_start()
    try:
        assert done.wait(10.0)
    finally:
        client.disconnect()
        client.loop_stop()
    for payload in got.values():
        update = ConfigUpdate.model_validate_json(payload)
        assert update.version == pushed["version"]
        assert [z.name for z in update.zones or ()] == ["entrance", "store"]
        assert update.thresholds is not None
        assert update.thresholds.exit_grace_s == 20
        assert json.loads(payload)["calibration"]["n"] == 2.4


def test_zones_push_to_a_dead_broker_says_what_to_check(tmp_path: Path) -> None:
    """An unreachable broker fails with exit 2 naming the broker and the settings to check."""
    config = tmp_path / "agent.toml"
    config.write_text('store_id = "s"\nagent_id = "a"\n[mqtt]\nhost = "127.0.0.1"\nport = 9\n')
    code, _, stderr = _run(
        "zones", "push", "--config", str(config), "--timeout-s", "2",
        env={"FOOTFALL_AGENT_SITE_SECRET": SITE_SECRET},
    )  # fmt: skip
    assert code == 2
    assert "127.0.0.1:9" in stderr
    assert "check [mqtt] host/port" in stderr


def test_provision_agent_writes_a_config_that_checks(tmp_path: Path) -> None:
    """provision agent --out writes the TOML and a 0600 env file that check-config accepts."""
    secret_file = tmp_path / "site-secret"
    secret_file.write_text(SITE_SECRET + "\n")
    out = tmp_path / "agents"
    code, stdout, stderr = _run(
        "provision", "agent", "--store", "krakow-01", "--agent", "shoes-b", "--out", str(out),
        "--broker-host", "mqtt.shop.net", "--zone", "shoes",
        "--site-secret-file", str(secret_file), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["files"] == [str(out / "shoes-b.toml"), str(out / "shoes-b.env")]
    env_file = out / "shoes-b.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines() if not line.startswith("#")
    )
    assert env["FOOTFALL_AGENT_MQTT__PASSWORD"] == doc["password"]
    code, stdout, stderr = _run(
        "agent", "check-config", "--config", str(out / "shoes-b.toml"), "--json", env=env
    )
    assert code == 0, stderr
    settings = json.loads(stdout)["settings"]
    assert settings["mqtt"]["username"] == "agent-krakow-01-shoes-b"
    assert settings["sensor_zones"] == {"shoes-b": "shoes"}
    code, _, stderr = _run(
        "provision", "agent", "--store", "krakow-01", "--agent", "shoes-b", "--out", str(out)
    )
    assert code == 2
    assert "exists; pass --force" in stderr


def test_scan_replays_a_recording_into_rows(tmp_path: Path) -> None:
    """scan --replay at full speed gives one row per device and sensor with rates and distance."""
    keyer = DeviceKeyer(SITE_SECRET.encode(), {CALIBRATION_BEACON_ID: "tech"})
    recording = tmp_path / "walk.jsonl"
    sightings = list(WalkSim(seed=5).sightings(keyer, [WalkLeg("entrance", 30)], 1_795_428_000.0))
    recording.write_text("\n".join(sighting_to_json(s) for s in sightings) + "\n")
    code, stdout, stderr = _run(
        "scan", "--replay", str(recording), "--speed", "0", "--json", "--limit", "3",
        "--sort", "smoothed", env={"FOOTFALL_AGENT_SITE_SECRET": SITE_SECRET},
    )  # fmt: skip
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["sightings"] == len(sightings)
    rows = doc["rows"]
    assert len(rows) == 3
    assert rows[0]["sensor_id"] == "s-entrance"  # the beacon stands in the entrance
    assert {r["device_key"] for r in rows} == {"tech"}
    assert rows[0]["smoothed_dbm"] >= rows[1]["smoothed_dbm"] >= rows[2]["smoothed_dbm"]
    assert all(r["adverts_per_s"] > 0 and r["distance_m"] > 0 for r in rows)


def test_scan_refuses_an_unknown_sort_naming_the_choices() -> None:
    """A bad --sort exits 2 listing the accepted keys."""
    code, _, stderr = _run("scan", "--simulate", "--sort", "loudness")
    assert code == 2
    assert "--sort must be one of rssi, smoothed, distance, rate, key, sensor, seen" in stderr


def test_shell_completion_offers_the_sort_keys() -> None:
    """Completion of --sort comes from the same keys the scan table accepts."""
    from edge_agent.technician.scan import SORT_KEYS
    from edge_agent.technician_cli import SORT_CHOICES

    assert SORT_CHOICES == SORT_KEYS
    result = CliRunner().invoke(
        build_app(),
        [],
        env={
            "_FOOTFALL_COMPLETE": "complete_bash",
            "COMP_WORDS": "footfall scan --sort di",
            "COMP_CWORD": "3",
        },
        prog_name="footfall",
    )
    assert result.stdout.split() == ["distance"]


def _home_recording(tmp_path: Path) -> Path:
    """20 s of the technician beacon in 'home', as every agent recorded it, concatenated."""
    keyer = DeviceKeyer(SITE_SECRET.encode(), {CALIBRATION_BEACON_ID: "tech"})
    sightings = list(WalkSim(seed=6).sightings(keyer, [WalkLeg("home", 20)], 1_795_428_000.0))
    by_sensor: dict[str, list[str]] = {}
    for s in sightings:
        by_sensor.setdefault(s.sensor_id, []).append(sighting_to_json(s))
    recording = tmp_path / "all.jsonl"
    recording.write_text("".join("\n".join(lines) + "\n" for lines in by_sensor.values()))
    return recording


def test_zones_record_from_a_recording_of_several_agents(tmp_path: Path) -> None:
    """zones record --replay fingerprints the beacon from concatenated agent recordings."""
    recording = _home_recording(tmp_path)
    fingerprints = tmp_path / "fp.jsonl"
    code, stdout, stderr = _run(
        "zones", "record", "home", "--beacon", "tech", "--replay", str(recording),
        "--out", str(fingerprints), "--json", env={"FOOTFALL_AGENT_SITE_SECRET": SITE_SECRET},
    )  # fmt: skip
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["fingerprints"] == 20
    assert len(doc["sensors"]) >= 5
    rows = [json.loads(line) for line in fingerprints.read_text().splitlines()]
    assert all(r["zone"] == "home" for r in rows)
    assert all(max(r["rssi_dbm"], key=r["rssi_dbm"].get) == "s-home" for r in rows[2:])


def test_zones_record_at_a_spot_writes_it_on_every_row(tmp_path: Path) -> None:
    """--at X,Y: the reference point goes on every fingerprint; a malformed one is refused."""
    recording = _home_recording(tmp_path)
    fingerprints = tmp_path / "fp.jsonl"
    env = {"FOOTFALL_AGENT_SITE_SECRET": SITE_SECRET}
    args = ["zones", "record", "home", "--beacon", "tech", "--replay", str(recording)]
    code, _, stderr = _run(*args, "--at", "15,12.5", "--out", str(fingerprints), env=env)
    assert code == 0, stderr
    rows = [json.loads(line) for line in fingerprints.read_text().splitlines()]
    assert rows
    assert {(r["x_m"], r["y_m"]) for r in rows} == {(15.0, 12.5)}
    code, _, stderr = _run(*args, "--at", "15", "--out", str(fingerprints), env=env)
    assert code == 2
    assert "--at must be X,Y" in stderr
