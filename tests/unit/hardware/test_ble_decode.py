"""BLE decoders against the format specs: field values, units, lengths and rejections."""

from __future__ import annotations

import struct
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware import (
    AltBeacon,
    EddystoneEid,
    EddystoneEncryptedTlm,
    EddystoneTlm,
    EddystoneUid,
    EddystoneUrl,
    IBeacon,
    OtherAdvertisement,
    Rejection,
    RejectReason,
    decode_ad_bytes,
    decode_advertisement,
    decode_eddystone,
    parse_ad_structures,
)
from hardware.ble import APPLE_COMPANY_ID, EDDYSTONE_UUID16, normalize_uuid

PROXIMITY_UUID = UUID("e2c56db5-dffb-48d2-b060-d0f5a71096e0")
NAMESPACE = bytes.fromhex("8b0ca750095477cb3e77")  # the UID spec's elided-UUID example
INSTANCE = bytes.fromhex("0000000000ab")


def _ibeacon(major: int = 1, minor: int = 2, power: int = -59) -> bytes:
    return struct.pack(">BB16sHHb", 0x02, 0x15, PROXIMITY_UUID.bytes, major, minor, power)


def _altbeacon(reference_rssi: int = -65, reserved: int = 0x7F) -> bytes:
    return b"\xbe\xac" + bytes(range(20)) + struct.pack(">bB", reference_rssi, reserved)


def _tlm(vbatt_mv: int, temp_raw: int, adv_count: int, sec_count: int) -> bytes:
    return struct.pack(">BBHHII", 0x20, 0x00, vbatt_mv, temp_raw, adv_count, sec_count)


def _only(results: tuple[object, ...]) -> object:
    assert len(results) == 1, results
    return results[0]


def test_ibeacon_fields_and_beacon_id() -> None:
    """An iBeacon yields uuid, big-endian major/minor, signed measured power and a stable id."""
    frame = _only(
        decode_advertisement(manufacturer_data={APPLE_COMPANY_ID: _ibeacon(0x0102, 0xFFFF, -59)})
    )
    assert frame == IBeacon(uuid=PROXIMITY_UUID, major=258, minor=65535, measured_power=-59)
    assert isinstance(frame, IBeacon)
    assert frame.beacon_id == f"ibeacon:{PROXIMITY_UUID}:258:65535"
    assert frame.tx_power_1m_dbm == -59


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_ibeacon()[:-1], RejectReason.TRUNCATED),
        (_ibeacon() + b"\x00", RejectReason.BAD_LENGTH),
        (b"\x02\x16" + _ibeacon()[2:], RejectReason.BAD_LENGTH),
        (b"\x02", RejectReason.TRUNCATED),
    ],
    ids=["short", "long", "wrong-length-byte", "type-only"],
)
def test_ibeacon_wrong_lengths_are_rejected_and_device_is_other(
    data: bytes, reason: RejectReason
) -> None:
    """A broken iBeacon is a typed rejection, and the advert still counts as an 'other' device."""
    rejection, other = decode_advertisement(manufacturer_data={APPLE_COMPANY_ID: data})
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.frame) == (reason, "ibeacon")
    assert other == OtherAdvertisement(company_ids=(APPLE_COMPANY_ID,))


def test_apple_continuity_is_not_an_ibeacon() -> None:
    """Apple manufacturer data of another type (0x10 Nearby Info) is an 'other' advert."""
    results = decode_advertisement(
        manufacturer_data={APPLE_COMPANY_ID: bytes.fromhex("1006441dbb042818")}
    )
    assert results == (OtherAdvertisement(company_ids=(APPLE_COMPANY_ID,)),)


def test_altbeacon_fields_under_any_company_id() -> None:
    """AltBeacon is recognised by its 0xBEAC code whatever the company id, fields per spec."""
    frame = _only(decode_advertisement(manufacturer_data={0x0059: _altbeacon(-65, 0x7F)}))
    assert frame == AltBeacon(
        id_bytes=bytes(range(20)), reference_rssi=-65, mfg_reserved=0x7F, manufacturer_id=0x0059
    )
    assert isinstance(frame, AltBeacon)
    assert frame.beacon_id == "altbeacon:" + bytes(range(20)).hex()
    assert frame.tx_power_1m_dbm == -65


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_altbeacon()[:-1], RejectReason.TRUNCATED),
        (_altbeacon() + b"\x00", RejectReason.BAD_LENGTH),
    ],
)
def test_altbeacon_wrong_lengths_are_rejected(data: bytes, reason: RejectReason) -> None:
    """An AltBeacon body other than 24 bytes is rejected with the length reason."""
    rejection = decode_advertisement(manufacturer_data={0x0118: data})[0]
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.frame) == (reason, "altbeacon")


@pytest.mark.parametrize("rfu", [b"", b"\x00\x00"], ids=["18-bytes", "20-bytes"])
def test_eddystone_uid_with_or_without_rfu_bytes(rfu: bytes) -> None:
    """UID decodes with and without the two RFU bytes; 1 m power is the 0 m power minus 41 dB."""
    frame = decode_eddystone(b"\x00\xee" + NAMESPACE + INSTANCE + rfu)
    assert frame == EddystoneUid(namespace=NAMESPACE, instance=INSTANCE, ranging_power_0m=-18)
    assert isinstance(frame, EddystoneUid)
    assert frame.beacon_id == "eddystone-uid:8b0ca750095477cb3e77:0000000000ab"
    assert frame.tx_power_1m_dbm == -18 - 41


@pytest.mark.parametrize("size", [1, 2, 17, 19, 21, 30])
def test_eddystone_uid_other_lengths_are_rejected(size: int) -> None:
    """A UID frame that is neither 18 nor 20 bytes is truncated (shorter) or bad_length."""
    frame = decode_eddystone((b"\x00\xee" + NAMESPACE + INSTANCE + bytes(12))[:size])
    assert isinstance(frame, Rejection)
    assert frame.frame == "eddystone-uid"
    assert frame.reason is (RejectReason.TRUNCATED if size < 18 else RejectReason.BAD_LENGTH)


def test_eddystone_url_positive_power_and_every_expansion_code() -> None:
    """URL frames expand the scheme and all 14 codes; 0x12 ranging power is +18 dBm."""
    frame = decode_eddystone(b"\x10\x12\x03a" + bytes(range(14)))
    assert frame == EddystoneUrl(
        url="https://a.com/.org/.edu/.net/.info/.biz/.gov/.com.org.edu.net.info.biz.gov",
        ranging_power_0m=18,
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x10\x00\x04abc", RejectReason.BAD_URL_SCHEME),
        (b"\x10\x00\x02ab c", RejectReason.BAD_URL_CHARACTER),
        (b"\x10\x00\x02ab\x0e", RejectReason.BAD_URL_CHARACTER),
        (b"\x10\x00\x02ab\x7f", RejectReason.BAD_URL_CHARACTER),
        (b"\x10\x00\x02ab\xff", RejectReason.BAD_URL_CHARACTER),
        (b"\x10\x00", RejectReason.TRUNCATED),
        (b"\x10\x00\x02" + b"a" * 18, RejectReason.BAD_LENGTH),
    ],
    ids=["scheme-4", "space", "reserved-0e", "del", "ff", "no-scheme", "18-url-bytes"],
)
def test_eddystone_url_rejections(data: bytes, reason: RejectReason) -> None:
    """Reserved scheme and URL bytes and impossible lengths are rejected with their reason."""
    frame = decode_eddystone(data)
    assert isinstance(frame, Rejection)
    assert (frame.reason, frame.frame) == (reason, "eddystone-url")


def test_eddystone_url_scheme_only_is_a_bare_scheme() -> None:
    """A URL frame with zero encoded bytes (allowed: length 0-17) expands to just the scheme."""
    assert decode_eddystone(b"\x10\xf6\x02") == EddystoneUrl(url="http://", ranging_power_0m=-10)


@pytest.mark.parametrize(
    ("temp_raw", "celsius"),
    [
        (0x1380, 19.5),
        (0xFF80, -0.5),
        (0x0001, 1 / 256),
        (0x7FFF, 127 + 255 / 256),
        (0x8001, -127 - 255 / 256),
    ],
)
def test_eddystone_tlm_temperature_is_signed_8_8_fixed_point(temp_raw: int, celsius: float) -> None:
    """TLM temperature is signed 8.8 fixed point in degC."""
    frame = decode_eddystone(_tlm(3000, temp_raw, 1, 1))
    assert isinstance(frame, EddystoneTlm)
    assert frame.temperature_c == celsius


def test_eddystone_tlm_counters_units_and_unsupported_sensors() -> None:
    """ADV_CNT is a plain count, SEC_CNT tenths of a second; 0 mV and 0x8000 are 'unsupported'."""
    frame = decode_eddystone(_tlm(0, 0x8000, 0xFFFFFFFF, 36_000))
    assert frame == EddystoneTlm(
        battery_mv=None, temperature_c=None, adv_count=4_294_967_295, uptime_s=3600.0
    )


@pytest.mark.parametrize("size", [1, 2, 13, 15])
def test_eddystone_tlm_wrong_lengths_are_rejected(size: int) -> None:
    """A plain TLM must be exactly 14 bytes."""
    frame = decode_eddystone(_tlm(3000, 0x1000, 1, 1).ljust(15, b"\x00")[:size])
    assert isinstance(frame, Rejection)
    assert frame.reason is (RejectReason.TRUNCATED if size < 14 else RejectReason.BAD_LENGTH)


def test_encrypted_tlm_is_recognised_and_kept_opaque() -> None:
    """Version 0x01 is the encrypted TLM: 12 ciphertext bytes, big-endian salt and MIC."""
    frame = decode_eddystone(b"\x20\x01" + bytes(range(12)) + b"\x12\x34\xab\xcd")
    assert frame == EddystoneEncryptedTlm(etlm=bytes(range(12)), salt=0x1234, mic=0xABCD)
    short = decode_eddystone(b"\x20\x01" + bytes(12))
    assert isinstance(short, Rejection)
    assert (short.reason, short.frame) == (RejectReason.TRUNCATED, "eddystone-etlm")


def test_unknown_tlm_version_and_frame_type_are_rejected() -> None:
    """TLM version 0x02 and frame type 0x40 are typed rejections, not guesses."""
    version = decode_eddystone(_tlm(1, 1, 1, 1)[:1] + b"\x02" + bytes(12))
    frame_type = decode_eddystone(b"\x40\x00" + bytes(8))
    assert isinstance(version, Rejection)
    assert version.reason is RejectReason.UNKNOWN_VERSION
    assert isinstance(frame_type, Rejection)
    assert frame_type.reason is RejectReason.UNKNOWN_FRAME_TYPE
    empty = decode_eddystone(b"")
    assert isinstance(empty, Rejection)
    assert empty.reason is RejectReason.TRUNCATED


def test_eddystone_eid_fields_and_lengths() -> None:
    """EID carries 8 ephemeral bytes and ranging power; 9 or 11 bytes are rejected."""
    eid = bytes.fromhex("7dd8169dae94258c")
    frame = decode_eddystone(b"\x30\xe3" + eid)
    assert frame == EddystoneEid(eid=eid, ranging_power_0m=-29)
    assert isinstance(frame, EddystoneEid)
    assert frame.beacon_id == "eddystone-eid:7dd8169dae94258c"
    assert frame.tx_power_1m_dbm == -70
    for data in (b"\x30\xe3" + eid[:7], b"\x30\xe3" + eid + b"\x00"):
        assert isinstance(decode_eddystone(data), Rejection)


@pytest.mark.parametrize("key", [EDDYSTONE_UUID16, EDDYSTONE_UUID16.upper(), "feaa", "0xFEAA"])
def test_eddystone_service_data_key_spellings(key: str) -> None:
    """The Eddystone UUID is matched in bleak's 128-bit form, any case, or the 16-bit short form."""
    frame = _only(decode_advertisement(service_data={key: b"\x30\xe3" + bytes(8)}))
    assert isinstance(frame, EddystoneEid)


def test_advert_with_ibeacon_and_eddystone_yields_both_frames_in_order() -> None:
    """Manufacturer-data frames come first, then service-data frames, no 'other' entry."""
    results = decode_advertisement(
        manufacturer_data={APPLE_COMPANY_ID: _ibeacon()},
        service_data={EDDYSTONE_UUID16: _tlm(3000, 0x1400, 10, 20)},
        local_name="beacon",
    )
    assert [type(r) for r in results] == [IBeacon, EddystoneTlm]


def test_advert_without_beacon_is_summarised_as_other() -> None:
    """An advert with no beacon frame yields exactly one OtherAdvertisement with its summary."""
    results = decode_advertisement(
        manufacturer_data={0x0006: b"\x01\x09\x20", 0x004C: b"\x10\x05"},
        service_data={"0000fe9f-0000-1000-8000-00805f9b34fb": b"\x00"},
        service_uuids=["FE9F"],
        tx_power=-7,
        local_name="kbd",
    )
    assert results == (
        OtherAdvertisement(
            company_ids=(0x0006, 0x004C),
            service_data_uuids=("0000fe9f-0000-1000-8000-00805f9b34fb",),
            service_uuids=("0000fe9f-0000-1000-8000-00805f9b34fb",),
            tx_power_dbm=-7,
            local_name="kbd",
        ),
    )
    assert decode_advertisement() == (OtherAdvertisement(),)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"manufacturer_data": [1, 2]},
        {"manufacturer_data": {"76": b"\x02\x15"}},
        {"manufacturer_data": {0x10000: b""}},
        {"manufacturer_data": {-1: b""}},
        {"manufacturer_data": {True: b""}},
        {"manufacturer_data": {76: "0215"}},
        {"service_data": {0xFEAA: b"\x00"}},
        {"service_data": {EDDYSTONE_UUID16: None}},
        {"service_data": "feaa"},
        {"service_uuids": "feaa"},
        {"tx_power": "4"},
        {"tx_power": 4.5},
        {"local_name": b"name"},
    ],
)
def test_wrongly_typed_fields_are_invalid_input_not_exceptions(kwargs: dict[str, object]) -> None:
    """Wrong types from a careless caller give an invalid_input rejection, never an exception."""
    results = decode_advertisement(**kwargs)  # type: ignore[arg-type]
    reasons = [r.reason for r in results if isinstance(r, Rejection)]
    assert reasons == [RejectReason.INVALID_INPUT]
    assert isinstance(results[-1], OtherAdvertisement)


def test_bytearray_and_memoryview_payloads_are_accepted() -> None:
    """Payloads as bytearray or memoryview decode like bytes."""
    expected = decode_advertisement(manufacturer_data={APPLE_COMPANY_ID: _ibeacon()})
    assert isinstance(expected[0], IBeacon)
    for payload in (bytearray(_ibeacon()), memoryview(_ibeacon())):
        mapping: dict[int, object] = {APPLE_COMPANY_ID: payload}
        assert decode_advertisement(manufacturer_data=mapping) == expected  # type: ignore[arg-type]


def test_ad_splitter_maps_every_uuid_width_as_bleak_does() -> None:
    """16-, 32- and 128-bit UUIDs (little-endian on air) become bleak's 128-bit strings."""
    uuid128 = UUID("1fee6acf-a826-4e37-9635-4d8a01642c5d")
    raw = (
        b"\x05\x03\xaa\xfe\x0f\x18"  # complete 16-bit list: FEAA, 180F
        + b"\x05\x05\x78\x56\x34\x12"  # complete 32-bit list: 12345678
        + b"\x11\x07"
        + uuid128.bytes[::-1]
        + b"\x07\x20\x78\x56\x34\x12\xaa\xbb"  # 32-bit service data
        + b"\x13\x21"
        + uuid128.bytes[::-1]
        + b"\x01\x02"  # 128-bit service data
        + b"\x04\x08abc\x05\x09abcd"  # short name, then complete name
        + b"\x02\x0a\xf4"  # tx power -12
    )
    fields = parse_ad_structures(raw)
    assert fields.service_uuids == [
        "0000feaa-0000-1000-8000-00805f9b34fb",
        "0000180f-0000-1000-8000-00805f9b34fb",
        "12345678-0000-1000-8000-00805f9b34fb",
        str(uuid128),
    ]
    assert fields.service_data == {
        "12345678-0000-1000-8000-00805f9b34fb": b"\xaa\xbb",
        str(uuid128): b"\x01\x02",
    }
    assert (fields.local_name, fields.tx_power, fields.malformed) == ("abcd", -12, False)


@pytest.mark.parametrize(
    "raw",
    [b"\x05\xff\x4c", b"\x01\xff", b"\x02\x16\xaa", b"\x03\x03\xaa", b"\x03\x0a\x01\x02"],
    ids=["overrun", "mfr-no-company", "svc-short-uuid", "uuid-list-odd", "txpower-2-bytes"],
)
def test_ad_splitter_flags_malformed_structures(raw: bytes) -> None:
    """Structures that overrun or are too short for their type set malformed and are dropped."""
    results = decode_ad_bytes(raw)
    assert parse_ad_structures(raw).malformed
    assert isinstance(results[0], Rejection)
    assert results[0].reason is RejectReason.MALFORMED_AD


def test_ad_splitter_stops_at_zero_length_padding() -> None:
    """A zero length byte ends the data (trailing zero padding is not malformed)."""
    fields = parse_ad_structures(b"\x02\x01\x06\x00\x00\x00\x05\xff")
    assert not fields.malformed


def test_normalize_uuid_forms() -> None:
    """Short and upper-case UUIDs widen to bleak's lower-case 128-bit strings; others pass."""
    assert normalize_uuid("FEAA") == EDDYSTONE_UUID16
    assert normalize_uuid("0x12345678") == "12345678-0000-1000-8000-00805f9b34fb"
    assert normalize_uuid("not-a-uuid") == "not-a-uuid"


def test_radbeacon_scan_record_keeps_name_and_tx_power() -> None:
    """The RadBeacon USB record (android-beacon-library) splits into its name and TX power too."""
    raw = bytes.fromhex(
        "02011a1bff1801beac2f234454cf6d4a0fadf2f4911ba9ffa600050003be02"
        "0e09526164426561636f6e20555342020a0300000000000000000000000000"
    )
    fields = parse_ad_structures(raw)
    assert (fields.local_name, fields.tx_power, fields.malformed) == ("RadBeacon USB", 3, False)
    assert list(fields.manufacturer_data) == [0x0118]


def _be(value: int, size: int, *, signed: bool = False) -> bytes:
    return value.to_bytes(size, "big", signed=signed)


@settings(max_examples=200, deadline=None)
@given(st.uuids(), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(-128, 127))
def test_any_ibeacon_fields_round_trip(uuid: UUID, major: int, minor: int, power: int) -> None:
    """Bytes built field by field from the layout table decode back to the same fields."""
    data = b"\x02\x15" + uuid.bytes + _be(major, 2) + _be(minor, 2) + _be(power, 1, signed=True)
    assert decode_advertisement(manufacturer_data={APPLE_COMPANY_ID: data}) == (
        IBeacon(uuid=uuid, major=major, minor=minor, measured_power=power),
    )


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=20, max_size=20),
    st.integers(-128, 127),
    st.integers(0, 255),
    st.integers(0, 0xFFFF),
)
def test_any_altbeacon_fields_round_trip(
    beacon_id: bytes, rssi: int, reserved: int, company: int
) -> None:
    """AltBeacon bytes built from the spec's field table decode back to the same fields."""
    data = b"\xbe\xac" + beacon_id + _be(rssi, 1, signed=True) + _be(reserved, 1)
    results = decode_advertisement(manufacturer_data={company: data})
    assert results == (AltBeacon(beacon_id, rssi, reserved, company),)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=10, max_size=10),
    st.binary(min_size=6, max_size=6),
    st.binary(min_size=8, max_size=8),
    st.integers(-128, 127),
)
def test_any_uid_and_eid_fields_round_trip(
    namespace: bytes, instance: bytes, eid: bytes, power: int
) -> None:
    """UID and EID frames built from their tables decode back; 1 m power is always 0 m - 41."""
    uid = decode_eddystone(b"\x00" + _be(power, 1, signed=True) + namespace + instance + b"\0\0")
    assert uid == EddystoneUid(namespace, instance, power)
    assert isinstance(uid, EddystoneUid)
    assert uid.tx_power_1m_dbm == power - 41
    assert decode_eddystone(b"\x30" + _be(power, 1, signed=True) + eid) == EddystoneEid(eid, power)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 0xFFFF),
    st.integers(-0x7FFF, 0x7FFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
)
def test_any_tlm_fields_round_trip(vbatt: int, temp_raw: int, adv: int, sec: int) -> None:
    """TLM fields built from the table decode back: mV as is, 8.8 degC, 0.1 s ticks."""
    data = b"\x20\x00" + _be(vbatt, 2) + _be(temp_raw, 2, signed=True) + _be(adv, 4) + _be(sec, 4)
    assert decode_eddystone(data) == EddystoneTlm(vbatt, temp_raw / 256, adv, sec / 10)
