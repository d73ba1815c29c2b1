"""Raw advertising data (AD structures) to the fields bleak's ``AdvertisementData`` holds.

For captures (pcap, HCI logs) that carry the advertising payload as bytes: a
sequence of ``length | type | data`` structures (Core spec Vol 3 Part C §11).
The mapping follows what BlueZ/bleak report, so a decoder fed from a capture
sees what it would see live: 16- and 32-bit UUIDs widened to the 128-bit
lower-case string form, manufacturer data keyed by the little-endian company id
with the id stripped, the last structure winning when one repeats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

AD_FLAGS = 0x01
AD_UUID16_INCOMPLETE = 0x02
AD_UUID16_COMPLETE = 0x03
AD_UUID32_INCOMPLETE = 0x04
AD_UUID32_COMPLETE = 0x05
AD_UUID128_INCOMPLETE = 0x06
AD_UUID128_COMPLETE = 0x07
AD_NAME_SHORT = 0x08
AD_NAME_COMPLETE = 0x09
AD_TX_POWER = 0x0A
AD_SERVICE_DATA16 = 0x16
AD_SERVICE_DATA32 = 0x20
AD_SERVICE_DATA128 = 0x21
AD_MANUFACTURER = 0xFF

BLUETOOTH_BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"

_UUID_SIZES = {
    AD_UUID16_INCOMPLETE: 2,
    AD_UUID16_COMPLETE: 2,
    AD_UUID32_INCOMPLETE: 4,
    AD_UUID32_COMPLETE: 4,
    AD_UUID128_INCOMPLETE: 16,
    AD_UUID128_COMPLETE: 16,
}
_SERVICE_DATA_UUID_SIZES = {AD_SERVICE_DATA16: 2, AD_SERVICE_DATA32: 4, AD_SERVICE_DATA128: 16}
_COMPANY_ID_SIZE = 2
_UUID128_SIZE = 16


def uuid_from_le_bytes(raw: bytes) -> str:
    """A 2-, 4- or 16-byte little-endian UUID as bleak's lower-case 128-bit string."""
    if len(raw) == _UUID128_SIZE:
        return str(UUID(bytes=raw[::-1]))
    value = int.from_bytes(raw, "little")
    return f"{value:08x}{BLUETOOTH_BASE_UUID_SUFFIX}"


@dataclass(frozen=True, slots=True)
class AdvertisementFields:
    """The ``AdvertisementData``-like fields parsed from raw AD structures."""

    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[str, bytes] = field(default_factory=dict)
    service_uuids: list[str] = field(default_factory=list)
    tx_power: int | None = None
    """AD type 0x0A, TX power level in dBm."""
    local_name: str | None = None
    malformed: bool = False
    """True when a structure ran past the end or was too short for its type (the rest is kept)."""


def parse_ad_structures(data: bytes) -> AdvertisementFields:
    """Split advertising data into bleak's fields; never raises on any bytes."""
    manufacturer: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    uuids: list[str] = []
    tx_power: int | None = None
    name: str | None = None
    malformed = False
    offset = 0
    while offset < len(data):
        length = data[offset]
        if length == 0:  # early terminator; the rest is padding
            break
        end = offset + 1 + length
        if end > len(data):
            malformed = True
            break
        ad_type = data[offset + 1]
        value = bytes(data[offset + 2 : end])
        offset = end
        if ad_type == AD_MANUFACTURER:
            if len(value) < _COMPANY_ID_SIZE:
                malformed = True
                continue
            manufacturer[int.from_bytes(value[:2], "little")] = value[2:]
        elif ad_type in _SERVICE_DATA_UUID_SIZES:
            size = _SERVICE_DATA_UUID_SIZES[ad_type]
            if len(value) < size:
                malformed = True
                continue
            service_data[uuid_from_le_bytes(value[:size])] = value[size:]
        elif ad_type in _UUID_SIZES:
            size = _UUID_SIZES[ad_type]
            if len(value) % size:
                malformed = True
            for start in range(0, len(value) - size + 1, size):
                uuid = uuid_from_le_bytes(value[start : start + size])
                if uuid not in uuids:
                    uuids.append(uuid)
        elif ad_type in (AD_NAME_SHORT, AD_NAME_COMPLETE):
            # a complete name wins over a shortened one, whatever the order
            if name is None or ad_type == AD_NAME_COMPLETE:
                name = value.decode("utf-8", errors="replace")
        elif ad_type == AD_TX_POWER:
            if len(value) != 1:
                malformed = True
                continue
            tx_power = int.from_bytes(value, "little", signed=True)
    return AdvertisementFields(
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=uuids,
        tx_power=tx_power,
        local_name=name,
        malformed=malformed,
    )
