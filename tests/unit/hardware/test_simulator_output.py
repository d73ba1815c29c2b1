"""A written simulator run is read back by the real decoders, value for value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hardware.ble import IBeacon
from hardware.ble_jsonl import BleRecord, iter_ble_jsonl
from hardware.capture import DecodeStats, iter_probe_requests
from hardware.simulator import (
    PopulationConfig,
    SimBleAdvert,
    SimConfig,
    SimProbe,
    SimulatedStore,
    probe_packet,
    write_run,
)
from hardware.simulator.output import ProbeFrameBuilder, wifi_file
from hardware.wifi import ProbeRequest

CONFIG = SimConfig(duration_s=180.0, population=PopulationConfig(shoppers_per_hour=60.0, staff=1))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulatedStore, Path]:
    store = SimulatedStore(config=CONFIG, seed=11)
    out = tmp_path_factory.mktemp("sim")
    write_run(store, out)
    return store, out


def test_ble_jsonl_decodes_to_the_simulated_ibeacons(run: tuple[SimulatedStore, Path]) -> None:
    """Every JSONL line parses and decodes to the loyalty iBeacon of the person who sent it."""
    store, out = run
    expected = [r for r in store.records() if isinstance(r, SimBleAdvert)]
    got = list(iter_ble_jsonl(out / "ble.jsonl"))
    assert len(got) == len(expected) > 100
    beacon_of = {p.ble.address: p.ble.beacon_id for p in store.people if p.ble is not None}
    for rec, sim in zip(got, expected, strict=True):
        assert isinstance(rec, BleRecord)
        assert (rec.sensor_id, rec.rssi_dbm) == (sim.sensor_id, sim.rssi_dbm)
        assert rec.ts_s == pytest.approx(sim.ts_s, abs=1e-3)
        (frame,) = rec.decode()
        assert isinstance(frame, IBeacon)
        assert frame.beacon_id == beacon_of[sim.address]
        assert frame.tx_power_1m_dbm == -59


def test_pcaps_decode_to_the_simulated_probe_requests(run: tuple[SimulatedStore, Path]) -> None:
    """Each sensor's pcap holds exactly its probes: MAC, RSSI, channel and seq number survive."""
    store, out = run
    for sensor in store.plan.sensors:
        expected = [
            r
            for r in store.records()
            if isinstance(r, SimProbe) and r.sensor_id == sensor.sensor_id
        ]
        stats = DecodeStats()
        got = list(iter_probe_requests(out / wifi_file(sensor.sensor_id), stats))
        assert stats.decoded == len(expected) == len(got)
        for probe, sim in zip(got, expected, strict=True):
            assert isinstance(probe, ProbeRequest)
            assert (probe.mac, probe.rssi_dbm, probe.channel, probe.seq_num) == (
                sim.mac,
                sim.rssi_dbm,
                sim.channel,
                sim.seq_num,
            )
            assert probe.channel == sensor.wifi_channel
            assert probe.ssid is None
            assert probe.ts_s == pytest.approx(sim.ts_s, abs=2e-6)


def test_fast_frame_builder_matches_scapy(run: tuple[SimulatedStore, Path]) -> None:
    """The cached frame bytes equal the scapy-built packet for every probe of the run."""
    store, _ = run
    builder = ProbeFrameBuilder()
    probes = [r for r in store.records() if isinstance(r, SimProbe)]
    assert probes
    for rec in probes[:200]:
        assert builder.frame(rec) == bytes(probe_packet(rec))


def test_truth_and_layout_files_describe_the_run(run: tuple[SimulatedStore, Path]) -> None:
    """truth.json lists every person and device; layout.json maps each sensor to its zone."""
    store, out = run
    truth = json.loads((out / "truth.json").read_text())
    layout = json.loads((out / "layout.json").read_text())
    assert len(truth["people"]) == len(store.people)
    ids = {i["id"] for d in truth["devices"] for i in d["identifiers"]}
    for p in store.people:
        if p.wifi is not None:
            assert {mac for _, mac in p.wifi.mac_schedule} <= ids
    assert {s["sensor_id"]: s["zone"] for s in layout["sensors"]}["s-checkout"] == "checkout"
    summary = json.loads((out / "run.json").read_text())["summary"]
    assert summary["seed"] == 11
