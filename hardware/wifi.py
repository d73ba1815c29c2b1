"""Wi-Fi probe-request decoding: 802.11 bytes (with or without radiotap) -> :class:`ProbeRequest`.

The decoder is a bounds-checked parser over the raw bytes of one captured frame;
it never raises on untrusted input. A frame that is not a usable probe request
comes back as a :class:`WifiRejection` with a :class:`WifiRejectReason`, so a
receive loop counts it and moves on.

Two entry points:

- :func:`decode_frame` takes the bytes of one capture record and its link type
  (``127`` radiotap + 802.11, ``105`` bare 802.11, ``192`` PPI + 802.11); this is
  what the pcap/pcapng reader in :mod:`hardware.capture` and the live sniffer use.
- :func:`decode_probe_request` takes a scapy packet (``RadioTap()/Dot11(...)``,
  ``Dot11FCS``, bare ``Dot11``) and hands its bytes to :func:`decode_frame`.
  scapy is only needed by the caller; this module never imports it.

Frame layout (IEEE 802.11-2020 §9.3.3.10, probe request)::

    radiotap header (optional, little-endian, fields aligned to their size)
    frame control(2) duration(2) addr1 DA(6) addr2 SA(6) addr3 BSSID(6) seq ctrl(2)
    information elements: id(1) len(1) body(len) ...
    FCS(4) (optional: radiotap flag 0x10, or a valid CRC-32 on link type 105)

The :attr:`ProbeRequest.ie_fingerprint` is a hash of *which* information
elements the station sends, in which order, and the contents of the ones that
describe the hardware (rates, HT/VHT/HE and extended capabilities) — never the
MAC, the SSID, the channel or vendor element bodies (WPS elements carry a
device UUID). Phones that rotate their MAC keep sending the same elements, so
equal fingerprints help count randomized devices; different phones of the same
model and OS share a fingerprint, so it is a device *class*, not a device.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

_LOGGER = logging.getLogger(__name__)

LINKTYPE_IEEE802_11: Final = 105
"""Bare 802.11 frames (pcap DLT 105); an FCS may or may not be present."""
LINKTYPE_IEEE802_11_RADIOTAP: Final = 127
"""Radiotap header followed by an 802.11 frame (pcap DLT 127)."""
LINKTYPE_PPI: Final = 192
"""Per-Packet Information header (older Kismet and AirPcap captures) before an 802.11 frame."""
SUPPORTED_LINKTYPES: Final = frozenset(
    {LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP, LINKTYPE_PPI}
)

_MAC_HEADER_LEN: Final = 24  # management frame header without HT Control
_FCS_LEN: Final = 4
# Frame control byte 0: protocol version (bits 0-1) = 0, type (bits 2-3) = 0 management,
# subtype (bits 4-7) = 4 probe request.
_PROBE_REQUEST_FC0: Final = 0x40
_FC1_ORDER: Final = 0x80  # +HTC: a 4-byte HT Control field follows the sequence control

_RT_FLAG_FCS: Final = 0x10  # radiotap Flags: frame ends with a 4-byte FCS
_RT_FLAG_DATAPAD: Final = 0x20  # radiotap Flags: padding between 802.11 header and body
_RT_FLAG_BAD_FCS: Final = 0x40  # radiotap Flags: the receiver saw a failed FCS check

# Radiotap fields by present-bit: (alignment, size) in bytes (radiotap.org/fields/defined).
_RT_FIELDS: Final[dict[int, tuple[int, int]]] = {
    0: (8, 8),  # TSFT
    1: (1, 1),  # Flags
    2: (1, 1),  # Rate
    3: (2, 4),  # Channel: u16 frequency MHz, u16 flags
    4: (1, 2),  # FHSS
    5: (1, 1),  # dBm antenna signal (s8)
    6: (1, 1),  # dBm antenna noise
    7: (2, 2),  # lock quality
    8: (2, 2),  # TX attenuation
    9: (2, 2),  # dB TX attenuation
    10: (1, 1),  # dBm TX power
    11: (1, 1),  # antenna index
    12: (1, 1),  # dB antenna signal
    13: (1, 1),  # dB antenna noise
    14: (2, 2),  # RX flags
    15: (2, 2),  # TX flags
    16: (1, 1),  # RTS retries
    17: (1, 1),  # data retries
    18: (4, 8),  # XChannel: u32 flags, u16 frequency, u8 channel, u8 max power
    19: (1, 3),  # MCS
    20: (4, 8),  # A-MPDU status
    21: (2, 12),  # VHT
    22: (8, 12),  # timestamp
    23: (2, 12),  # HE
    24: (2, 12),  # HE-MU
    25: (2, 6),  # HE-MU-other-user
    26: (1, 1),  # 0-length PSDU
    27: (2, 4),  # L-SIG
}
# PPI (CACE Technologies PPI spec 1.0.10): 8-byte header, then fields of type u16, length u16.
_PPI_FIELD_80211_COMMON: Final = 2
_PPI_80211_COMMON_LEN: Final = 20
_PPI_FLAG_FCS: Final = 0x0001
_PPI_FLAG_BAD_FCS: Final = 0x0004
_RT_BIT_TLV: Final = 28  # TLVs to the end of the header: nothing we know can follow
_RT_BIT_RADIOTAP_NS: Final = 29
_RT_BIT_VENDOR_NS: Final = 30
_RT_BIT_EXT: Final = 31

# Information element ids (IEEE 802.11-2020 Table 9-92).
_IE_SSID: Final = 0
_IE_SUPPORTED_RATES: Final = 1
_IE_DSSS_PARAMETER_SET: Final = 3
_IE_HT_CAPABILITIES: Final = 45
_IE_EXT_SUPPORTED_RATES: Final = 50
_IE_RM_ENABLED_CAPABILITIES: Final = 70
_IE_EXTENDED_CAPABILITIES: Final = 127
_IE_VHT_CAPABILITIES: Final = 191
_IE_VENDOR_SPECIFIC: Final = 221
_IE_EXTENSION: Final = 255
_IE_EXT_HE_CAPABILITIES: Final = 35
_IE_EXT_EHT_CAPABILITIES: Final = 108

# Elements whose bodies describe the radio hardware and firmware, stable while a phone
# rotates its MAC; their contents go into the fingerprint. Everything else contributes only
# its id (SSID and channel change per probe; vendor bodies can hold a WPS device UUID).
_FINGERPRINT_BODY_IES: Final = frozenset(
    {
        _IE_SUPPORTED_RATES,
        _IE_EXT_SUPPORTED_RATES,
        _IE_HT_CAPABILITIES,
        _IE_VHT_CAPABILITIES,
        _IE_EXTENDED_CAPABILITIES,
        _IE_RM_ENABLED_CAPABILITIES,
    }
)
_FINGERPRINT_BODY_EXT_IES: Final = frozenset({_IE_EXT_HE_CAPABILITIES, _IE_EXT_EHT_CAPABILITIES})
_FINGERPRINT_VERSION: Final = b"footfall-ie-v1"
_FINGERPRINT_HEX_LEN: Final = 16  # 64 bits: a device-class label, not a secret

_LOCALLY_ADMINISTERED_BIT: Final = 0x02


class WifiRejectReason(StrEnum):
    """Why a captured frame did not become a :class:`ProbeRequest`."""

    UNSUPPORTED_LINKTYPE = "unsupported_linktype"
    """The capture's link type is neither radiotap (127) nor bare 802.11 (105)."""
    BAD_RADIOTAP = "bad_radiotap"
    """The radiotap header is shorter than it claims, of an unknown version, or overruns."""
    BAD_PPI = "bad_ppi"
    """The PPI header is shorter than it claims, or does not carry an 802.11 frame."""
    TRUNCATED = "truncated"
    """Fewer bytes than the 802.11 management header needs."""
    NOT_PROBE_REQUEST = "not_probe_request"
    """A valid frame of another type or subtype (beacon, data, ACK...)."""
    BAD_FCS = "bad_fcs"
    """The receiver flagged the frame as failing its FCS check (radiotap flag 0x40)."""
    MALFORMED_IES = "malformed_ies"
    """An information element runs past the end of the frame."""
    NOT_A_PACKET = "not_a_packet"
    """:func:`decode_probe_request` got something it cannot turn into bytes."""


@dataclass(frozen=True, slots=True)
class WifiRejection:
    """A frame that was read but not decoded; counted by :attr:`reason`, never raised."""

    reason: WifiRejectReason
    ts_s: float
    """Capture time of the frame, UTC POSIX seconds."""
    detail: str = ""
    """A short human hint (offsets, lengths); never a MAC or an SSID."""


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """One decoded 802.11 probe request. Holds the raw MAC: it must not leave ``hardware``.

    Turn it into a keyed :class:`~hardware.observations.Sighting` with
    :func:`hardware.sightings.sighting_from_probe` before it crosses into the agent.
    """

    ts_s: float
    """Capture time, UTC POSIX seconds."""
    mac: str = field(repr=False)
    """Transmitter (SA, addr2), lower-case colon form ``aa:bb:cc:dd:ee:ff``. Raw: never log it."""
    rssi_dbm: int | None
    """Radiotap dBm antenna signal (the first one, i.e. the combined value); ``None`` if absent.
    Passed through as received: saturated or bogus readings (> 0 dBm) are the filters' job."""
    channel: int | None
    """Channel number, from the radiotap frequency, else from the DSSS Parameter Set element."""
    freq_mhz: int | None
    """Centre frequency in MHz, from radiotap (Channel or XChannel), else from the channel."""
    ssid: str | None = field(repr=False)
    """The directed SSID (UTF-8, undecodable bytes escaped); ``None`` for a wildcard probe."""
    seq_num: int
    """802.11 sequence number, 0-4095."""
    randomized: bool
    """The locally administered bit of the MAC is set (a randomized, rotating address)."""
    ie_fingerprint: str
    """Hex hash of the information elements (ids in order, hardware capability bodies)."""
    ie_ids: tuple[int, ...]
    """Element ids in frame order (255 elements as ``255 * 256 + extension id``)."""

    @property
    def wildcard(self) -> bool:
        """True when the probe asks any network to answer (empty SSID)."""
        return self.ssid is None


@dataclass(frozen=True, slots=True)
class _Radiotap:
    length: int
    flags: int | None
    freq_mhz: int | None
    rssi_dbm: int | None


class _RadiotapError(ValueError):
    pass


def decode_frame(
    frame: bytes, *, linktype: int, ts_s: float, fcs: bool | None = None
) -> ProbeRequest | WifiRejection:
    """Decode one captured frame; never raises on bad bytes.

    ``linktype`` is the capture's data link type (127 radiotap, 105 bare 802.11).
    ``fcs`` says whether a 4-byte FCS ends the frame; ``None`` means "find out": the
    radiotap Flags field when present, else a CRC-32 check of the last four bytes
    (anonymised captures often carry stale FCS values, so a failed check is not an error).
    """
    rssi_dbm: int | None = None
    freq_mhz: int | None = None
    flags: int | None = None
    if linktype == LINKTYPE_IEEE802_11_RADIOTAP:
        try:
            radiotap = _parse_radiotap(frame)
        except _RadiotapError as exc:
            return WifiRejection(WifiRejectReason.BAD_RADIOTAP, ts_s, str(exc))
        body = frame[radiotap.length :]
        rssi_dbm, freq_mhz, flags = radiotap.rssi_dbm, radiotap.freq_mhz, radiotap.flags
    elif linktype == LINKTYPE_IEEE802_11:
        body = frame
    elif linktype == LINKTYPE_PPI:
        try:
            ppi = _parse_ppi(frame)
        except _RadiotapError as exc:
            return WifiRejection(WifiRejectReason.BAD_PPI, ts_s, str(exc))
        body = frame[ppi.length :]
        rssi_dbm, freq_mhz, flags = ppi.rssi_dbm, ppi.freq_mhz, ppi.flags
    else:
        return WifiRejection(
            WifiRejectReason.UNSUPPORTED_LINKTYPE,
            ts_s,
            f"link type {linktype} (want 105, 127 or 192)",
        )
    if flags is not None and flags & _RT_FLAG_BAD_FCS:
        return WifiRejection(WifiRejectReason.BAD_FCS, ts_s, "radiotap flags report a bad FCS")
    # Type first: control frames (ACK, RTS) are shorter than a management header.
    if body and body[0] != _PROBE_REQUEST_FC0:
        return WifiRejection(
            WifiRejectReason.NOT_PROBE_REQUEST, ts_s, f"frame control 0x{body[0]:02x}"
        )
    if len(body) < _MAC_HEADER_LEN:
        return WifiRejection(
            WifiRejectReason.TRUNCATED, ts_s, f"802.11 frame of {len(body)} bytes (need 24)"
        )
    if fcs is None:
        fcs = bool(flags & _RT_FLAG_FCS) if flags is not None else _has_valid_fcs(body)
    if fcs:
        if len(body) < _MAC_HEADER_LEN + _FCS_LEN:
            return WifiRejection(
                WifiRejectReason.TRUNCATED, ts_s, f"{len(body)} bytes cannot hold header and FCS"
            )
        body = body[:-_FCS_LEN]
    header_len = _MAC_HEADER_LEN
    if body[1] & _FC1_ORDER:
        header_len += 4
    if flags is not None and flags & _RT_FLAG_DATAPAD:
        header_len = (header_len + 3) & ~3
    if len(body) < header_len:
        return WifiRejection(
            WifiRejectReason.TRUNCATED, ts_s, f"{len(body)} bytes, header needs {header_len}"
        )
    mac_bytes = body[10:16]
    (seq_ctrl,) = struct.unpack_from("<H", body, 22)
    elements = _split_elements(body, header_len)
    if elements is None:
        return WifiRejection(
            WifiRejectReason.MALFORMED_IES, ts_s, f"element list of {len(body) - header_len} bytes"
        )
    ssid: str | None = None
    ds_channel: int | None = None
    for element_id, element_body in elements:
        if element_id == _IE_SSID and ssid is None and element_body:
            ssid = element_body.decode("utf-8", errors="backslashreplace")
        elif element_id == _IE_DSSS_PARAMETER_SET and ds_channel is None and element_body:
            ds_channel = element_body[0]
    channel = channel_from_freq(freq_mhz) if freq_mhz is not None else None
    if channel is None and freq_mhz is None and ds_channel:
        channel = ds_channel
        freq_mhz = freq_from_channel(ds_channel)
    return ProbeRequest(
        ts_s=ts_s,
        mac=":".join(f"{octet:02x}" for octet in mac_bytes),
        rssi_dbm=rssi_dbm,
        channel=channel,
        freq_mhz=freq_mhz,
        ssid=ssid,
        seq_num=seq_ctrl >> 4,
        randomized=bool(mac_bytes[0] & _LOCALLY_ADMINISTERED_BIT),
        ie_fingerprint=_fingerprint(elements),
        ie_ids=tuple(_element_key(element_id, body) for element_id, body in elements),
    )


def decode_probe_request(
    packet: Any, *, linktype: int | None = None
) -> ProbeRequest | WifiRejection:
    """Decode a scapy packet (``RadioTap``, ``PPI``, ``Dot11FCS`` or ``Dot11``); never raises.

    The time is the packet's ``time`` attribute (set by scapy's readers and sniffers).
    A ``Raw`` packet (what scapy hands over when ``scapy.layers.dot11`` was never
    imported) or plain ``bytes`` is decoded with ``linktype`` if given, else by its first
    byte: ``0`` is a radiotap version, ``0x40`` a bare probe request's frame control.
    Other top layers (``Ether``, ``CookedLinux``...) come back as ``UNSUPPORTED_LINKTYPE``.
    """
    try:
        ts_s = float(getattr(packet, "time", 0.0))
    except (TypeError, ValueError):
        ts_s = 0.0
    name = type(packet).__name__
    fcs: bool | None = None
    if name == "RadioTap":
        linktype = LINKTYPE_IEEE802_11_RADIOTAP
    elif name == "Dot11FCS":
        linktype, fcs = LINKTYPE_IEEE802_11, True
    elif name == "Dot11":
        linktype, fcs = LINKTYPE_IEEE802_11, False
    elif name == "PPI":
        linktype = LINKTYPE_PPI
    elif name not in ("Raw", "bytes", "bytearray"):
        return WifiRejection(
            WifiRejectReason.UNSUPPORTED_LINKTYPE, ts_s, f"top layer {name} is not 802.11"
        )
    try:
        frame = bytes(packet)
    # scapy builds hand-made packets lazily and a bad field value can raise nearly any
    # exception type from inside its build machinery; this is the boundary where that stops.
    except Exception as exc:  # noqa: BLE001
        return WifiRejection(WifiRejectReason.NOT_A_PACKET, ts_s, type(exc).__name__)
    if linktype is None:
        if frame[:1] == b"\x00":
            linktype = LINKTYPE_IEEE802_11_RADIOTAP
        elif frame[:1] == bytes((_PROBE_REQUEST_FC0,)):
            linktype = LINKTYPE_IEEE802_11
        else:
            return WifiRejection(
                WifiRejectReason.UNSUPPORTED_LINKTYPE, ts_s, "raw bytes of unknown link type"
            )
    return decode_frame(frame, linktype=linktype, ts_s=ts_s, fcs=fcs)


def channel_from_freq(freq_mhz: int) -> int | None:
    """IEEE channel number of a centre frequency (2.4, 5 and 6 GHz bands); ``None`` if unknown."""
    if freq_mhz == 2484:
        return 14
    if 2412 <= freq_mhz <= 2472:
        return (freq_mhz - 2407) // 5
    if freq_mhz == 5935:  # 6 GHz channel 2, the one exception in that band's numbering
        return 2
    if 5955 <= freq_mhz <= 7115:
        return (freq_mhz - 5950) // 5
    if 5000 < freq_mhz <= 5900:
        return (freq_mhz - 5000) // 5
    return None


def freq_from_channel(channel: int) -> int | None:
    """Centre frequency of a channel number, assuming 2.4 GHz for 1-14 and 5 GHz above."""
    if channel == 14:
        return 2484
    if 1 <= channel <= 13:
        return 2407 + 5 * channel
    if 32 <= channel <= 177:
        return 5000 + 5 * channel
    return None


def _parse_radiotap(frame: bytes) -> _Radiotap:
    """Walk the radiotap present words and fields; stop at the first field we cannot size."""
    if len(frame) < 8:
        raise _RadiotapError(f"radiotap header needs 8 bytes, got {len(frame)}")
    version, _pad, length = struct.unpack_from("<BBH", frame, 0)
    if version != 0:
        raise _RadiotapError(f"radiotap version must be 0, got {version}")
    if length < 8 or length > len(frame):
        raise _RadiotapError(f"radiotap length {length} outside [8, {len(frame)}]")
    present_words: list[int] = []
    offset = 4
    while True:
        if offset + 4 > length:
            raise _RadiotapError(f"present bitmaps run past the header length {length}")
        (word,) = struct.unpack_from("<I", frame, offset)
        present_words.append(word)
        offset += 4
        if not word & (1 << _RT_BIT_EXT):
            break
    flags: int | None = None
    freq_mhz: int | None = None
    rssi_dbm: int | None = None
    for bit, field_offset in _radiotap_fields(frame, present_words, offset, length):
        if bit == 1 and flags is None:
            flags = frame[field_offset]
        elif bit == 3 and freq_mhz is None:
            (freq,) = struct.unpack_from("<H", frame, field_offset)
            freq_mhz = freq or None
        elif bit == 18 and freq_mhz is None:
            (freq,) = struct.unpack_from("<H", frame, field_offset + 4)
            freq_mhz = freq or None
        elif bit == 5 and rssi_dbm is None:
            (rssi_dbm,) = struct.unpack_from("<b", frame, field_offset)
    return _Radiotap(length=length, flags=flags, freq_mhz=freq_mhz, rssi_dbm=rssi_dbm)


def _parse_ppi(frame: bytes) -> _Radiotap:
    """The PPI header's length and its 802.11-common field, in radiotap terms."""
    if len(frame) < 8:
        raise _RadiotapError(f"PPI header needs 8 bytes, got {len(frame)}")
    version, _flags, length, dlt = struct.unpack_from("<BBHI", frame, 0)
    if version != 0 or length < 8 or length > len(frame):
        raise _RadiotapError(f"PPI version {version}, length {length} of {len(frame)} bytes")
    if dlt != LINKTYPE_IEEE802_11:
        raise _RadiotapError(f"PPI carries link type {dlt}, not 802.11 (105)")
    flags: int | None = None
    freq_mhz: int | None = None
    rssi_dbm: int | None = None
    offset = 8
    while offset + 4 <= length:
        field_type, field_len = struct.unpack_from("<HH", frame, offset)
        start = offset + 4
        offset = start + field_len
        if offset > length:
            raise _RadiotapError(f"PPI field {field_type} runs past the header length {length}")
        if field_type == _PPI_FIELD_80211_COMMON and field_len >= _PPI_80211_COMMON_LEN:
            ppi_flags, _rate, freq = struct.unpack_from("<HHH", frame, start + 8)
            (signal,) = struct.unpack_from("<b", frame, start + 18)
            flags = (_RT_FLAG_FCS if ppi_flags & _PPI_FLAG_FCS else 0) | (
                _RT_FLAG_BAD_FCS if ppi_flags & _PPI_FLAG_BAD_FCS else 0
            )
            freq_mhz = freq or None
            rssi_dbm = signal or None  # PPI has no "absent" flag; writers leave 0 when unknown
    return _Radiotap(length=length, flags=flags, freq_mhz=freq_mhz, rssi_dbm=rssi_dbm)


def _radiotap_fields(
    frame: bytes, present_words: list[int], offset: int, length: int
) -> Iterator[tuple[int, int]]:
    """Yield ``(bit, offset)`` of each standard-namespace field that lies inside the header."""
    in_radiotap_ns = True
    for word in present_words:
        for bit in range(29):
            if not word & (1 << bit):
                continue
            if not in_radiotap_ns:
                # Vendor namespace fields are opaque; the namespace header's skip length
                # (handled below) jumps over all of them at once.
                continue
            if bit == _RT_BIT_TLV or bit not in _RT_FIELDS:
                return  # cannot size it, so nothing after it can be located
            align, size = _RT_FIELDS[bit]
            offset = (offset + align - 1) & ~(align - 1)
            if offset + size > length:
                raise _RadiotapError(f"radiotap field {bit} runs past the header length {length}")
            yield bit, offset
            offset += size
        if word & (1 << _RT_BIT_VENDOR_NS):
            offset = (offset + 1) & ~1
            if offset + 6 > length:
                raise _RadiotapError("vendor namespace header runs past the radiotap header")
            (skip_len,) = struct.unpack_from("<H", frame, offset + 4)
            offset += 6 + skip_len
            in_radiotap_ns = False
        elif word & (1 << _RT_BIT_RADIOTAP_NS):
            in_radiotap_ns = True
        # A new namespace (or the next word of this one) starts its bits at 0 again.


def _has_valid_fcs(frame: bytes) -> bool:
    if len(frame) < _MAC_HEADER_LEN + _FCS_LEN:
        return False
    fcs = int.from_bytes(frame[-_FCS_LEN:], "little")
    return zlib.crc32(frame[:-_FCS_LEN]) == fcs


def _split_elements(body: bytes, offset: int) -> list[tuple[int, bytes]] | None:
    """``(id, body)`` of each information element; ``None`` if one runs past the end."""
    elements: list[tuple[int, bytes]] = []
    end = len(body)
    while offset < end:
        if offset + 2 > end:
            return None
        element_id, element_len = body[offset], body[offset + 1]
        start = offset + 2
        offset = start + element_len
        if offset > end:
            return None
        elements.append((element_id, body[start:offset]))
    return elements


def _element_key(element_id: int, body: bytes) -> int:
    if element_id == _IE_EXTENSION and body:
        return _IE_EXTENSION * 256 + body[0]
    return element_id


def _fingerprint(elements: list[tuple[int, bytes]]) -> str:
    """Hash of the element ids in order and the bodies of the hardware-describing elements."""
    digest = hashlib.sha256(_FINGERPRINT_VERSION)
    for element_id, body in elements:
        if element_id in _FINGERPRINT_BODY_IES:
            part = bytes((element_id, len(body))) + body
        elif element_id == _IE_VENDOR_SPECIFIC:
            part = bytes((element_id,)) + body[:4]  # OUI and vendor type, not the body
        elif element_id == _IE_EXTENSION and body:
            if body[0] in _FINGERPRINT_BODY_EXT_IES:
                part = bytes((element_id, len(body))) + body
            else:
                part = bytes((element_id, body[0]))
        else:
            part = bytes((element_id,))
        # Length-prefix every part so different element lists can never hash the same.
        digest.update(len(part).to_bytes(2, "little") + part)
    return digest.hexdigest()[:_FINGERPRINT_HEX_LEN]
