"""Eddystone (https://github.com/google/eddystone): service data of UUID 0xFEAA.

The first byte of the service data is the frame type; all multi-byte fields are
big-endian. Sizes below are of the service data bleak hands over (the 16-bit
service UUID excluded)::

    UID   0x00  ranging(1) namespace(10) instance(6) [rfu(2)]   18 or 20 bytes
    URL   0x10  ranging(1) scheme(1) encoded url(0-17)          3 to 20 bytes
    TLM   0x20  version 0x00 vbatt(2) temp(2) adv_cnt(4) sec_cnt(4)   14 bytes
    eTLM  0x20  version 0x01 etlm(12) salt(2) mic(2)            18 bytes
    EID   0x30  ranging(1) eid(8)                               10 bytes

"Ranging data" is the calibrated TX power at **0 m**, in dBm. The spec tells
implementers to measure at 1 m and add 41 dB (the free-space loss over the
first metre), so the power at 1 m is ``ranging - 41``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from hardware.ble._common import Rejection, RejectReason

EDDYSTONE_UUID16 = "0000feaa-0000-1000-8000-00805f9b34fb"
"""The Eddystone service UUID as bleak spells service_data keys (lower-case, 128-bit form)."""

FRAME_UID = 0x00
FRAME_URL = 0x10
FRAME_TLM = 0x20
FRAME_EID = 0x30

TLM_VERSION_PLAIN = 0x00
TLM_VERSION_ENCRYPTED = 0x01

LOSS_0M_TO_1M_DB = 41
"""Eddystone's stated path loss over the first metre: power at 1 m = ranging power at 0 m - 41."""

TEMPERATURE_NOT_SUPPORTED = -0x8000
"""TLM temperature 0x8000 (-128 degC in 8.8) means the beacon has no sensor."""

_UID = struct.Struct(">Bb10s6s")
_UID_RFU_SIZE = 2
_URL_HEADER = struct.Struct(">BbB")
MAX_ENCODED_URL_BYTES = 17
"""The encoded URL (after the scheme byte) fits 17 bytes of a legacy advertisement."""
_TLM_HEADER_SIZE = 2  # frame type and version
_TLM = struct.Struct(">BBHhII")
_ETLM = struct.Struct(">BB12sHH")
_EID = struct.Struct(">Bb8s")

URL_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
"""Scheme prefix byte 0x00-0x03."""
URL_EXPANSIONS = (
    ".com/",
    ".org/",
    ".edu/",
    ".net/",
    ".info/",
    ".biz/",
    ".gov/",
    ".com",
    ".org",
    ".edu",
    ".net",
    ".info",
    ".biz",
    ".gov",
)
"""Encoded URL bytes 0x00-0x0d; 0x0e-0x20 and 0x7f-0xff are reserved."""


def _power_1m(ranging_0m_dbm: int) -> int:
    # Eddystone's ranging data is the power at 0 m; 1 m is 41 dB weaker (spec's rule of thumb).
    return ranging_0m_dbm - LOSS_0M_TO_1M_DB


@dataclass(frozen=True, slots=True)
class EddystoneUid:
    """Eddystone-UID: a 10-byte namespace and a 6-byte instance."""

    kind: ClassVar[str] = "eddystone-uid"

    namespace: bytes
    """10 bytes."""
    instance: bytes
    """6 bytes."""
    ranging_power_0m: int
    """Calibrated TX power at 0 m, in dBm."""

    @property
    def beacon_id(self) -> str:
        """Stable id: ``eddystone-uid:<20 hex digits>:<12 hex digits>``."""
        return f"eddystone-uid:{self.namespace.hex()}:{self.instance.hex()}"

    @property
    def tx_power_1m_dbm(self) -> int:
        """Power at 1 m in dBm: the 0 m ranging power minus 41 dB."""
        return _power_1m(self.ranging_power_0m)


@dataclass(frozen=True, slots=True)
class EddystoneUrl:
    """Eddystone-URL: a compressed URL, expanded here."""

    kind: ClassVar[str] = "eddystone-url"

    url: str
    """The full URL, scheme prefix and expansion codes expanded."""
    ranging_power_0m: int
    """Calibrated TX power at 0 m, in dBm."""

    @property
    def beacon_id(self) -> str:
        """Stable id: ``eddystone-url:<url>``."""
        return f"eddystone-url:{self.url}"

    @property
    def tx_power_1m_dbm(self) -> int:
        """Power at 1 m in dBm: the 0 m ranging power minus 41 dB."""
        return _power_1m(self.ranging_power_0m)


@dataclass(frozen=True, slots=True)
class EddystoneTlm:
    """Eddystone-TLM, unencrypted (version 0x00): the beacon's health. Carries no id."""

    kind: ClassVar[str] = "eddystone-tlm"

    battery_mv: int | None
    """Battery voltage in mV; ``None`` when the beacon sends 0 (not supported)."""
    temperature_c: float | None
    """Temperature in degC from signed 8.8 fixed point; ``None`` for 0x8000 (not supported)."""
    adv_count: int
    """Advertising PDUs sent since power-on or reboot."""
    uptime_s: float
    """Time since power-on or reboot, in s (the counter has 0.1 s resolution)."""


@dataclass(frozen=True, slots=True)
class EddystoneEncryptedTlm:
    """Eddystone-eTLM (TLM version 0x01): AES-EAX encrypted telemetry, kept opaque."""

    kind: ClassVar[str] = "eddystone-etlm"

    etlm: bytes
    """The 12 encrypted bytes."""
    salt: int
    """16-bit salt (big-endian)."""
    mic: int
    """16-bit message integrity check (big-endian)."""


@dataclass(frozen=True, slots=True)
class EddystoneEid:
    """Eddystone-EID: an 8-byte ephemeral id that rotates; resolvable only by its registrar."""

    kind: ClassVar[str] = "eddystone-eid"

    eid: bytes
    """8 bytes."""
    ranging_power_0m: int
    """Calibrated TX power at 0 m, in dBm."""

    @property
    def beacon_id(self) -> str:
        """Stable (for one rotation period) id: ``eddystone-eid:<16 hex digits>``."""
        return f"eddystone-eid:{self.eid.hex()}"

    @property
    def tx_power_1m_dbm(self) -> int:
        """Power at 1 m in dBm: the 0 m ranging power minus 41 dB."""
        return _power_1m(self.ranging_power_0m)


EddystoneFrame = EddystoneUid | EddystoneUrl | EddystoneTlm | EddystoneEncryptedTlm | EddystoneEid


def _length_rejection(kind: str, expected: str, got: int, *, short: bool) -> Rejection:
    reason = RejectReason.TRUNCATED if short else RejectReason.BAD_LENGTH
    return Rejection(reason, kind, f"service data must be {expected} bytes (got {got})")


def _decode_uid(data: bytes) -> EddystoneUid | Rejection:
    # 18 bytes is the common truncation that omits the two RFU bytes (the spec allows reading it).
    if len(data) not in (_UID.size, _UID.size + _UID_RFU_SIZE):
        return _length_rejection(
            EddystoneUid.kind, "18 or 20", len(data), short=len(data) < _UID.size
        )
    _frame, ranging, namespace, instance = _UID.unpack_from(data)
    return EddystoneUid(namespace=namespace, instance=instance, ranging_power_0m=ranging)


def expand_eddystone_url(scheme: int, encoded: bytes) -> str | Rejection:
    """Expand an Eddystone-URL scheme byte and encoded bytes into the full URL."""
    if scheme >= len(URL_SCHEMES):
        return Rejection(
            RejectReason.BAD_URL_SCHEME,
            EddystoneUrl.kind,
            f"scheme byte must be 0x00-0x03 (got 0x{scheme:02x})",
        )
    parts = [URL_SCHEMES[scheme]]
    for position, byte in enumerate(encoded):
        if byte < len(URL_EXPANSIONS):
            parts.append(URL_EXPANSIONS[byte])
        elif 0x20 < byte < 0x7F:
            parts.append(chr(byte))
        else:
            return Rejection(
                RejectReason.BAD_URL_CHARACTER,
                EddystoneUrl.kind,
                f"url byte {position} must be 0x00-0x0d or 0x21-0x7e (got 0x{byte:02x})",
            )
    return "".join(parts)


def _decode_url(data: bytes) -> EddystoneUrl | Rejection:
    if not _URL_HEADER.size <= len(data) <= _URL_HEADER.size + MAX_ENCODED_URL_BYTES:
        return _length_rejection(
            EddystoneUrl.kind, "3 to 20", len(data), short=len(data) < _URL_HEADER.size
        )
    _frame, ranging, scheme = _URL_HEADER.unpack_from(data)
    url = expand_eddystone_url(scheme, data[_URL_HEADER.size :])
    if isinstance(url, Rejection):
        return url
    return EddystoneUrl(url=url, ranging_power_0m=ranging)


def _decode_tlm(data: bytes) -> EddystoneTlm | EddystoneEncryptedTlm | Rejection:
    if len(data) < _TLM_HEADER_SIZE:
        return _length_rejection(
            EddystoneTlm.kind, "14 (plain) or 18 (encrypted)", len(data), short=True
        )
    version = data[1]
    if version == TLM_VERSION_PLAIN:
        if len(data) != _TLM.size:
            return _length_rejection(
                EddystoneTlm.kind, str(_TLM.size), len(data), short=len(data) < _TLM.size
            )
        _frame, _version, vbatt_mv, temp_8_8, adv_count, sec_count = _TLM.unpack(data)
        return EddystoneTlm(
            battery_mv=vbatt_mv or None,
            # signed 8.8 fixed point: the high byte is whole degrees, the low byte 1/256ths.
            temperature_c=None if temp_8_8 == TEMPERATURE_NOT_SUPPORTED else temp_8_8 / 256,
            adv_count=adv_count,
            uptime_s=sec_count / 10,  # SEC_CNT counts tenths of a second
        )
    if version == TLM_VERSION_ENCRYPTED:
        if len(data) != _ETLM.size:
            return _length_rejection(
                EddystoneEncryptedTlm.kind, str(_ETLM.size), len(data), short=len(data) < _ETLM.size
            )
        _frame, _version, etlm, salt, mic = _ETLM.unpack(data)
        return EddystoneEncryptedTlm(etlm=etlm, salt=salt, mic=mic)
    return Rejection(
        RejectReason.UNKNOWN_VERSION,
        EddystoneTlm.kind,
        f"TLM version must be 0x00 or 0x01 (got 0x{version:02x})",
    )


def _decode_eid(data: bytes) -> EddystoneEid | Rejection:
    if len(data) != _EID.size:
        return _length_rejection(
            EddystoneEid.kind, str(_EID.size), len(data), short=len(data) < _EID.size
        )
    _frame, ranging, eid = _EID.unpack(data)
    return EddystoneEid(eid=eid, ranging_power_0m=ranging)


def decode_eddystone(data: bytes) -> EddystoneFrame | Rejection:
    """Decode the service data of UUID 0xFEAA (the UUID itself excluded)."""
    if not data:
        return Rejection(RejectReason.TRUNCATED, "eddystone", "service data is empty")
    frame_type = data[0]
    if frame_type == FRAME_UID:
        return _decode_uid(data)
    if frame_type == FRAME_URL:
        return _decode_url(data)
    if frame_type == FRAME_TLM:
        return _decode_tlm(data)
    if frame_type == FRAME_EID:
        return _decode_eid(data)
    return Rejection(
        RejectReason.UNKNOWN_FRAME_TYPE,
        "eddystone",
        f"frame type must be 0x00, 0x10, 0x20 or 0x30 (got 0x{frame_type:02x})",
    )
