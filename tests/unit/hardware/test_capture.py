"""pcap/pcapng reading: formats, timestamps, counts, truncated and foreign files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from hardware.capture import (
    CaptureFormatError,
    DecodeStats,
    iter_capture,
    iter_probe_requests,
)
from tests.conftest import TEST_DATA, shared_data

RADIOTAP = TEST_DATA / "wifi" / "handmade_radiotap.pcap"
DOT11 = TEST_DATA / "wifi" / "handmade_dot11.pcapng"
TS_S = 1_763_894_400


def _frames() -> list[bytes]:
    return [record.frame for record in iter_capture(RADIOTAP)]


def test_pcap_records_and_timestamps() -> None:
    """A microsecond pcap yields every record with its link type and exact timestamp."""
    records = list(iter_capture(RADIOTAP))
    assert len(records) == 10
    assert {record.linktype for record in records} == {127}
    assert [record.ts_s for record in records] == [TS_S + i + 0.5 for i in range(10)]


def test_pcapng_records_and_timestamps() -> None:
    """A pcapng written by scapy yields its frames with link type 105 and timestamps."""
    records = list(iter_capture(DOT11))
    assert [record.linktype for record in records] == [105, 105, 105]
    assert [record.ts_s for record in records] == pytest.approx(
        [TS_S + i + 0.25 for i in range(3)], abs=1e-6
    )


def test_stats_count_read_decoded_skipped_and_missing_rssi() -> None:
    """DecodeStats counts every frame once, by outcome and reason."""
    stats = DecodeStats()
    results = list(iter_probe_requests(RADIOTAP, stats))
    assert len(results) == stats.frames_read == 10
    assert stats.as_dict() == {
        "frames_read": 10,
        "decoded": 5,
        "skipped": 5,
        "skipped_by_reason": {
            "bad_fcs": 1,
            "bad_radiotap": 1,
            "malformed_ies": 1,
            "not_probe_request": 1,
            "truncated": 1,
        },
        "without_rssi": 1,
        "truncated_file": False,
    }


@pytest.mark.parametrize(("endianness", "nano"), [("<", False), (">", False), ("<", True)])
def test_pcap_byte_orders_and_nanoseconds(tmp_path: Path, endianness: str, nano: bool) -> None:
    """Big-endian and nanosecond pcaps written by scapy read back with the same frames and times."""
    from scapy.utils import RawPcapWriter

    path = tmp_path / "variant.pcap"
    writer = RawPcapWriter(str(path), linktype=127, endianness=endianness, nano=nano)
    writer.write_header(None)
    fraction = 123_456_789 if nano else 123_456
    for index, frame in enumerate(_frames()):
        writer.write_packet(frame, sec=TS_S + index, usec=fraction)
    writer.close()
    records = list(iter_capture(path))
    assert [record.frame for record in records] == _frames()
    expected = 0.123456789 if nano else 0.123456
    assert records[3].ts_s == pytest.approx(TS_S + 3 + expected, abs=1e-7)


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def _pcapng(frames: list[bytes], *, tsresol: int | None, tsoffset: int = 0) -> bytes:
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    options = b""
    if tsresol is not None:
        options += struct.pack("<HH", 9, 1) + bytes((tsresol,)) + b"\x00\x00\x00"
    if tsoffset:
        options += struct.pack("<HHq", 14, 8, tsoffset)
    options += struct.pack("<HH", 0, 0)
    ether_idb = _block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", 0, 0))
    radio_idb = _block(1, struct.pack("<HHI", 127, 0, 0) + options)
    out = shb + ether_idb + radio_idb
    for index, frame in enumerate(frames):
        ticks = (10**9 if tsresol == 9 else 10**6) * (1 + index) + 5
        epb = struct.pack("<IIIII", 1, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame))
        out += _block(6, epb + frame)
    out += _block(5, b"\x00" * 8)  # an Interface Statistics block: ignored
    return out


def test_pcapng_tsresol_tsoffset_and_second_interface(tmp_path: Path) -> None:
    """if_tsresol and if_tsoffset scale times; frames take their own interface's link type."""
    path = tmp_path / "nano.pcapng"
    path.write_bytes(_pcapng(_frames()[:2], tsresol=9, tsoffset=TS_S))
    records = list(iter_capture(path))
    assert [record.linktype for record in records] == [127, 127]
    assert records[0].ts_s == pytest.approx(TS_S + 1 + 5e-9, abs=1e-7)
    assert records[1].frame == _frames()[1]


def test_pcapng_big_endian_section(tmp_path: Path) -> None:
    """A big-endian section (byte-order magic reversed) is read with its own byte order."""
    frame = _frames()[0]
    shb_body = struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1)
    shb = b"\x0a\x0d\x0d\x0a" + struct.pack(">I", 28) + shb_body + struct.pack(">I", 28)
    idb_body = struct.pack(">HHI", 127, 0, 0)
    idb = struct.pack(">II", 1, 20) + idb_body + struct.pack(">I", 20)
    padded = frame + b"\x00" * (-len(frame) % 4)
    epb_len = 32 + len(padded)
    epb = (
        struct.pack(">II", 6, epb_len)
        + struct.pack(">IIIII", 0, 0, 2_000_000, len(frame), len(frame))
        + padded
        + struct.pack(">I", epb_len)
    )
    path = tmp_path / "be.pcapng"
    path.write_bytes(shb + idb + epb)
    (record,) = list(iter_capture(path))
    assert (record.linktype, record.ts_s, record.frame) == (127, 2.0, frame)


def test_truncated_file_stops_cleanly_at_every_cut(tmp_path: Path) -> None:
    """A capture cut at any byte yields only whole frames, more of them the later the cut."""
    for source in (RADIOTAP, DOT11):
        data = source.read_bytes()
        whole = list(iter_capture(source))
        seen = 0
        flagged = 0
        for cut in range(4, len(data)):
            path = tmp_path / f"cut{source.suffix}"
            path.write_bytes(data[:cut])
            stats = DecodeStats()
            records = list(iter_capture(path, stats))
            assert records == whole[: len(records)]
            assert len(records) >= seen
            seen = len(records)
            flagged += stats.truncated_file
        assert seen == len(whole) - 1
        assert flagged > len(data) // 2  # most cuts land inside a record


def test_not_a_capture_raises_a_format_error(tmp_path: Path) -> None:
    """A JSON file given as a capture raises CaptureFormatError naming the file and magic."""
    path = tmp_path / "ble.jsonl"
    path.write_text('{"ts": "2026-11-23T10:00:00Z"}\n')
    with pytest.raises(CaptureFormatError, match=r"ble\.jsonl.*7b227473"):
        list(iter_capture(path))
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(CaptureFormatError, match="empty"):
        list(iter_capture(empty))


def test_mixed_real_capture_counts_by_reason() -> None:
    """The unfiltered Vigo capture gives its 741 probe requests and 7,756 other frames."""
    path = shared_data(
        "wifi-probe-macrand-vigo", "WiresharkCaptures", "Samsung", "04_SamsungA53_01.pcapng"
    )
    stats = DecodeStats()
    for _ in iter_probe_requests(path, stats):
        pass
    assert (stats.frames_read, stats.decoded) == (8497, 741)
    assert dict(stats.skipped) == {"not_probe_request": 7756}
    assert stats.without_rssi == 0
