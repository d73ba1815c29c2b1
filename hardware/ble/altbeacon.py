"""AltBeacon (https://github.com/AltBeacon/spec): manufacturer data with beacon code 0xBEAC.

Any company id may carry it (Radius Networks' 0x0118 is the usual one). Layout of
the manufacturer data *after* the 2-byte company id, big-endian::

    offset  size  field
    0       2     beacon code     0xBE 0xAC
    2       20    beacon id       first 16+ bytes: the organisational unit
    22      1     reference rssi  signed dBm, average RSSI at 1 m
    23      1     mfg reserved    manufacturer-defined
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from hardware.ble._common import Rejection, RejectReason

ALTBEACON_CODE = b"\xbe\xac"
RADIUS_NETWORKS_COMPANY_ID = 0x0118
"""The company id AltBeacon's authors use; any other id is valid too."""
_LAYOUT = struct.Struct(">2s20sbB")
ALTBEACON_DATA_SIZE = _LAYOUT.size
"""24 bytes of manufacturer data (company id excluded)."""


@dataclass(frozen=True, slots=True)
class AltBeacon:
    """An AltBeacon advertisement."""

    kind: ClassVar[str] = "altbeacon"

    id_bytes: bytes
    """The spec's 20-byte BEACON ID (named ``id_bytes`` so ``beacon_id`` can be the string)."""
    reference_rssi: int
    """Average RSSI at 1 m, in dBm (signed byte)."""
    mfg_reserved: int
    """The manufacturer-reserved byte, 0-255."""
    manufacturer_id: int
    """The company identifier the frame came under (the manufacturer_data key)."""

    @property
    def beacon_id(self) -> str:
        """Stable id: ``altbeacon:<40 hex digits>``."""
        return f"altbeacon:{self.id_bytes.hex()}"

    @property
    def tx_power_1m_dbm(self) -> int:
        """Calibrated power at 1 m in dBm: the reference RSSI."""
        return self.reference_rssi


def is_altbeacon_candidate(data: bytes) -> bool:
    """Whether manufacturer data (company id excluded) starts with the AltBeacon code."""
    return data[:2] == ALTBEACON_CODE


def decode_altbeacon(company_id: int, data: bytes) -> AltBeacon | Rejection:
    """Decode manufacturer data (company id excluded) that starts with 0xBEAC."""
    if len(data) != ALTBEACON_DATA_SIZE:
        reason = (
            RejectReason.TRUNCATED if len(data) < ALTBEACON_DATA_SIZE else RejectReason.BAD_LENGTH
        )
        return Rejection(
            reason,
            AltBeacon.kind,
            f"manufacturer data must be {ALTBEACON_DATA_SIZE} bytes (got {len(data)})",
        )
    _code, id_bytes, reference_rssi, reserved = _LAYOUT.unpack(data)
    return AltBeacon(
        id_bytes=id_bytes,
        reference_rssi=reference_rssi,
        mfg_reserved=reserved,
        manufacturer_id=company_id,
    )
