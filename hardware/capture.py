"""Replay of pcap and pcapng captures into probe requests, with counts of what was skipped.

The file readers are small, bounds-checked and pure Python (no scapy): they yield
``(linktype, ts_s, frame_bytes)`` records and stop cleanly at a truncated tail,
so a capture cut off by a pulled power plug still replays up to its last whole
frame. Formats:

- pcap (libpcap), both byte orders, micro- and nanosecond timestamps;
- pcapng: Section Header, Interface Description (link type, ``if_tsresol``,
  ``if_tsoffset``), Enhanced Packet, Simple Packet and the obsolete Packet block;
  several sections and interfaces (each with its own link type) per file.

Frames go through :func:`hardware.wifi.decode_frame`; :class:`DecodeStats`
counts frames read, decoded, skipped by reason and decoded without RSSI.
"""

from __future__ import annotations

import logging
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from hardware.wifi import ProbeRequest, WifiRejection, decode_frame

if TYPE_CHECKING:
    from collections.abc import Iterator

_LOGGER = logging.getLogger(__name__)

_PCAP_MAGICS: Final[dict[bytes, tuple[str, int]]] = {
    # magic as stored -> (struct byte order, timestamp sub-second divisor)
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
_PCAPNG_SHB: Final = b"\x0a\x0d\x0d\x0a"
_PCAPNG_BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
_BLOCK_IDB: Final = 1
_BLOCK_PACKET_OBSOLETE: Final = 2
_BLOCK_SPB: Final = 3
_BLOCK_EPB: Final = 6
_OPT_END: Final = 0
_OPT_IF_TSRESOL: Final = 9
_OPT_IF_TSOFFSET: Final = 14
_MAX_BLOCK_LEN: Final = 64 * 1024 * 1024  # a larger block is corruption, not a frame
_DEFAULT_TSRESOL: Final = 1_000_000  # pcapng default: microseconds


class CaptureFormatError(ValueError):
    """The file is not a pcap or pcapng capture (bad magic); raised before any frame."""


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    """One frame as stored in the capture file."""

    linktype: int
    """Data link type of the interface (127 radiotap, 105 bare 802.11...)."""
    ts_s: float
    """Capture time, UTC POSIX seconds."""
    frame: bytes


@dataclass(slots=True)
class DecodeStats:
    """Counts for one replay; the summary ``footfall decode`` prints."""

    frames_read: int = 0
    decoded: int = 0
    without_rssi: int = 0
    """Decoded frames whose capture carries no dBm antenna signal (kept, RSSI ``None``)."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Frames not decoded, by reason (:class:`~hardware.wifi.WifiRejectReason` values)."""
    truncated_file: bool = False
    """The file ended inside a record; everything before it was read."""

    def count(self, result: ProbeRequest | WifiRejection) -> None:
        """Add one frame read and its decode result."""
        self.frames_read += 1
        if isinstance(result, ProbeRequest):
            self.add_decoded(has_rssi=result.rssi_dbm is not None)
        else:
            self.add_skipped(result.reason.value)

    def add_decoded(self, *, has_rssi: bool) -> None:
        """Add one observation produced (BLE replay counts frames read itself)."""
        self.decoded += 1
        if not has_rssi:
            self.without_rssi += 1

    def add_skipped(self, reason: str) -> None:
        """Add one frame (or BLE frame) not turned into an observation."""
        self.skipped[reason] += 1

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "frames_read": self.frames_read,
            "decoded": self.decoded,
            "skipped": self.skipped_total,
            "skipped_by_reason": dict(sorted(self.skipped.items())),
            "without_rssi": self.without_rssi,
            "truncated_file": self.truncated_file,
        }


def iter_probe_requests(
    path: str | Path, stats: DecodeStats | None = None
) -> Iterator[ProbeRequest | WifiRejection]:
    """Every frame of a pcap/pcapng file, decoded; pass ``stats`` to have it counted.

    Raises :class:`CaptureFormatError` if the file is not a capture and ``OSError`` if it
    cannot be opened; frames inside the file never raise.
    """
    for record in iter_capture(path, stats):
        result = decode_frame(record.frame, linktype=record.linktype, ts_s=record.ts_s)
        if stats is not None:
            stats.count(result)
        yield result


def iter_capture(path: str | Path, stats: DecodeStats | None = None) -> Iterator[CaptureRecord]:
    """Every record of a pcap or pcapng file, in file order (format from the magic number)."""
    with Path(path).open("rb") as stream:
        magic = stream.read(4)
        if magic in _PCAP_MAGICS:
            records = _iter_pcap(stream, magic)
        elif magic == _PCAPNG_SHB:
            records = _iter_pcapng(stream)
        else:
            raise CaptureFormatError(
                f"{path}: not a pcap or pcapng file (magic {magic.hex() or 'empty'})"
            )
        try:
            yield from records
        except _TruncatedError as exc:
            _LOGGER.warning("%s: capture ends inside a record (%s); stopped there", path, exc)
            if stats is not None:
                stats.truncated_file = True


class _TruncatedError(Exception):
    pass


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise _TruncatedError(f"wanted {size} bytes, file had {len(data)}")
    return data


def _iter_pcap(stream: BinaryIO, magic: bytes) -> Iterator[CaptureRecord]:
    endian, divisor = _PCAP_MAGICS[magic]
    header = _read_exact(stream, 20)
    # version major, minor, thiszone, sigfigs, snaplen, linktype (low 16 bits: FCS info above)
    linktype = struct.unpack(endian + "HHiIII", header)[5] & 0xFFFF
    record_header = struct.Struct(endian + "IIII")
    while True:
        head = stream.read(record_header.size)
        if not head:
            return
        if len(head) != record_header.size:
            raise _TruncatedError(f"record header of {len(head)} bytes")
        seconds, fraction, caplen, _wirelen = record_header.unpack(head)
        if caplen > _MAX_BLOCK_LEN:
            raise _TruncatedError(f"record claims {caplen} bytes")
        frame = _read_exact(stream, caplen)
        yield CaptureRecord(linktype, seconds + fraction / divisor, frame)


@dataclass(slots=True)
class _Interface:
    linktype: int
    ticks_per_s: int
    offset_s: int


def _iter_pcapng(stream: BinaryIO) -> Iterator[CaptureRecord]:
    endian = "<"
    interfaces: list[_Interface] = []
    block_type_bytes = _PCAPNG_SHB  # the first block's type is already read
    while True:
        if block_type_bytes == _PCAPNG_SHB:
            length_bytes = _read_exact(stream, 4)
            order = _read_exact(stream, 4)
            if struct.unpack("<I", order)[0] == _PCAPNG_BYTE_ORDER_MAGIC:
                endian = "<"
            elif struct.unpack(">I", order)[0] == _PCAPNG_BYTE_ORDER_MAGIC:
                endian = ">"
            else:
                raise _TruncatedError(f"section header byte-order magic {order.hex()}")
            (total_len,) = struct.unpack(endian + "I", length_bytes)
            _check_block_len(total_len, 12)
            _read_exact(stream, total_len - 12)  # version, section length, options, length
            interfaces = []  # interface ids are per section
        else:
            (block_type,) = struct.unpack(endian + "I", block_type_bytes)
            (total_len,) = struct.unpack(endian + "I", _read_exact(stream, 4))
            _check_block_len(total_len, 12)
            body = _read_exact(stream, total_len - 8)[:-4]
            record = _pcapng_block(block_type, body, endian, interfaces)
            if record is not None:
                yield record
        block_type_bytes = stream.read(4)
        if not block_type_bytes:
            return
        if len(block_type_bytes) != 4:
            raise _TruncatedError(f"block type of {len(block_type_bytes)} bytes")


def _check_block_len(total_len: int, minimum: int) -> None:
    if total_len < minimum or total_len % 4 or total_len > _MAX_BLOCK_LEN:
        raise _TruncatedError(f"block length {total_len}")


def _pcapng_block(
    block_type: int, body: bytes, endian: str, interfaces: list[_Interface]
) -> CaptureRecord | None:
    """Interpret one non-section block; returns a record for packet blocks."""
    if block_type == _BLOCK_IDB:
        if len(body) < 8:
            raise _TruncatedError("interface description block shorter than 8 bytes")
        linktype = struct.unpack_from(endian + "H", body, 0)[0]
        ticks_per_s, offset_s = _interface_options(body[8:], endian)
        interfaces.append(_Interface(linktype, ticks_per_s, offset_s))
        return None
    if block_type in (_BLOCK_EPB, _BLOCK_PACKET_OBSOLETE):
        if len(body) < 20:
            raise _TruncatedError("packet block shorter than 20 bytes")
        if block_type == _BLOCK_EPB:
            interface_id, ts_high, ts_low, caplen, _wirelen = struct.unpack_from(
                endian + "IIIII", body, 0
            )
        else:
            interface_id, _drops, ts_high, ts_low, caplen, _wirelen = struct.unpack_from(
                endian + "HHIIII", body, 0
            )
            body = body[:20] + body[24:] if len(body) >= 24 else body
        if interface_id >= len(interfaces) or 20 + caplen > len(body):
            raise _TruncatedError(f"packet block for interface {interface_id} / {caplen} bytes")
        interface = interfaces[interface_id]
        ticks = (ts_high << 32) | ts_low
        ts_s = interface.offset_s + ticks / interface.ticks_per_s
        return CaptureRecord(interface.linktype, ts_s, bytes(body[20 : 20 + caplen]))
    if block_type == _BLOCK_SPB:
        if not interfaces or len(body) < 4:
            raise _TruncatedError("simple packet block without an interface")
        (wirelen,) = struct.unpack_from(endian + "I", body, 0)
        frame = body[4 : 4 + wirelen]
        return CaptureRecord(interfaces[0].linktype, 0.0, bytes(frame))
    return None  # name resolution, statistics, custom blocks: nothing for us


def _interface_options(options: bytes, endian: str) -> tuple[int, int]:
    ticks_per_s = _DEFAULT_TSRESOL
    offset_s = 0
    position = 0
    while position + 4 <= len(options):
        code, length = struct.unpack_from(endian + "HH", options, position)
        value = options[position + 4 : position + 4 + length]
        position += 4 + length + (-length % 4)
        if code == _OPT_END:
            break
        if code == _OPT_IF_TSRESOL and len(value) >= 1:
            resolution = value[0]
            exponent = resolution & 0x7F
            # High bit: a power of two; else a power of ten. Cap keeps the int sane.
            ticks_per_s = (2 if resolution & 0x80 else 10) ** min(exponent, 64)
        elif code == _OPT_IF_TSOFFSET and len(value) >= 8:
            (offset_s,) = struct.unpack_from(endian + "q", value, 0)
    return ticks_per_s, offset_s
