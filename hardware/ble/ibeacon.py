"""Apple iBeacon: manufacturer-specific data of company 0x004C, type 0x02, length 0x15.

Layout of the manufacturer data *after* the 2-byte company id (which bleak uses
as the dict key), all multi-byte fields big-endian::

    offset  size  field
    0       1     type            0x02 (iBeacon)
    1       1     length          0x15 (21 bytes follow)
    2       16    proximity uuid
    18      2     major
    20      2     minor
    22      1     measured power  signed dBm, RSSI at 1 m
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from hardware.ble._common import Rejection, RejectReason

APPLE_COMPANY_ID = 0x004C
IBEACON_TYPE = 0x02
IBEACON_LENGTH = 0x15
"""The length byte: 21 bytes of uuid, major, minor and power follow it."""
_LAYOUT = struct.Struct(">BB16sHHb")
IBEACON_DATA_SIZE = _LAYOUT.size
"""23 bytes of manufacturer data (company id excluded)."""


@dataclass(frozen=True, slots=True)
class IBeacon:
    """An Apple iBeacon advertisement."""

    kind: ClassVar[str] = "ibeacon"

    uuid: UUID
    """Proximity UUID (the organisation's or app's beacon namespace)."""
    major: int
    """0-65535, e.g. the store."""
    minor: int
    """0-65535, e.g. the beacon within the store."""
    measured_power: int
    """Calibrated RSSI at 1 m, in dBm (signed byte)."""

    @property
    def beacon_id(self) -> str:
        """Stable id: ``ibeacon:<uuid lower-case>:<major>:<minor>``."""
        return f"ibeacon:{self.uuid}:{self.major}:{self.minor}"

    @property
    def tx_power_1m_dbm(self) -> int:
        """Calibrated power at 1 m in dBm: the measured power byte itself."""
        return self.measured_power


def is_ibeacon_candidate(company_id: int, data: bytes) -> bool:
    """Whether Apple manufacturer data claims to be an iBeacon (type byte 0x02).

    Other Apple Continuity messages (AirDrop 0x05, Nearby 0x10, ...) use other type bytes.
    """
    return company_id == APPLE_COMPANY_ID and len(data) >= 1 and data[0] == IBEACON_TYPE


def decode_ibeacon(data: bytes) -> IBeacon | Rejection:
    """Decode Apple manufacturer data (company id excluded) that starts with type 0x02."""
    if len(data) < IBEACON_DATA_SIZE:
        return Rejection(
            RejectReason.TRUNCATED,
            IBeacon.kind,
            f"manufacturer data must be {IBEACON_DATA_SIZE} bytes (got {len(data)})",
        )
    if len(data) > IBEACON_DATA_SIZE:
        return Rejection(
            RejectReason.BAD_LENGTH,
            IBeacon.kind,
            f"manufacturer data must be {IBEACON_DATA_SIZE} bytes (got {len(data)})",
        )
    kind, length, uuid_bytes, major, minor, power = _LAYOUT.unpack(data)
    if kind != IBEACON_TYPE or length != IBEACON_LENGTH:
        return Rejection(
            RejectReason.BAD_LENGTH,
            IBeacon.kind,
            f"type/length bytes must be 0x02 0x15 (got 0x{kind:02x} 0x{length:02x})",
        )
    return IBeacon(uuid=UUID(bytes=uuid_bytes), major=major, minor=minor, measured_power=power)
