"""BLE decoding cost per advertisement, against a baseline measured in the same run.

The workload is a mix like a busy store's air: the real advertising PDUs of
``../shared/data/ble-sniffer-hackrf-boston`` (phones, PCs; split once with
``hardware.parse_ad_structures``, not timed) plus beacon adverts of every format
(iBeacon, AltBeacon, Eddystone UID/URL/TLM/EID) at ``--beacon-share`` of the mix.
Without the capture the mix is the beacon adverts and a few Apple/Microsoft ones.

Timed, medians of ``--repeats`` passes over the mix:

- ``baseline``: what any consumer does at least: copy every payload to hex
  (``bytes.hex`` of each manufacturer and service data value);
- ``decode``: ``hardware.decode_advertisement`` on the same fields;
- ``decode_ad_bytes``: split raw AD bytes and decode (the capture-replay path).

Prints microseconds per advert and the ratio ``decode / baseline``.

    python benchmarks/bench_ble_decode.py [--repeats 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hardware import decode_ad_bytes, decode_advertisement, parse_ad_structures

BOSTON = Path(__file__).resolve().parents[2] / "shared" / "data" / "ble-sniffer-hackrf-boston"
CAPTURES = (
    "data/take_3/ble_all_adv_w_scan.pcap",
    "data/hackrf_BLE_sniff_20_channels_for_bitchat.pcap",
)
FEAA = "0000feaa-0000-1000-8000-00805f9b34fb"


def _beacon_ads() -> list[bytes]:
    uuid = bytes(range(16))
    ibeacon = b"\x1a\xff\x4c\x00" + struct.pack(">BB16sHHb", 2, 0x15, uuid, 1, 2, -59)
    alt = b"\x1b\xff\x18\x01\xbe\xac" + bytes(range(20)) + b"\xc5\x00"

    def svc(body: bytes) -> bytes:
        return bytes([len(body) + 3, 0x16, 0xAA, 0xFE]) + body

    flags = b"\x02\x01\x06\x03\x03\xaa\xfe"
    return [
        b"\x02\x01\x06" + ibeacon,
        b"\x02\x01\x06" + alt,
        flags + svc(b"\x00\xee" + bytes(range(16)) + b"\x00\x00"),
        flags + svc(b"\x10\xee\x03goo.gl/Aq18zF"),
        flags + svc(struct.pack(">BBHHII", 0x20, 0, 3000, 0x1380, 100, 1000)),
        flags + svc(b"\x30\xe3" + bytes(8)),
    ]


def _capture_ads() -> list[bytes]:
    if not BOSTON.exists():
        return [
            bytes.fromhex("02011a020a0c0bff4c0010064f1de5a8d618"),
            bytes.fromhex("1eff0600010920"),
        ]
    from scapy.layers.bluetooth4LE import (
        BTLE_ADV_IND,
        BTLE_ADV_NONCONN_IND,
        BTLE_ADV_SCAN_IND,
        BTLE_SCAN_RSP,
    )
    from scapy.utils import PcapReader

    found = []
    for name in CAPTURES:
        with PcapReader(str(BOSTON / name)) as reader:
            for packet in reader:
                for pdu in (BTLE_ADV_IND, BTLE_ADV_NONCONN_IND, BTLE_ADV_SCAN_IND, BTLE_SCAN_RSP):
                    if packet.haslayer(pdu):
                        found.append(bytes(packet[pdu])[6:])
                        break
    return found


def _median_s(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--beacon-share", type=float, default=0.3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    others = _capture_ads()
    beacons = _beacon_ads()
    n_beacons = int(len(others) * args.beacon_share / (1 - args.beacon_share))
    raw = others + [beacons[i % len(beacons)] for i in range(n_beacons)]
    fields = [parse_ad_structures(ad) for ad in raw]

    def baseline() -> None:
        for f in fields:
            for value in f.manufacturer_data.values():
                value.hex()
            for value in f.service_data.values():
                value.hex()

    def decode() -> None:
        for f in fields:
            decode_advertisement(
                manufacturer_data=f.manufacturer_data,
                service_data=f.service_data,
                service_uuids=f.service_uuids,
                tx_power=f.tx_power,
                local_name=f.local_name,
            )

    def decode_raw() -> None:
        for ad in raw:
            decode_ad_bytes(ad)

    base_s = _median_s(baseline, args.repeats)
    decode_s = _median_s(decode, args.repeats)
    raw_s = _median_s(decode_raw, args.repeats)
    result: dict[str, Any] = {
        "adverts": len(raw),
        "beacon_adverts": n_beacons,
        "baseline_us_per_advert": base_s / len(raw) * 1e6,
        "decode_us_per_advert": decode_s / len(raw) * 1e6,
        "decode_ad_bytes_us_per_advert": raw_s / len(raw) * 1e6,
        "ratio_decode_over_baseline": decode_s / base_s,
        "ratio_decode_ad_bytes_over_baseline": raw_s / base_s,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['adverts']} adverts ({n_beacons} beacon adverts), medians of {args.repeats}")
    for key in ("baseline", "decode", "decode_ad_bytes"):
        print(f"  {key:16s} {result[f'{key}_us_per_advert']:7.2f} us/advert")
    print(f"  decode / baseline          {result['ratio_decode_over_baseline']:.1f}x")
    print(f"  decode_ad_bytes / baseline {result['ratio_decode_ad_bytes_over_baseline']:.1f}x")


if __name__ == "__main__":
    main()
