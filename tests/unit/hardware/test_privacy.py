"""Device keys: format, stability, daily rotation, infrastructure names, and no raw MAC leaks."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
from datetime import UTC, datetime

import pytest

from hardware import DeviceKeyer, PrivacyConfigError, ProbeRequest, sighting_from_probe
from hardware.ble import decode_advertisement
from hardware.capture import iter_probe_requests
from hardware.observations import IdClass, Sighting, SignalKind
from hardware.privacy import is_randomized_mac, normalize_mac
from hardware.sightings import sighting_from_ble
from tests.conftest import TEST_DATA, shared_data

SECRET = b"site-secret-for-tests-0123456789"
KEY_RE = re.compile(r"dk1_[a-z2-7]{16}")
GLOBAL_MAC = "00:1a:2b:3c:4d:5e"
RANDOM_MAC = "da:a1:19:22:33:44"
NOON_S = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
LAST_SECOND_S = datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC).timestamp()
MIDNIGHT_S = datetime(2026, 11, 24, 0, 0, 0, tzinfo=UTC).timestamp()

# An iBeacon advertisement payload (Apple company id stripped): type 0x02, length 0x15,
# proximity UUID, major 1, minor 2, measured power -59 dBm.
IBEACON_UUID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"
IBEACON_DATA = bytes.fromhex("0215" + IBEACON_UUID.replace("-", "") + "0001" + "0002" + "c5")


def _expected_key(key: bytes, message: bytes) -> str:
    digest = hmac.new(key, message, hashlib.sha256).digest()[:10]
    return "dk1_" + base64.b32encode(digest).decode().lower()


def test_short_or_non_bytes_secret_is_refused() -> None:
    """A secret under 16 bytes, or a str, fails with a message naming the field and the size."""
    with pytest.raises(
        PrivacyConfigError, match=r"'site_secret' must be at least 16 bytes \(got 5\)"
    ):
        DeviceKeyer(b"short")
    with pytest.raises(PrivacyConfigError, match="must be bytes"):
        DeviceKeyer("a string secret of enough length")  # type: ignore[arg-type]


def test_global_mac_key_matches_the_documented_construction() -> None:
    """A global MAC's key is dk1_ + base32 of HMAC(site secret, 'wifi:' + hex digits)[:80 bits]."""
    keyer = DeviceKeyer(SECRET)
    key, id_class = keyer.key_wifi(GLOBAL_MAC, NOON_S)
    assert id_class is IdClass.WIFI_GLOBAL
    assert KEY_RE.fullmatch(key)
    assert key == _expected_key(SECRET, b"wifi:001a2b3c4d5e")


def test_randomized_mac_key_uses_the_day_key() -> None:
    """A randomized MAC is keyed with HMAC(site secret, 'wifi-rand:' + UTC date)."""
    keyer = DeviceKeyer(SECRET)
    key, id_class = keyer.key_wifi(RANDOM_MAC, NOON_S)
    day_key = hmac.new(SECRET, b"wifi-rand:2026-11-23", hashlib.sha256).digest()
    assert id_class is IdClass.WIFI_RANDOMIZED
    assert key == _expected_key(day_key, b"wifi:daa119223344")


def test_mac_spelling_does_not_change_the_key() -> None:
    """Colon, dash, dotted, bare, upper and lower case spellings of a MAC give one key."""
    keyer = DeviceKeyer(SECRET)
    spellings = ["00:1a:2b:3c:4d:5e", "00-1A-2B-3C-4D-5E", "001a.2b3c.4d5e", "001A2B3C4D5E"]
    assert len({keyer.key_wifi(mac, NOON_S)[0] for mac in spellings}) == 1
    with pytest.raises(ValueError, match="'mac' must be a 48-bit MAC") as info:
        keyer.key_wifi("00:1a:2b:3c:4d", NOON_S)
    assert "1a:2b" not in str(info.value)  # a near-miss MAC is not echoed into errors/logs


def test_randomized_keys_rotate_at_utc_midnight_and_global_keys_do_not() -> None:
    """The randomized key is the same all day and changes at 00:00 UTC; the global one never."""
    keyer = DeviceKeyer(SECRET)
    morning = keyer.key_wifi(RANDOM_MAC, NOON_S - 6 * 3600)[0]
    assert keyer.key_wifi(RANDOM_MAC, LAST_SECOND_S)[0] == morning
    assert keyer.key_wifi(RANDOM_MAC, MIDNIGHT_S)[0] != morning
    assert keyer.key_wifi(GLOBAL_MAC, NOON_S)[0] == keyer.key_wifi(GLOBAL_MAC, MIDNIGHT_S)[0]


def test_day_key_cache_gives_the_same_keys_after_eviction() -> None:
    """Keys for a day are reproducible after many other days pushed it out of the cache."""
    keyer = DeviceKeyer(SECRET)
    first = keyer.key_wifi(RANDOM_MAC, NOON_S)[0]
    for day in range(1, 30):
        keyer.key_wifi(RANDOM_MAC, NOON_S + day * 86_400)
    assert keyer.key_wifi(RANDOM_MAC, NOON_S)[0] == first


def test_another_site_secret_gives_unrelated_keys() -> None:
    """The same MAC and beacon get different keys under another site's secret."""
    one, other = DeviceKeyer(SECRET), DeviceKeyer(SECRET[::-1])
    assert one.key_wifi(GLOBAL_MAC, NOON_S) != other.key_wifi(GLOBAL_MAC, NOON_S)
    assert one.key_beacon("abc") != other.key_beacon("abc")
    assert one.key_fingerprint("0011") != other.key_fingerprint("0011")


def test_infrastructure_beacons_are_named_and_others_keyed() -> None:
    """A configured beacon id (any case) maps to its clear name; others are personal keys."""
    keyer = DeviceKeyer(SECRET, {"E2C56DB5-DFFB-48D2-B060-D0F5A71096E0:1:2": "ref-entrance"})
    assert keyer.key_beacon(f"{IBEACON_UUID}:1:2") == (
        "ref-entrance",
        IdClass.INFRASTRUCTURE_BEACON,
    )
    key, id_class = keyer.key_beacon(f"{IBEACON_UUID}:1:3")
    assert id_class is IdClass.PERSONAL_BEACON
    assert key == _expected_key(SECRET, f"beacon:{IBEACON_UUID}:1:3".encode())
    with pytest.raises(PrivacyConfigError, match="must not start with 'dk1_'"):
        DeviceKeyer(SECRET, {"x": "dk1_fake"})
    with pytest.raises(PrivacyConfigError, match="must not be empty"):
        DeviceKeyer(SECRET, {"x": " "})


def test_keyer_repr_hides_the_secret() -> None:
    """repr(DeviceKeyer) shows neither the secret nor the beacon ids."""
    text = repr(DeviceKeyer(SECRET, {"beacon-1": "ref"}))
    assert "site-secret" not in text
    assert "beacon-1" not in text


def test_mac_helpers() -> None:
    """normalize_mac gives 12 lower-case hex digits; the LA bit marks randomized MACs."""
    assert normalize_mac(" AA-BB-CC-DD-EE-FF ") == "aabbccddeeff"
    assert is_randomized_mac("da:a1:19:22:33:44")
    assert not is_randomized_mac("00:1a:2b:3c:4d:5e")


def test_ble_beacon_becomes_a_keyed_sighting_and_other_adverts_none() -> None:
    """An iBeacon frame becomes a keyed BLE sighting with its 1 m power; other adverts give None."""
    keyer = DeviceKeyer(SECRET)
    frames = decode_advertisement(manufacturer_data={0x004C: IBEACON_DATA})
    sightings = [
        sighting_from_ble(frame, ts_s=NOON_S, rssi_dbm=-70, sensor_id="s1", keyer=keyer)
        for frame in frames
    ]
    (sighting,) = [s for s in sightings if s is not None]
    assert sighting.signal is SignalKind.BLE
    assert sighting.id_class is IdClass.PERSONAL_BEACON
    assert sighting.tx_power_dbm == -59.0
    assert sighting.rssi_dbm == -70.0
    assert IBEACON_UUID.replace("-", "") not in repr(sighting).replace("-", "")
    named = DeviceKeyer(SECRET, {f"iBeacon:{IBEACON_UUID.upper()}:1:2": "ref-door"})
    (frame,) = frames
    store_beacon = sighting_from_ble(frame, ts_s=NOON_S, rssi_dbm=None, sensor_id="s1", keyer=named)
    assert store_beacon is not None
    assert (store_beacon.device_key, store_beacon.id_class) == (
        "ref-door",
        IdClass.INFRASTRUCTURE_BEACON,
    )
    assert store_beacon.rssi_dbm is None
    (other,) = decode_advertisement(manufacturer_data={0x0006: b"\x01\x09\x20"})
    assert sighting_from_ble(other, ts_s=NOON_S, rssi_dbm=-70, sensor_id="s1", keyer=keyer) is None


def _mac_forms(mac: str) -> set[str]:
    """Every textual form a MAC could leak in: colon, dash, dot, bare; upper and lower case."""
    digits = normalize_mac(mac)
    pairs = [digits[i : i + 2] for i in range(0, 12, 2)]
    forms = {
        ":".join(pairs),
        "-".join(pairs),
        digits,
        ".".join((digits[0:4], digits[4:8], digits[8:12])),
    }
    return {form for text in forms for form in (text, text.upper())}


def _sighting_text(sighting: Sighting) -> str:
    fields = dataclasses.asdict(sighting)
    return repr(sighting) + " " + " ".join(str(value) for value in fields.values())


def test_no_raw_mac_survives_into_sightings_of_a_real_capture() -> None:
    """For every probe of real captures, no form of its MAC appears in its Sighting."""
    paths = [
        TEST_DATA / "wifi" / "handmade_radiotap.pcap",
        shared_data("wifi-probe-devices-baccichet", "PCAP", "iPhone11-B_anonymized.pcap"),
        shared_data(
            "wifi-probe-macrand-vigo",
            "WiresharkCaptures",
            "Huawei",
            "Filtered",
            "01_HuaweiTablet_01_filtered.pcapng",
        ),
    ]
    keyer = DeviceKeyer(SECRET)
    all_forms: set[str] = set()
    texts: list[str] = []
    checked = 0
    for path in paths:
        for probe in iter_probe_requests(path):
            if not isinstance(probe, ProbeRequest):
                continue
            sighting = sighting_from_probe(probe, "entrance-a", keyer)
            text = _sighting_text(sighting)
            assert not any(form in text for form in _mac_forms(probe.mac)), probe.seq_num
            # (short SSIDs could occur inside a key by chance; real ones are longer than 5)
            assert probe.ssid is None or len(probe.ssid) < 6 or probe.ssid not in text
            all_forms |= _mac_forms(probe.mac)
            texts.append(text)
            checked += 1
    # and no MAC of any frame appears in any other frame's sighting either
    joined = "\n".join(texts)
    assert not [form for form in all_forms if form in joined]
    assert checked > 2000
