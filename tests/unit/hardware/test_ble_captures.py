"""BLE decoders on real over-the-air adverts someone else captured (ble-sniffer-hackrf-boston).

The capture holds ~5,000 advertising PDUs from phones, PCs and a keyboard, corrupted
ones included, and no beacon: every beacon frame we found would be a false detection.
Scapy's BTLE layers split the AD structures and we feed the fields as bleak would.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hardware import (
    BEACON_FRAME_TYPES,
    EddystoneEncryptedTlm,
    EddystoneTlm,
    OtherAdvertisement,
    Rejection,
    decode_ad_bytes,
    decode_advertisement,
    parse_ad_structures,
)
from tests.conftest import shared_data

CAPTURES = (
    ("data", "take_3", "ble_all_adv_w_scan.pcap"),
    ("data", "hackrf_BLE_sniff_20_channels_for_bitchat.pcap"),
)
_ADV_ADDRESS_SIZE = 6  # AdvA precedes the AD structures in every PDU with data


@dataclass(frozen=True)
class CapturedAdvert:
    """One advertising PDU: its raw AD bytes and the fields scapy's layers gave."""

    ad_bytes: bytes
    manufacturer_data: dict[int, bytes]
    service_data: dict[str, bytes]
    service_uuids: list[str]
    tx_power: int | None
    local_name: str | None
    scapy_clean: bool
    """Scapy parsed every structure as an AD structure (no raw leftovers)."""


def _uuid16(value: int) -> str:
    return f"0000{value:04x}-0000-1000-8000-00805f9b34fb"


def _fields_from_scapy(layer: Any) -> CapturedAdvert:
    from scapy.layers import bluetooth as bt

    manufacturer: dict[int, bytes] = {}
    service: dict[str, bytes] = {}
    uuids: list[str] = []
    tx_power: int | None = None
    name: str | None = None
    ad_bytes = bytes(layer)[_ADV_ADDRESS_SIZE:]
    clean = True
    consumed = 0
    for eir in layer.data:
        if not isinstance(eir, bt.EIR_Hdr):
            clean = False
            continue
        consumed += eir.len + 1
        body = eir.payload
        if isinstance(body, bt.EIR_Manufacturer_Specific_Data):
            manufacturer[body.company_identifier] = bytes(body.payload)
        elif isinstance(body, bt.EIR_ServiceData16BitUUID):
            service[_uuid16(body.svc_uuid)] = bytes(body.payload)
        elif isinstance(
            body, bt.EIR_CompleteList16BitServiceUUIDs | bt.EIR_IncompleteList16BitServiceUUIDs
        ):
            uuids.extend(_uuid16(u) for u in body.svc_uuids if _uuid16(u) not in uuids)
        elif isinstance(
            body, bt.EIR_CompleteList128BitServiceUUIDs | bt.EIR_IncompleteList128BitServiceUUIDs
        ):
            uuids.extend(str(u) for u in body.svc_uuids if str(u) not in uuids)
        elif isinstance(body, bt.EIR_ServiceData128BitUUID | bt.EIR_ServiceData32BitUUID):
            clean = False  # not seen in this capture; left to parse_ad_structures' own tests
        elif isinstance(body, bt.EIR_TX_Power_Level):
            tx_power = body.level
        elif isinstance(body, bt.EIR_CompleteLocalName | bt.EIR_ShortenedLocalName):
            name = body.local_name.decode("utf-8", errors="replace")
        elif isinstance(body, bt.EIR_Raw) or eir.type in (0x16, 0x20, 0x21, 0xFF):
            clean = False  # a type scapy could not split (or a too-short structure)
    # Scapy decodes some fields by their own size, not the structure's length byte (a
    # bit-flipped flags length of 10 still reads 1 byte): such a PDU is not cleanly split.
    clean = clean and consumed == len(ad_bytes)
    return CapturedAdvert(
        ad_bytes=ad_bytes,
        manufacturer_data=manufacturer,
        service_data=service,
        service_uuids=uuids,
        tx_power=tx_power,
        local_name=name,
        scapy_clean=clean,
    )


@pytest.fixture(scope="module")
def adverts() -> list[CapturedAdvert]:
    """Every advertising PDU that may carry AD data (ADV_IND, _NONCONN_IND, _SCAN_IND, SCAN_RSP)."""
    from scapy.layers.bluetooth4LE import (
        BTLE_ADV_IND,
        BTLE_ADV_NONCONN_IND,
        BTLE_ADV_SCAN_IND,
        BTLE_SCAN_RSP,
    )
    from scapy.utils import PcapReader

    paths: list[Path] = [shared_data("ble-sniffer-hackrf-boston", *parts) for parts in CAPTURES]
    found: list[CapturedAdvert] = []
    for path in paths:
        with PcapReader(str(path)) as reader:
            for packet in reader:
                for pdu in (BTLE_ADV_IND, BTLE_ADV_NONCONN_IND, BTLE_ADV_SCAN_IND, BTLE_SCAN_RSP):
                    if packet.haslayer(pdu):
                        found.append(_fields_from_scapy(packet[pdu]))
                        break
    return found


def test_capture_yields_no_false_beacon_detections(adverts: list[CapturedAdvert]) -> None:
    """Not one of the ~5,000 real, beacon-free adverts decodes to a beacon or telemetry frame."""
    assert len(adverts) > 4500
    kinds: Counter[str] = Counter()
    for advert in adverts:
        results = decode_advertisement(
            manufacturer_data=advert.manufacturer_data,
            service_data=advert.service_data,
            service_uuids=advert.service_uuids,
            tx_power=advert.tx_power,
            local_name=advert.local_name,
        )
        assert results, "decode_advertisement always returns at least one result"
        for result in results:
            assert not isinstance(
                result, (*BEACON_FRAME_TYPES, EddystoneTlm, EddystoneEncryptedTlm)
            )
            kinds["rejection" if isinstance(result, Rejection) else result.kind] += 1
    # Phones and PCs: Apple Continuity and Microsoft CDP adverts are reported as "other".
    assert kinds["other"] == len(adverts)


def test_capture_apple_and_microsoft_adverts_are_counted_as_other(
    adverts: list[CapturedAdvert],
) -> None:
    """Apple (0x004C) and Microsoft (0x0006) adverts come out as "other" with their company ids."""
    companies: Counter[int] = Counter()
    for advert in adverts:
        (other,) = [
            r
            for r in decode_advertisement(manufacturer_data=advert.manufacturer_data)
            if isinstance(r, OtherAdvertisement)
        ]
        companies.update(other.company_ids)
    assert companies[0x004C] > 2000
    assert companies[0x0006] > 500


def test_our_ad_splitter_agrees_with_scapy_on_every_clean_pdu(
    adverts: list[CapturedAdvert],
) -> None:
    """Where scapy splits a PDU cleanly, parse_ad_structures gives the very same fields."""
    compared = 0
    for advert in adverts:
        ours = parse_ad_structures(advert.ad_bytes)
        if not advert.scapy_clean or ours.malformed:
            continue
        compared += 1
        assert ours.manufacturer_data == advert.manufacturer_data
        assert ours.service_data == advert.service_data
        assert ours.service_uuids == advert.service_uuids
        assert ours.tx_power == advert.tx_power
        assert ours.local_name == advert.local_name
    assert compared > 4500


def test_raw_pdus_including_corrupted_ones_never_raise_or_detect_beacons(
    adverts: list[CapturedAdvert],
) -> None:
    """decode_ad_bytes on every raw PDU, corrupted ones included, returns results and no beacon."""
    malformed = 0
    for advert in adverts:
        results = decode_ad_bytes(advert.ad_bytes)
        assert isinstance(results[-1], OtherAdvertisement)
        assert not any(isinstance(r, BEACON_FRAME_TYPES) for r in results)
        malformed += any(isinstance(r, Rejection) for r in results)
    # the capture's unchecked CRCs let some bit-flipped PDUs through: we must have seen a few
    assert 0 < malformed < len(adverts) // 10
