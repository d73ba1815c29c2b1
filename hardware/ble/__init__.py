"""BLE advertisement decoders: iBeacon, AltBeacon, Eddystone UID/URL/TLM/eTLM/EID.

Pure functions over the fields bleak's ``AdvertisementData`` carries; no bleak
import. One module per format (``ibeacon``, ``altbeacon``, ``eddystone``), the AD
structure splitter for raw captures (``ad``) and the dispatcher (``decode``).
"""

from __future__ import annotations

from hardware.ble._common import Rejection, RejectReason
from hardware.ble.ad import AdvertisementFields, parse_ad_structures
from hardware.ble.altbeacon import ALTBEACON_CODE, AltBeacon, decode_altbeacon
from hardware.ble.decode import (
    BEACON_FRAME_TYPES,
    BleFrame,
    DecodeResult,
    OtherAdvertisement,
    decode_ad_bytes,
    decode_advertisement,
    normalize_uuid,
)
from hardware.ble.eddystone import (
    EDDYSTONE_UUID16,
    LOSS_0M_TO_1M_DB,
    EddystoneEid,
    EddystoneEncryptedTlm,
    EddystoneTlm,
    EddystoneUid,
    EddystoneUrl,
    decode_eddystone,
    expand_eddystone_url,
)
from hardware.ble.ibeacon import APPLE_COMPANY_ID, IBeacon, decode_ibeacon

__all__ = [
    "ALTBEACON_CODE",
    "APPLE_COMPANY_ID",
    "BEACON_FRAME_TYPES",
    "EDDYSTONE_UUID16",
    "LOSS_0M_TO_1M_DB",
    "AdvertisementFields",
    "AltBeacon",
    "BleFrame",
    "DecodeResult",
    "EddystoneEid",
    "EddystoneEncryptedTlm",
    "EddystoneTlm",
    "EddystoneUid",
    "EddystoneUrl",
    "IBeacon",
    "OtherAdvertisement",
    "RejectReason",
    "Rejection",
    "decode_ad_bytes",
    "decode_advertisement",
    "decode_altbeacon",
    "decode_eddystone",
    "decode_ibeacon",
    "expand_eddystone_url",
    "normalize_uuid",
    "parse_ad_structures",
]
