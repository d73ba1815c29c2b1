"""Privacy at the source: raw identifiers in, keyed device keys out (DESIGN.md, "Identifiers").

A device key is ``dk1_`` followed by the lower-case base32 of an HMAC-SHA256,
truncated to 80 bits (16 characters, no padding)::

    global Wi-Fi MAC        HMAC(site_secret, "wifi:"   + 12 hex digits of the MAC)
    personal beacon         HMAC(site_secret, "beacon:" + beacon id, lower-cased)
    randomized Wi-Fi MAC    HMAC(day_key,     "wifi:"   + 12 hex digits of the MAC)
                            day_key = HMAC(site_secret, "wifi-rand:" + UTC date "YYYY-MM-DD")
    infrastructure beacon   its configured name, in clear (the store's own hardware)

Without the site secret nobody can go from a key back to a MAC or test a guess,
and the same phone gets unrelated keys in two stores. Keys of randomized MACs
change at 00:00 UTC, so even the (already short-lived) random address cannot be
followed from one day to the next. The probe-request fingerprint is keyed too
(``fp1_``, site key): equal within a site, unlinkable across sites.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from hardware.observations import IdClass

DEVICE_KEY_PREFIX: Final = "dk1_"
FINGERPRINT_KEY_PREFIX: Final = "fp1_"
DEVICE_KEY_BITS: Final = 80
# Birthday bound: with n distinct identifiers under one key, P(any collision) ~ n^2 / 2^(bits+1).
# A busy store sees far below n = 10^7 distinct devices per key period (a year of global MACs
# and beacons; a day for randomized MACs): 10^14 / 2^81 ~ 4e-11. 80 bits is also a multiple
# of 5, so the base32 text is exactly 16 characters with no padding.
_DEVICE_KEY_BYTES: Final = DEVICE_KEY_BITS // 8
MIN_SECRET_BYTES: Final = 16
"""Shortest site secret accepted: 128 bits, so the keys cannot be brute-forced from MACs."""
_DAY_KEY_CACHE_SIZE: Final = 8  # replays may straddle a few days; live agents use one or two

_MAC_HEX_RE: Final = re.compile(r"[0-9a-f]{12}")
_MAC_SEPARATORS: Final = str.maketrans("", "", ":-.")


class PrivacyConfigError(ValueError):
    """The keyer was configured wrongly (short secret, bad infrastructure table)."""


def normalize_mac(mac: str) -> str:
    """The 12 lower-case hex digits of a MAC in colon, dash, dot or bare form.

    Raises ``ValueError`` naming the field when it is not a 48-bit MAC.
    """
    digits = mac.strip().lower().translate(_MAC_SEPARATORS)
    if not _MAC_HEX_RE.fullmatch(digits):
        # the value itself is not echoed: a near-miss of a real MAC is still an identifier
        raise ValueError(
            "'mac' must be a 48-bit MAC address like aa:bb:cc:dd:ee:ff "
            f"(got {len(digits)} characters after removing separators)"
        )
    return digits


def is_randomized_mac(mac: str) -> bool:
    """True when the locally administered bit (0x02 of the first octet) is set."""
    return bool(int(normalize_mac(mac)[:2], 16) & 0x02)


def normalize_beacon_id(beacon_id: str) -> str:
    """Beacon ids compare case-insensitively and without surrounding spaces."""
    return beacon_id.strip().lower()


class DeviceKeyer:
    """Turns raw identifiers into device keys with one site's secret.

    ``infrastructure`` maps the beacon ids of the store's own reference and
    calibration beacons to the names they may be shown under in clear.
    """

    __slots__ = ("_day_keys", "_infrastructure", "_site_secret")

    def __init__(self, site_secret: bytes, infrastructure: Mapping[str, str] | None = None) -> None:
        if not isinstance(site_secret, bytes):
            raise PrivacyConfigError(
                f"'site_secret' must be bytes (got {type(site_secret).__name__})"
            )
        if len(site_secret) < MIN_SECRET_BYTES:
            raise PrivacyConfigError(
                f"'site_secret' must be at least {MIN_SECRET_BYTES} bytes "
                f"(got {len(site_secret)}); generate one with: python -c "
                "'import secrets; print(secrets.token_urlsafe(32))'"
            )
        self._site_secret = site_secret
        table: dict[str, str] = {}
        for beacon_id, name in (infrastructure or {}).items():
            if not name.strip():
                raise PrivacyConfigError(
                    f"'infrastructure' name for beacon {beacon_id!r} must not be empty"
                )
            if name.startswith(DEVICE_KEY_PREFIX):
                raise PrivacyConfigError(
                    f"'infrastructure' name must not start with {DEVICE_KEY_PREFIX!r} "
                    f"(got {name!r})"
                )
            table[normalize_beacon_id(beacon_id)] = name.strip()
        self._infrastructure = table
        self._day_keys: OrderedDict[str, bytes] = OrderedDict()

    def __repr__(self) -> str:
        return f"DeviceKeyer(<secret>, infrastructure={len(self._infrastructure)} beacons)"

    def key_wifi(self, mac: str, ts_s: float) -> tuple[str, IdClass]:
        """Device key and class of a Wi-Fi MAC seen at ``ts_s`` (UTC POSIX seconds).

        A locally administered (randomized) MAC is keyed with the key of the UTC day of
        ``ts_s``; a global MAC with the site key, so it is stable across days.
        """
        digits = normalize_mac(mac)
        message = b"wifi:" + digits.encode("ascii")
        if int(digits[:2], 16) & 0x02:
            return _device_key(self._day_key(ts_s), message), IdClass.WIFI_RANDOMIZED
        return _device_key(self._site_secret, message), IdClass.WIFI_GLOBAL

    def key_beacon(self, beacon_id: str) -> tuple[str, IdClass]:
        """The configured name of an infrastructure beacon, else a personal beacon's key."""
        normalized = normalize_beacon_id(beacon_id)
        if not normalized:
            raise ValueError("'beacon_id' must not be empty")
        name = self._infrastructure.get(normalized)
        if name is not None:
            return name, IdClass.INFRASTRUCTURE_BEACON
        message = b"beacon:" + normalized.encode("utf-8")
        return _device_key(self._site_secret, message), IdClass.PERSONAL_BEACON

    def key_fingerprint(self, ie_fingerprint: str) -> str:
        """A site-keyed form of a probe request's IE fingerprint (``fp1_...``)."""
        digest = hmac.new(
            self._site_secret, b"ie:" + ie_fingerprint.encode("ascii"), hashlib.sha256
        ).digest()
        return FINGERPRINT_KEY_PREFIX + _b32(digest[:_DEVICE_KEY_BYTES])

    def _day_key(self, ts_s: float) -> bytes:
        day = datetime.fromtimestamp(ts_s, tz=UTC).date().isoformat()
        key = self._day_keys.get(day)
        if key is None:
            key = hmac.new(
                self._site_secret, b"wifi-rand:" + day.encode("ascii"), hashlib.sha256
            ).digest()
            self._day_keys[day] = key
            if len(self._day_keys) > _DAY_KEY_CACHE_SIZE:
                self._day_keys.popitem(last=False)
        else:
            self._day_keys.move_to_end(day)
        return key


def _device_key(key: bytes, message: bytes) -> str:
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return DEVICE_KEY_PREFIX + _b32(digest[:_DEVICE_KEY_BYTES])


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")
