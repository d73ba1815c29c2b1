"""``decode_advertisement``: bleak's ``AdvertisementData`` fields in, typed frames out.

One advertisement can carry several frames (an Apple iBeacon in the
manufacturer data and an Eddystone frame in the service data), so the result is
a tuple, never empty:

- one entry per manufacturer-data or service-data element that is (or claims to
  be) a beacon frame: the decoded frame, or a :class:`Rejection` with a reason;
- plus one :class:`OtherAdvertisement` at the end when nothing was decoded
  (no beacon at all, or only rejections): the advert still shows a device there.

Pure: no bleak import, no I/O, never raises on any input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from hardware.ble._common import Rejection, RejectReason
from hardware.ble.ad import BLUETOOTH_BASE_UUID_SUFFIX, parse_ad_structures
from hardware.ble.altbeacon import AltBeacon, decode_altbeacon, is_altbeacon_candidate
from hardware.ble.eddystone import (
    EDDYSTONE_UUID16,
    EddystoneEid,
    EddystoneEncryptedTlm,
    EddystoneTlm,
    EddystoneUid,
    EddystoneUrl,
    decode_eddystone,
)
from hardware.ble.ibeacon import IBeacon, decode_ibeacon, is_ibeacon_candidate

_MAX_COMPANY_ID = 0xFFFF
_SHORT_UUID_LENGTHS = (4, 8)


@dataclass(frozen=True, slots=True)
class OtherAdvertisement:
    """An advertisement without a beacon frame (phones, PCs, wearables, corrupted beacons).

    Summarises what it carried, without payload bytes; the device is known only by its
    address. ``local_name`` may name a person ("Anna's iPhone"): never log it above DEBUG.
    """

    kind: ClassVar[str] = "other"

    company_ids: tuple[int, ...] = ()
    """Manufacturer-data company ids, e.g. ``(0x004C,)`` for Apple Continuity."""
    service_data_uuids: tuple[str, ...] = ()
    service_uuids: tuple[str, ...] = ()
    tx_power_dbm: int | None = None
    """The advertised TX power level (AD type 0x0A), in dBm, if any."""
    local_name: str | None = None


BleFrame = (
    IBeacon
    | AltBeacon
    | EddystoneUid
    | EddystoneUrl
    | EddystoneEid
    | EddystoneTlm
    | EddystoneEncryptedTlm
    | OtherAdvertisement
)
DecodeResult = BleFrame | Rejection

BEACON_FRAME_TYPES: tuple[
    type[IBeacon], type[AltBeacon], type[EddystoneUid], type[EddystoneUrl], type[EddystoneEid]
] = (IBeacon, AltBeacon, EddystoneUid, EddystoneUrl, EddystoneEid)
"""Frames that identify a beacon (``beacon_id``, ``tx_power_1m_dbm``): for ``isinstance``."""


def normalize_uuid(uuid: str) -> str:
    """Lower-case 128-bit form; a 16- or 32-bit short form (``"feaa"``) is widened."""
    text = uuid.strip().lower()
    text = text.removeprefix("0x")
    if len(text) in _SHORT_UUID_LENGTHS and all(c in "0123456789abcdef" for c in text):
        return f"{int(text, 16):08x}{BLUETOOTH_BASE_UUID_SUFFIX}"
    return text


def _as_bytes(value: object) -> bytes | None:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return None


def _invalid(detail: str) -> Rejection:
    return Rejection(RejectReason.INVALID_INPUT, "advertisement", detail)


def _decode_manufacturer(
    manufacturer_data: object, results: list[DecodeResult], company_ids: list[int]
) -> None:
    if not isinstance(manufacturer_data, Mapping):
        results.append(
            _invalid(f"manufacturer_data must be a dict (got {type(manufacturer_data).__name__})")
        )
        return
    for company_id, payload in manufacturer_data.items():
        data = _as_bytes(payload)
        if (
            not isinstance(company_id, int)
            or isinstance(company_id, bool)
            or not 0 <= company_id <= _MAX_COMPANY_ID
            or data is None
        ):
            results.append(
                _invalid(
                    "manufacturer_data must map company ids 0..0xFFFF to bytes "
                    f"(got {type(company_id).__name__} -> {type(payload).__name__})"
                )
            )
            continue
        company_ids.append(company_id)
        if is_ibeacon_candidate(company_id, data):
            results.append(decode_ibeacon(data))
        elif is_altbeacon_candidate(data):
            results.append(decode_altbeacon(company_id, data))


def _decode_service_data(
    service_data: object, results: list[DecodeResult], service_data_uuids: list[str]
) -> None:
    if not isinstance(service_data, Mapping):
        results.append(_invalid(f"service_data must be a dict (got {type(service_data).__name__})"))
        return
    for uuid, payload in service_data.items():
        data = _as_bytes(payload)
        if not isinstance(uuid, str) or data is None:
            results.append(
                _invalid(
                    "service_data must map uuid strings to bytes "
                    f"(got {type(uuid).__name__} -> {type(payload).__name__})"
                )
            )
            continue
        normalized = normalize_uuid(uuid)
        service_data_uuids.append(normalized)
        if normalized == EDDYSTONE_UUID16:
            results.append(decode_eddystone(data))


def decode_advertisement(
    *,
    manufacturer_data: Mapping[int, bytes] | None = None,
    service_data: Mapping[str, bytes] | None = None,
    service_uuids: Sequence[str] | None = None,
    tx_power: int | None = None,
    local_name: str | None = None,
) -> tuple[DecodeResult, ...]:
    """Decode what bleak's detection callback got; arguments named as ``AdvertisementData``'s.

    Call it as ``decode_advertisement(manufacturer_data=adv.manufacturer_data,
    service_data=adv.service_data, service_uuids=adv.service_uuids,
    tx_power=adv.tx_power, local_name=adv.local_name)``. Returns at least one
    result; see the module docstring for the order and when
    :class:`OtherAdvertisement` is added. Never raises.
    """
    results: list[DecodeResult] = []
    company_ids: list[int] = []
    service_data_uuids: list[str] = []
    if manufacturer_data is not None:
        _decode_manufacturer(manufacturer_data, results, company_ids)
    if service_data is not None:
        _decode_service_data(service_data, results, service_data_uuids)
    if any(not isinstance(result, Rejection) for result in results):
        return tuple(results)

    uuids: tuple[str, ...] = ()
    if service_uuids is not None:
        if isinstance(service_uuids, Sequence) and not isinstance(service_uuids, str | bytes):
            uuids = tuple(normalize_uuid(u) for u in service_uuids if isinstance(u, str))
        else:
            results.append(
                _invalid(f"service_uuids must be a list (got {type(service_uuids).__name__})")
            )
    if tx_power is not None and (not isinstance(tx_power, int) or isinstance(tx_power, bool)):
        results.append(_invalid(f"tx_power must be an int (got {type(tx_power).__name__})"))
        tx_power = None
    if local_name is not None and not isinstance(local_name, str):
        results.append(_invalid(f"local_name must be a str (got {type(local_name).__name__})"))
        local_name = None
    results.append(
        OtherAdvertisement(
            company_ids=tuple(company_ids),
            service_data_uuids=tuple(service_data_uuids),
            service_uuids=uuids,
            tx_power_dbm=tx_power,
            local_name=local_name,
        )
    )
    return tuple(results)


def decode_ad_bytes(data: bytes) -> tuple[DecodeResult, ...]:
    """Decode raw advertising data (AD structures, e.g. from a capture) as bleak would see it.

    A structure that runs past the end adds a ``malformed_ad`` rejection; what came
    before it is still decoded.
    """
    fields = parse_ad_structures(data)
    results = decode_advertisement(
        manufacturer_data=fields.manufacturer_data,
        service_data=fields.service_data,
        service_uuids=fields.service_uuids,
        tx_power=fields.tx_power,
        local_name=fields.local_name,
    )
    if fields.malformed:
        malformed = Rejection(
            RejectReason.MALFORMED_AD, "advertisement", "an AD structure is cut short"
        )
        return (malformed, *results)
    return results
