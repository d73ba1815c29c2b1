"""Sources: BLE adverts become keyed sightings, Wi-Fi interface checks, capture replay."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from bleak.backends.scanner import AdvertisementData

from edge_agent.config import AgentSettings
from edge_agent.sources import SourceError
from edge_agent.sources.ble import BleSource
from edge_agent.sources.pacing import Pacer
from edge_agent.sources.replay import read_sightings, sighting_to_json
from edge_agent.sources.wifi import check_monitor_interface, pcap_sightings
from hardware.observations import IdClass, Sighting, SignalKind

DATA = Path(__file__).resolve().parents[2] / "data"
SECRET = "src-k2j3h4g5f6d7s8a9q0w1e2r3"


def settings(**extra: Any) -> AgentSettings:
    return AgentSettings(store_id="s", agent_id="entrance-a", site_secret=SECRET, **extra)


def ibeacon_advert(rssi: int) -> tuple[AdvertisementData, dict[str, Any]]:
    vectors = json.loads((DATA / "ble" / "vectors.json").read_text())
    vector = next(v for v in vectors if v["name"] == "ibeacon-ble-bluecharm")
    adv = vector["advertisement"]
    data = AdvertisementData(
        local_name=adv.get("local_name"),
        manufacturer_data={int(k): bytes.fromhex(v) for k, v in adv["manufacturer_data"].items()},
        service_data={},
        service_uuids=adv.get("service_uuids", []),
        tx_power=adv.get("tx_power"),
        rssi=rssi,
        platform_data=(),
    )
    return data, vector


def test_ble_advert_becomes_a_keyed_personal_beacon_sighting() -> None:
    """A real iBeacon advert gives one sighting with a dk1_ key, its RSSI and tx power."""
    source = BleSource(settings())
    got: list[Sighting] = []
    adv, _ = ibeacon_advert(-63)
    source._on_advert(got.append, None, adv)
    assert len(got) == 1
    s = got[0]
    assert s.device_key.startswith("dk1_")
    assert s.id_class is IdClass.PERSONAL_BEACON
    assert s.signal is SignalKind.BLE
    assert s.rssi_dbm == -63.0
    assert s.sensor_id == "entrance-a"
    assert s.tx_power_dbm is not None


def test_configured_infrastructure_beacon_is_named_in_clear() -> None:
    """A beacon listed in infrastructure_beacons is keyed by its configured name."""
    from hardware.ble import decode_advertisement

    adv, _ = ibeacon_advert(-50)

    frame = decode_advertisement(manufacturer_data=adv.manufacturer_data)[0]
    beacon_id = frame.beacon_id  # type: ignore[union-attr]
    source = BleSource(settings(infrastructure_beacons={beacon_id: "ref-door"}))
    got: list[Sighting] = []
    source._on_advert(got.append, None, adv)
    assert got[0].device_key == "ref-door"
    assert got[0].id_class is IdClass.INFRASTRUCTURE_BEACON


def test_ble_non_beacon_advert_is_counted_not_emitted() -> None:
    """An advert without a beacon frame is dropped and counted by reason."""
    source = BleSource(settings())
    got: list[Sighting] = []
    adv = AdvertisementData("phone", {}, {}, [], None, -70, ())
    source._on_advert(got.append, None, adv)
    assert got == []
    assert source.drops["ble_not_a_beacon"] == 1


def test_passive_scanning_registers_beacon_patterns_and_active_disables_dedup() -> None:
    """Passive mode passes BlueZ or-patterns; active mode asks BlueZ for duplicate data."""
    passive = BleSource(settings())._scanner_kwargs()
    assert passive["scanning_mode"] == "passive"
    assert len(passive["bluez"]["or_patterns"]) == 2
    active = BleSource(settings(sources={"ble": {"passive": False}}))._scanner_kwargs()
    assert active["scanning_mode"] == "active"
    assert active["bluez"]["filters"] == {"DuplicateData": True}


def test_wifi_interface_checks_explain_the_problem(tmp_path: Path) -> None:
    """A missing or managed interface fails with a message saying what to do; monitor passes."""
    (tmp_path / "wlan0").mkdir()
    (tmp_path / "wlan0" / "type").write_text("1\n")
    (tmp_path / "wlan1mon").mkdir()
    (tmp_path / "wlan1mon" / "type").write_text("803\n")
    with pytest.raises(SourceError, match=r"'wlan9' not found \(present: wlan0, wlan1mon\)"):
        check_monitor_interface("wlan9", tmp_path)
    with pytest.raises(SourceError, match=r"not in monitor mode \(link type 1"):
        check_monitor_interface("wlan0", tmp_path)
    check_monitor_interface("wlan1mon", tmp_path)


def test_pcap_replay_keys_every_probe_request() -> None:
    """The handmade radiotap capture yields keyed Wi-Fi sightings; rejections are counted."""
    drops: Counter[str] = Counter()
    got = list(pcap_sightings(DATA / "wifi" / "handmade_radiotap.pcap", SECRET, "a", drops))
    assert got
    assert all(s.device_key.startswith("dk1_") for s in got)
    assert all(s.signal is SignalKind.WIFI for s in got)
    assert {s.id_class for s in got} <= {IdClass.WIFI_GLOBAL, IdClass.WIFI_RANDOMIZED}


def test_sightings_jsonl_roundtrip_and_bad_lines_counted(tmp_path: Path) -> None:
    """Recorded sightings read back equal; malformed lines are skipped and counted by reason."""
    sightings = [
        Sighting(1.5, "a", "dk1_x", IdClass.WIFI_GLOBAL, SignalKind.WIFI, -60.0, seq_num=7),
        Sighting(2.0, "a", "dk1_y", IdClass.PERSONAL_BEACON, SignalKind.BLE, None, -59.0),
    ]
    path = tmp_path / "r.jsonl"
    lines = [sighting_to_json(s) for s in sightings]
    path.write_text("\n".join([lines[0], "{not json", '{"ts_s": 1}', "[1]", lines[1]]) + "\n")
    drops: Counter[str] = Counter()
    assert list(read_sightings(path, drops)) == sightings
    assert drops == Counter({"bad_json": 1, "missing_field": 1, "not_an_object": 1})


def test_pacer_as_fast_as_possible_never_sleeps_long() -> None:
    """speed=None only yields to the loop; a paced stream waits for stream time / speed."""
    clock = [0.0]
    pacer = Pacer(1000.0, monotonic=lambda: clock[0])

    async def go() -> None:
        await pacer.wait_for(100.0)
        await Pacer(None).wait_for(1e9)

    asyncio.run(go())
    with pytest.raises(ValueError, match="'speed' must be > 0"):
        Pacer(0.0)
