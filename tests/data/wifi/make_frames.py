"""Regenerate the hand-built captures in this folder (run from the repository root).

    python tests/data/wifi/make_frames.py

The frames are assembled byte by byte below, so each test expectation can be
read off this file; the files are written with scapy's own pcap/pcapng writers,
so our readers are tested against an independent writer. See README.md.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from scapy.utils import RawPcapNgWriter, RawPcapWriter

HERE = Path(__file__).resolve().parent
TS_S = 1_763_894_400  # 2025-11-23T10:40:00Z

GLOBAL_MAC = bytes.fromhex("001a2b3c4d5e")  # locally administered bit clear
RANDOM_MAC = bytes.fromhex("da a1 19 22 33 44")  # 0xda has bit 0x02 set
BROADCAST = b"\xff" * 6

RATES = bytes((1, 4, 0x82, 0x84, 0x8B, 0x96))  # 1, 2, 5.5, 11 Mbit/s (basic)
EXT_RATES = bytes((50, 8, 0x0C, 0x12, 0x18, 0x24, 0x30, 0x48, 0x60, 0x6C))
HT_CAPS = bytes((45, 26)) + bytes.fromhex("2d001bffff000000000000000000000000000000000000000000")
EXT_CAPS = bytes((127, 8)) + bytes.fromhex("0400080000000040")
VENDOR_MS = bytes((221, 8)) + bytes.fromhex("0050f20800120000")  # Microsoft OUI, type 8
# WPS element (Microsoft OUI, type 4) with a UUID-E attribute: a per-device id that the
# fingerprint must ignore.
VENDOR_WPS = (
    bytes((221, 24)) + bytes.fromhex("0050f204") + bytes.fromhex("10470010") + bytes(range(16))
)


def ie_ssid(ssid: bytes) -> bytes:
    return bytes((0, len(ssid))) + ssid


def ie_ds(channel: int) -> bytes:
    return bytes((3, 1, channel))


def probe_header(sa: bytes, seq_num: int, fc1: int = 0) -> bytes:
    """Frame control (probe request), duration, DA, SA, BSSID, sequence control."""
    return (
        bytes((0x40, fc1))
        + b"\x00\x00"
        + BROADCAST
        + sa
        + BROADCAST
        + struct.pack("<H", seq_num << 4)
    )


def with_fcs(frame: bytes) -> bytes:
    return frame + struct.pack("<I", zlib.crc32(frame))


def radiotap(*, flags: int | None, freq_mhz: int | None, rssi_dbm: int | None) -> bytes:
    """A radiotap header with Flags, Channel and dBm antenna signal as asked (in bit order)."""
    present = 0
    fields = b""
    if flags is not None:
        present |= 1 << 1
        fields += bytes((flags,))
    if freq_mhz is not None:
        present |= 1 << 3
        fields += b"\x00" * (len(fields) % 2)  # Channel is 2-byte aligned (offset from field 8)
        fields += struct.pack("<HH", freq_mhz, 0x00A0)
    if rssi_dbm is not None:
        present |= 1 << 5
        fields += struct.pack("<b", rssi_dbm)
    return struct.pack("<BBHI", 0, 0, 8 + len(fields), present) + fields


def radiotap_extended(rssi_combined_dbm: int, rssi_antenna0_dbm: int) -> bytes:
    """TSFT, then two present words: combined signal in word 0, per-antenna in word 1."""
    word0 = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 5) | (1 << 29) | (1 << 31)
    word1 = (1 << 5) | (1 << 11)
    header_fixed = 4 + 8  # version, pad, len + two present words
    fields = b"\x00" * 4  # pad TSFT to 8-byte alignment (header_fixed = 12)
    fields += struct.pack("<Q", 123456789)  # TSFT
    fields += bytes((0x10,))  # Flags: FCS at end
    fields += b"\x00"  # Channel alignment
    fields += struct.pack("<HH", 5180, 0x0140)  # channel 36
    fields += struct.pack("<b", rssi_combined_dbm)
    fields += struct.pack("<bB", rssi_antenna0_dbm, 0)  # antenna signal, antenna index 0
    length = header_fixed + len(fields)
    return struct.pack("<BBHII", 0, 0, length, word0, word1) + fields


def radiotap_frames() -> list[tuple[str, bytes]]:
    body = RATES + EXT_RATES + ie_ds(6) + HT_CAPS + EXT_CAPS + VENDOR_MS
    return [
        (
            "wildcard probe, global MAC, FCS, channel 6, -57 dBm, seq 100",
            radiotap(flags=0x10, freq_mhz=2437, rssi_dbm=-57)
            + with_fcs(probe_header(GLOBAL_MAC, 100) + ie_ssid(b"") + body),
        ),
        (
            "directed probe 'CoffeeShop', randomized MAC, no FCS, channel 1, -71 dBm, seq 4095",
            radiotap(flags=0x00, freq_mhz=2412, rssi_dbm=-71)
            + probe_header(RANDOM_MAC, 4095)
            + ie_ssid(b"CoffeeShop")
            + body,
        ),
        (
            "wildcard probe without RSSI or channel field (DSSS element says 11), seq 7",
            radiotap(flags=None, freq_mhz=None, rssi_dbm=None)
            + probe_header(RANDOM_MAC, 7)
            + ie_ssid(b"")
            + RATES
            + ie_ds(11),
        ),
        (
            "same device as frame 2 on another channel: same elements, new SSID and MAC",
            radiotap(flags=0x10, freq_mhz=2462, rssi_dbm=-60)
            + with_fcs(probe_header(bytes.fromhex("6e0102030405"), 101) + ie_ssid(b"") + body),
        ),
        (
            "beacon frame (not a probe request)",
            radiotap(flags=0x00, freq_mhz=2437, rssi_dbm=-40)
            + bytes((0x80, 0x00, 0, 0))
            + BROADCAST
            + GLOBAL_MAC
            + GLOBAL_MAC
            + b"\x10\x00"
            + b"\x00" * 12
            + ie_ssid(b"StoreWiFi"),
        ),
        (
            "probe request cut inside the 802.11 header (truncated)",
            radiotap(flags=0x00, freq_mhz=2437, rssi_dbm=-50) + probe_header(GLOBAL_MAC, 1)[:20],
        ),
        (
            "probe request whose last element claims more bytes than remain (malformed IEs)",
            radiotap(flags=0x00, freq_mhz=2437, rssi_dbm=-50)
            + probe_header(GLOBAL_MAC, 2)
            + ie_ssid(b"")
            + bytes((1, 8, 0x82, 0x84)),
        ),
        (
            "probe request the receiver flagged as failing its FCS check",
            radiotap(flags=0x50, freq_mhz=2437, rssi_dbm=-50)
            + with_fcs(probe_header(GLOBAL_MAC, 3) + ie_ssid(b"")),
        ),
        (
            "radiotap with two present words: combined -44 dBm, antenna 0 -47 dBm, 5 GHz ch 36",
            radiotap_extended(-44, -47)
            + with_fcs(probe_header(GLOBAL_MAC, 200) + ie_ssid(b"") + RATES + VENDOR_WPS),
        ),
        (
            "radiotap header claiming 64 bytes in a 20-byte record (bad radiotap)",
            struct.pack("<BBHI", 0, 0, 64, 0x22) + b"\x00" * 12,
        ),
    ]


def dot11_frames() -> list[tuple[str, bytes]]:
    body = ie_ssid(b"") + RATES + ie_ds(1)
    return [
        ("bare 802.11 probe, no FCS, seq 10", probe_header(GLOBAL_MAC, 10) + body),
        (
            "bare 802.11 probe with a valid FCS, seq 11",
            with_fcs(probe_header(RANDOM_MAC, 11) + body),
        ),
        ("ACK control frame (10 bytes)", bytes((0xD4, 0, 0, 0)) + GLOBAL_MAC),
    ]


def main() -> None:
    rt_frames = radiotap_frames()
    writer = RawPcapWriter(str(HERE / "handmade_radiotap.pcap"), linktype=127)
    writer.write_header(None)
    for index, (_what, frame) in enumerate(rt_frames):
        writer.write_packet(frame, sec=TS_S + index, usec=500_000)
    writer.close()

    ng = RawPcapNgWriter(str(HERE / "handmade_dot11.pcapng"))
    ng.linktype = 105
    ng.write_header(None)
    for index, (_what, frame) in enumerate(dot11_frames()):
        ng.write_packet(frame, sec=TS_S + index + 0.25)
    ng.close()
    with (HERE / "frames.txt").open("w") as listing:
        for name, frames in (
            ("handmade_radiotap.pcap", rt_frames),
            ("handmade_dot11.pcapng", dot11_frames()),
        ):
            listing.write(f"# {name}\n")
            for index, (what, frame) in enumerate(frames):
                listing.write(f"{index}: {what}\n   {frame.hex()}\n")


if __name__ == "__main__":
    main()
