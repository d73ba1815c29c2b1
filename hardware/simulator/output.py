"""Writes a simulation to a directory the real decoders read.

Layout of the directory::

    ble.jsonl              BLE adverts of every sensor, one JSON object a line (docs/ble-jsonl.md)
    wifi-<sensor_id>.pcap  probe requests each sensor's monitor radio heard (RadioTap + 802.11)
    truth.json             the ground truth (people, tracks, zone intervals, visits, devices)
    layout.json            the floor plan: zones, sensors, door, sidewalk
    run.json               seed, configuration and record counts
    survey.jsonl           a technician's site survey of the same store: zone fingerprints
                           (hardware/simulator/survey.py), what ``footfall zones record`` writes
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hardware.simulator.engine import SimBleAdvert, SimProbe, SimulatedStore
from hardware.simulator.survey import SURVEY_FILE, site_survey

BLE_FILE = "ble.jsonl"
TRUTH_FILE = "truth.json"
LAYOUT_FILE = "layout.json"
RUN_FILE = "run.json"
BROADCAST = "ff:ff:ff:ff:ff:ff"
SUPPORTED_RATES = bytes([0x02, 0x04, 0x0B, 0x16, 0x0C, 0x12, 0x18, 0x24])
"""1, 2, 5.5, 11, 6, 9, 12, 18 Mb/s: what 2.4 GHz phones put in the Supported Rates element."""


def wifi_file(sensor_id: str) -> str:
    return f"wifi-{sensor_id}.pcap"


def rfc3339_ms(ts_s: float) -> str:
    """UTC time with milliseconds and a ``Z``, as the JSONL and MQTT formats use."""
    dt = datetime.fromtimestamp(round(ts_s, 3), tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def ble_json_line(rec: SimBleAdvert) -> str:
    """One line of the BLE JSONL format (the fields bleak's AdvertisementData has)."""
    doc: dict[str, Any] = {
        "ts": rfc3339_ms(rec.ts_s),
        "sensor_id": rec.sensor_id,
        "address": rec.address,
        "rssi": rec.rssi_dbm,
        "manufacturer_data": {str(k): v.hex() for k, v in rec.manufacturer_data.items()},
        "service_data": {},
        "service_uuids": [],
        "tx_power": None,
        "local_name": None,
    }
    return json.dumps(doc, separators=(",", ":"))


def channel_freq_mhz(channel: int) -> int:
    """Centre frequency of a 2.4 GHz channel (1-13)."""
    return 2407 + 5 * channel


def probe_packet(rec: SimProbe) -> Any:
    """The scapy packet of one heard probe request: RadioTap (flags, channel, dBm) + 802.11."""
    from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11ProbeReq, RadioTap

    pkt = (
        RadioTap(
            present="Flags+Channel+dBm_AntSignal",
            Flags=0,
            ChannelFrequency=channel_freq_mhz(rec.channel),
            ChannelFlags=0x00A0,  # 2 GHz spectrum, CCK+OFDM (dynamic)
            dBm_AntSignal=rec.rssi_dbm,
        )
        / Dot11(
            type=0, subtype=4, addr1=BROADCAST, addr2=rec.mac, addr3=BROADCAST, SC=rec.seq_num << 4
        )
        / Dot11ProbeReq()
        / Dot11Elt(ID=0, info=b"")
        / Dot11Elt(ID=1, info=SUPPORTED_RATES)
        / Dot11Elt(ID=3, info=bytes([rec.channel]))
    )
    for ie_id, body in rec.ies:
        pkt = pkt / Dot11Elt(ID=ie_id, info=body)
    pkt.time = rec.ts_s
    return pkt


class ProbeFrameBuilder:
    """Raw bytes of :func:`probe_packet`, built with scapy once per template and then patched.

    Scapy takes milliseconds to assemble a packet; a run writes tens of thousands. The
    RadioTap header is cached per (channel, RSSI), the 802.11 header per MAC (the sequence
    control field, bytes 22-23 little-endian, is patched in), the elements per model and
    channel. :func:`probe_packet` is the reference the tests compare against.
    """

    _SC_OFFSET = 22

    def __init__(self) -> None:
        self._radiotap: dict[tuple[int, int], bytes] = {}
        self._dot11: dict[str, bytes] = {}
        self._elements: dict[tuple[int, tuple[tuple[int, bytes], ...]], bytes] = {}

    def frame(self, rec: SimProbe) -> bytes:
        from scapy.layers.dot11 import Dot11, Dot11Elt, RadioTap

        rt = self._radiotap.get((rec.channel, rec.rssi_dbm))
        if rt is None:
            rt = bytes(
                RadioTap(
                    present="Flags+Channel+dBm_AntSignal",
                    Flags=0,
                    ChannelFrequency=channel_freq_mhz(rec.channel),
                    ChannelFlags=0x00A0,
                    dBm_AntSignal=rec.rssi_dbm,
                )
            )
            self._radiotap[(rec.channel, rec.rssi_dbm)] = rt
        hdr = self._dot11.get(rec.mac)
        if hdr is None:
            hdr = bytes(
                Dot11(type=0, subtype=4, addr1=BROADCAST, addr2=rec.mac, addr3=BROADCAST, SC=0)
            )
            if len(self._dot11) > 4096:
                self._dot11.clear()
            self._dot11[rec.mac] = hdr
        key = (rec.channel, rec.ies)
        elts = self._elements.get(key)
        if elts is None:
            chain = (
                Dot11Elt(ID=0, info=b"")
                / Dot11Elt(ID=1, info=SUPPORTED_RATES)
                / Dot11Elt(ID=3, info=bytes([rec.channel]))
            )
            for ie_id, body in rec.ies:
                chain = chain / Dot11Elt(ID=ie_id, info=body)
            elts = bytes(chain)
            self._elements[key] = elts
        sc = (rec.seq_num << 4).to_bytes(2, "little")
        o = self._SC_OFFSET
        return rt + hdr[:o] + sc + hdr[o + 2 :] + elts


@dataclass(frozen=True, slots=True)
class RunSummary:
    out_dir: str
    seed: int
    start_ts_s: float
    end_ts_s: float
    people: int
    shoppers: int
    passers_by: int
    staff: int
    ble_records: int
    wifi_records: int
    wifi_records_by_sensor: dict[str, int]


def write_run(
    store: SimulatedStore,
    out_dir: Path,
    progress: Callable[[float], None] | None = None,
) -> RunSummary:
    """Run the simulation and write the directory; ``progress`` gets simulated seconds done."""
    from scapy.utils import PcapWriter

    out_dir.mkdir(parents=True, exist_ok=True)
    writers = {
        s.sensor_id: PcapWriter(str(out_dir / wifi_file(s.sensor_id)), linktype=127, sync=False)
        for s in store.plan.sensors
    }
    for w in writers.values():
        w.write_header(None)  # also for a sensor that hears nothing: an empty, valid pcap
    builder = ProbeFrameBuilder()
    ble_count = 0
    wifi_counts = dict.fromkeys(writers, 0)
    last_report = store.start_ts_s
    try:
        with (out_dir / BLE_FILE).open("w", encoding="utf-8") as ble_out:
            for rec in store.records():
                if isinstance(rec, SimBleAdvert):
                    ble_out.write(ble_json_line(rec))
                    ble_out.write("\n")
                    ble_count += 1
                else:
                    sec = int(rec.ts_s)
                    writers[rec.sensor_id].write_packet(
                        builder.frame(rec), sec=sec, usec=round((rec.ts_s - sec) * 1e6)
                    )
                    wifi_counts[rec.sensor_id] += 1
                if progress is not None and rec.ts_s - last_report >= 60.0:
                    last_report = rec.ts_s
                    progress(rec.ts_s - store.start_ts_s)
    finally:
        for w in writers.values():
            w.close()
    (out_dir / TRUTH_FILE).write_text(json.dumps(store.truth()), encoding="utf-8")
    (out_dir / LAYOUT_FILE).write_text(json.dumps(store.plan.to_json(), indent=2), encoding="utf-8")
    # the survey happened before opening: its own draws, the store's shadowing field
    survey = site_survey(
        store.plan, store.channel, np.random.default_rng([store.seed, 3]), store.start_ts_s - 86_400
    )
    with (out_dir / SURVEY_FILE).open("w", encoding="utf-8") as survey_out:
        for row in survey:
            survey_out.write(json.dumps(row, separators=(",", ":"), sort_keys=True) + "\n")
    kinds = [p.kind.value for p in store.people]
    summary = RunSummary(
        out_dir=str(out_dir),
        seed=store.seed,
        start_ts_s=store.start_ts_s,
        end_ts_s=store.end_ts_s,
        people=len(kinds),
        shoppers=kinds.count("shopper"),
        passers_by=kinds.count("passer_by"),
        staff=kinds.count("staff"),
        ble_records=ble_count,
        wifi_records=sum(wifi_counts.values()),
        wifi_records_by_sensor=wifi_counts,
    )
    run_doc = {
        "schema": 1,
        "summary": asdict(summary),
        "config": _config_json(store),
    }
    (out_dir / RUN_FILE).write_text(json.dumps(run_doc, indent=2), encoding="utf-8")
    return summary


def _config_json(store: SimulatedStore) -> dict[str, Any]:
    cfg = store.config
    return {
        "duration_s": cfg.duration_s,
        "start_ts_s": cfg.start_ts_s,
        "population": asdict(cfg.population),
        "radio": asdict(cfg.radio),
    }
