"""Everything that touches a radio or a file of radio data; produces typed observations.

BLE advertisement decoders and JSON-lines records, Wi-Fi probe requests, pcap replay,
the privacy step (device keys) and sightings. Knows nothing of zones.
"""

from hardware.ble import (
    BEACON_FRAME_TYPES,
    AltBeacon,
    BleFrame,
    DecodeResult,
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
from hardware.ble_jsonl import BleRecord, JsonlError, ble_record_to_json, iter_ble_jsonl
from hardware.capture import CaptureFormatError, DecodeStats, iter_capture, iter_probe_requests
from hardware.privacy import DeviceKeyer, PrivacyConfigError
from hardware.sightings import BeaconFrame, sighting_from_ble, sighting_from_probe
from hardware.wifi import (
    ProbeRequest,
    WifiRejection,
    WifiRejectReason,
    decode_frame,
    decode_probe_request,
)

__all__ = [
    "BEACON_FRAME_TYPES",
    "AltBeacon",
    "BeaconFrame",
    "BleFrame",
    "BleRecord",
    "CaptureFormatError",
    "DecodeResult",
    "DecodeStats",
    "DeviceKeyer",
    "EddystoneEid",
    "EddystoneEncryptedTlm",
    "EddystoneTlm",
    "EddystoneUid",
    "EddystoneUrl",
    "IBeacon",
    "JsonlError",
    "OtherAdvertisement",
    "PrivacyConfigError",
    "ProbeRequest",
    "RejectReason",
    "Rejection",
    "WifiRejectReason",
    "WifiRejection",
    "ble_record_to_json",
    "decode_ad_bytes",
    "decode_advertisement",
    "decode_eddystone",
    "decode_frame",
    "decode_probe_request",
    "iter_ble_jsonl",
    "iter_capture",
    "iter_probe_requests",
    "parse_ad_structures",
    "sighting_from_ble",
    "sighting_from_probe",
]
